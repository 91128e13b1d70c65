"""Practitioner directory and geodata (communes)."""
