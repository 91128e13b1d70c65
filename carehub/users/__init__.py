"""Care managers, supervisors and administrators of the workstation."""
