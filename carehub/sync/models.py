"""Local sync state: the clock, each hub's cursor and last result, per-field clocks,
conflicts read from the hub, and exports of actions to the shared record."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel


class SyncMeta(SQLModel, table=True):
    """Small key/value facts of this workstation: its node id, the last clock issued."""

    __tablename__ = "sync_meta"

    key: str = Field(primary_key=True, max_length=32)
    value: str = Field(max_length=200)


class SyncHub(SQLModel, table=True):
    """One hub this workstation syncs with: where its pull stopped, how the last sync went."""

    __tablename__ = "sync_hub"

    hub: str = Field(primary_key=True, max_length=300)  # the URL without any password
    cursor: int = 0
    last_attempt_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    last_error_fr: str | None = None


class FieldClock(SQLModel, table=True):
    """The clock of the value a field holds here, as last pushed or pulled."""

    __tablename__ = "sync_field_clock"

    entity: str = Field(primary_key=True, max_length=32)
    entity_id: str = Field(primary_key=True, max_length=64)
    field: str = Field(primary_key=True, max_length=64)
    hlc: str = Field(max_length=64)
    by: str = Field(default="", max_length=64)


class SyncConflict(SQLModel, table=True):
    """A value overwritten at the hub by a later one, kept for a user to review."""

    __tablename__ = "sync_conflict"

    id: uuid.UUID = Field(primary_key=True)
    patient_id: uuid.UUID = Field(index=True)
    entity: str = Field(max_length=32)
    entity_id: str = Field(max_length=64)
    field: str = Field(max_length=64)
    kept_value: Any = Field(default=None, sa_column=Column(JSON))
    overwritten_value: Any = Field(default=None, sa_column=Column(JSON))
    kept_hlc: str = Field(max_length=64)
    overwritten_hlc: str | None = Field(default=None, max_length=64)
    kept_from: str = Field(max_length=64)
    overwritten_from: str = Field(max_length=64)
    at: datetime
    resolved_at: datetime | None = None
    resolved_by: str | None = Field(default=None, max_length=64)
    resolution: str | None = Field(default=None, max_length=12)  # kept, overwritten


class ActionExport(SQLModel, table=True):
    """An action written to the shared record (FHIR export or push)."""

    __tablename__ = "sync_action_export"

    action_id: uuid.UUID = Field(primary_key=True)
    target: str = Field(primary_key=True, max_length=300)
    exported_at: datetime
