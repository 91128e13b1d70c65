"""Outbox of local changes, sync with the team hub (PostgreSQL), delivery status."""
