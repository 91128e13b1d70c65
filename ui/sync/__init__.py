"""The team hub in the app: sync settings and status, merge conflicts, the FHIR export dialog."""
