"""Patients, their contacts and clinical facts; FHIR import and the demo caseload."""
