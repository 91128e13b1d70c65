"""CareHub's PySide6 desktop application (imports carehub, never the reverse)."""
