"""Coordination actions: what a care manager did for a patient (append-only).

A correction is a new action that amends an earlier one (`amends_id`); nothing is ever
updated in place or deleted, so the team's shared record can never disagree about history.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import JSON, Column, Index, text
from sqlmodel import Field, SQLModel

from carehub.timeutil import utcnow

ActionType = Literal["call", "sms", "referral", "appointment", "message", "document",
                     "meeting", "discharge_followup", "orientation"]
ACTION_TYPES: tuple[ActionType, ...] = (
    "call", "sms", "referral", "appointment", "message", "document", "meeting",
    "discharge_followup", "orientation",
)
ACTION_TYPE_LABELS_FR: dict[str, str] = {
    "call": "Appel", "sms": "SMS", "referral": "Orientation vers un professionnel",
    "appointment": "Rendez-vous", "message": "Messagerie sécurisée",
    "document": "Document (dossier partagé)", "meeting": "Réunion de concertation",
    "discharge_followup": "Suivi de sortie d'hospitalisation",
    "orientation": "Orientation sociale / France Services",
}


class CoordinationAction(SQLModel, table=True):
    __tablename__ = "coordination_action"
    __table_args__ = (
        Index("ix_action_patient_at", "patient_id", "at"),
        Index("ix_action_author_at", "author", "at"),
        # The supervisor's figures read these alone (migration 0012): a period's actions
        # by author and type, the calls per week, and whether an action was corrected.
        Index("ix_action_period", "at", "author", "type", "outcome", "duration_s", "id"),
        Index("ix_action_calls", "type", "at", "author", "outcome", "id"),
        Index("ix_action_amends", "amends_id", sqlite_where=text("amends_id IS NOT NULL")),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    patient_id: uuid.UUID = Field(foreign_key="patient.id")
    type: str = Field(max_length=20)
    at: datetime  # when it happened (UTC), which may be long before it was entered
    author: str = Field(max_length=64)  # the care manager's user name
    duration_s: int | None = None
    outcome: str | None = Field(default=None, max_length=24)  # reached, no_answer, ...
    note: str | None = None
    practitioner_id: str | None = Field(default=None, max_length=12)  # IDNPS
    practitioner_name: str | None = Field(default=None, max_length=200)
    organisation: str | None = Field(default=None, max_length=200)
    reminder_id: uuid.UUID | None = Field(default=None, index=True)
    amends_id: uuid.UUID | None = Field(default=None, foreign_key="coordination_action.id")
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    recorded_at: datetime = Field(default_factory=utcnow)
