"""The caseload screen: the patient table, the patient panel and timeline, the patient forms."""
