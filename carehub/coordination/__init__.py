"""Coordination actions and the tamper-evident audit chain."""
