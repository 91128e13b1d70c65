"""Widgets shared by the screens: the patients table model, the patient panel, its timeline."""
