"""Stored reminders (table `reminder`): one reason to contact a patient, with its life cycle.

due -> planned (a call booked at a date and time) -> done / declined / unreachable /
postponed (until a date) / cancelled. Every transition is audited and queued for the hub
(entity "reminder"). Rows are never deleted: a settled reminder stays as history, and the
next cycle of a rule is a new row.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from carehub.timeutil import utcnow

ReminderState = Literal["due", "planned", "done", "declined", "unreachable", "postponed",
                        "cancelled"]
REMINDER_STATES: tuple[ReminderState, ...] = (
    "due", "planned", "done", "declined", "unreachable", "postponed", "cancelled")
OPEN_STATES: tuple[ReminderState, ...] = ("due", "planned", "postponed", "unreachable")
CLOSED_STATES: tuple[ReminderState, ...] = ("done", "declined", "cancelled")
STATE_LABELS_FR: dict[str, str] = {
    "due": "À faire", "planned": "Appel planifié", "done": "Fait", "declined": "Refusé",
    "unreachable": "Injoignable", "postponed": "Reporté", "cancelled": "Annulé",
}
ESCALATION_LABELS_FR: dict[str, str] = {
    "caregiver": "Appeler l'aidant ou la personne de confiance",
    "gp": "Alerter le médecin traitant",
    "home_visit": "Proposer une visite à domicile",
}


class Reminder(SQLModel, table=True):
    __tablename__ = "reminder"
    __table_args__ = (
        Index("ix_reminder_patient_reason", "patient_id", "reason", "state"),
        Index("ix_reminder_state_due", "state", "due_date"),
        # Every column the call list's order reads, so it never reads a reminder's row.
        Index("ix_reminder_call_list", "patient_id", "state", "due_date", "planned_at",
              "postponed_until", "escalation", "points", "reason"),
        # The overdue reminders of the supervisor's figures, per patient (migration 0012).
        Index("ix_reminder_overdue", "patient_id", "due_date", "state", "closed_on",
              "postponed_until"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    patient_id: uuid.UUID = Field(foreign_key="patient.id")
    reason: str = Field(max_length=64)  # reason code (DOMAIN.md §1) or "campaign.<slug>"
    label_fr: str | None = Field(default=None, max_length=200)  # campaigns' own label
    due_date: date
    state: str = Field(default="due", max_length=12)
    planned_at: datetime | None = None  # UTC
    postponed_until: date | None = None
    attempts: int = 0  # unreachable attempts (no answer, voicemail) in this cycle
    escalation: str | None = Field(default=None, max_length=12)  # caregiver, gp, home_visit
    explanation_fr: str = Field(default="", max_length=400)
    points: int = 0  # the rule's own priority points when computed (base + "first" bonus)
    last_done: date | None = None  # the act this cycle follows from (None: never done)
    campaign_id: uuid.UUID | None = Field(default=None, index=True)
    note: str | None = None
    closed_on: date | None = None  # the act's date (done) or the day it was settled
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


DEFAULT_CALLS_PER_DAY = 30
DEFAULT_WORKING_DAYS = "mon,tue,wed,thu,fri"


class PlanCapacity(SQLModel, table=True):
    """A care manager's capacity for the contact plan: calls per working day and her
    working days ("mon,tue,..."); `built_on` is the day her plan was last rebuilt for."""

    __tablename__ = "plan_capacity"

    user_id: uuid.UUID = Field(foreign_key="app_user.id", primary_key=True)
    per_day: int = DEFAULT_CALLS_PER_DAY
    days: str = Field(default=DEFAULT_WORKING_DAYS, max_length=40)
    built_on: date | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class PlanAssignment(SQLModel, table=True):
    """The day a patient is planned on in her care manager's contact plan (one per patient
    and plan). Kept from one rebuild to the next so that placements do not reshuffle:
    `state` open (to call) or done (contacted or settled that day, still counted in that
    day's load); `urgent` placed on its day whatever the capacity (a call-back, an
    escalation, a discharge, a deadline); `pinned` moved there by hand; `carried_from` the
    day it was first planned on when it was carried over."""

    __tablename__ = "plan_assignment"
    __table_args__ = (Index("ix_plan_day", "user_id", "day", "patient_id"),)

    user_id: uuid.UUID = Field(foreign_key="app_user.id", primary_key=True)
    patient_id: uuid.UUID = Field(foreign_key="patient.id", primary_key=True)
    day: date
    state: str = Field(default="open", max_length=8)
    urgent: bool = False
    pinned: bool = False
    carried_from: date | None = None
    rank: int = 0  # placement order inside the day (the order it was filled in)
