"""The caseload screen: the patient form, the patient's actions and the action form."""
