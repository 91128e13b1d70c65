"""The caseload screen: search and filters, the caseload table, the patient panel, the patient
form, the patient's actions and the action form."""
