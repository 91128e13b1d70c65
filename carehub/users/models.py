"""Care managers, supervisors and administrators of the workstation; who covers for whom;
the break-the-glass grants that open a patient outside one's caseload."""
from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from sqlmodel import Field, SQLModel

from carehub.timeutil import utcnow

Role = Literal["care_manager", "supervisor", "administrator"]
ROLES: tuple[Role, ...] = ("care_manager", "supervisor", "administrator")
ROLE_LABELS_FR = {"care_manager": "IDE coordinatrice", "supervisor": "Encadrante",
                  "administrator": "Administrateur"}


class User(SQLModel, table=True):
    __tablename__ = "app_user"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(unique=True, index=True, max_length=64)
    display_name: str = Field(default="", max_length=128)
    role: str = Field(default="care_manager", max_length=16)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)
    # argon2id hash (PHC string); None: no password, the OS account is the sign-in.
    password_hash: str | None = Field(default=None, max_length=255)
    password_changed_at: datetime | None = None


class Coverage(SQLModel, table=True):
    """`user` covers for `covered_user`'s whole caseload, or for one patient, from `starts_on`
    to `ends_on` inclusive. Ended early by setting `ended_at` (never deleted)."""

    __tablename__ = "coverage"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="app_user.id", index=True)
    covered_user_id: uuid.UUID | None = Field(default=None, foreign_key="app_user.id")
    patient_id: uuid.UUID | None = Field(default=None, foreign_key="patient.id")
    starts_on: date
    ends_on: date
    reason: str | None = Field(default=None, max_length=200)
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    ended_at: datetime | None = None


class AccessGrant(SQLModel, table=True):
    """Break the glass: `user` opened `patient` outside her caseload, for `reason`,
    valid until `expires_at`."""

    __tablename__ = "access_grant"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="app_user.id", index=True)
    patient_id: uuid.UUID = Field(foreign_key="patient.id", index=True)
    reason: str = Field(max_length=500)
    at: datetime = Field(default_factory=utcnow, index=True)
    expires_at: datetime
