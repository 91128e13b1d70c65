"""Outbox of local changes, and (later) the hub and FHIR export."""
