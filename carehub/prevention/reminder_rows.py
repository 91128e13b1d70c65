"""Reminder rows written in bulk, a patient's open ones, and the audit + hub queue of each change.

Every reminder change is audited and queued for the hub (entity "reminder") through
carehub.changes.log_changes, in the caller's transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, insert, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from carehub.changes import log_changes
from carehub.coordination.audit import Change
from carehub.coordination.services import stored_utc
from carehub.prevention.models import OPEN_STATES, Reminder

# Reasons that do not follow from facts: a booked call-back, a call campaign's calls.
CALLBACK = "followup.callback"
CAMPAIGN_PREFIX = "campaign."
REMINDER_TABLE = Reminder.__table__  # type: ignore[attr-defined]


def _payload(r: Any) -> dict[str, Any]:
    return {
        "id": str(r.id), "patient_id": str(r.patient_id), "reason": r.reason,
        "label_fr": r.label_fr, "due_date": r.due_date.isoformat(), "state": r.state,
        "planned_at": stored_utc(r.planned_at).isoformat() if r.planned_at else None,
        "postponed_until": r.postponed_until.isoformat() if r.postponed_until else None,
        "attempts": r.attempts, "escalation": r.escalation,
        "explanation_fr": r.explanation_fr, "points": r.points,
        "last_done": r.last_done.isoformat() if r.last_done else None,
        "campaign_id": str(r.campaign_id) if r.campaign_id else None, "note": r.note,
        "closed_on": r.closed_on.isoformat() if r.closed_on else None,
    }


def log_reminder_changes(session: Session, actor: str,
                         changed: Iterable[tuple[Any, str, dict[str, Any]]]) -> None:
    """Audit + outbox for reminders changed: (row, "create"/"update", details)."""
    rows = list(changed)
    if not rows:
        return
    changes, payloads = [], []
    for reminder, action, details in rows:
        payload = _payload(reminder)
        changes.append(Change(actor, "reminder", str(reminder.id), action,
                              {**details, "reason": reminder.reason, "state": reminder.state,
                               "patient_id": str(reminder.patient_id)}))
        payloads.append(payload)
    log_changes(session, changes, payloads)


def open_reminders(session: Session, patient_id: uuid.UUID) -> list[Reminder]:
    return list(session.execute(
        sa_select(Reminder).where(col(Reminder.patient_id) == patient_id,
                                  col(Reminder.state).in_(OPEN_STATES))
        .order_by(col(Reminder.due_date), col(Reminder.reason))).scalars())


@dataclass
class StoredReminder:
    """A reminder row as recompute reads and writes it (Core rows: no ORM objects for the
    hundreds of thousands of reminders of a team)."""

    id: uuid.UUID
    patient_id: uuid.UUID
    reason: str
    due_date: date
    state: str
    explanation_fr: str
    points: int
    last_done: date | None
    postponed_until: date | None = None
    closed_on: date | None = None
    attempts: int = 0
    escalation: str | None = None
    label_fr: str | None = None
    planned_at: datetime | None = None
    campaign_id: uuid.UUID | None = None
    note: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


_UPDATED_FIELDS = ("state", "due_date", "explanation_fr", "points", "last_done", "closed_on",
                   "postponed_until", "attempts", "escalation", "updated_at")


def write_reminders(session: Session, new_rows: Sequence[Any],
                    updated: Sequence[StoredReminder]) -> None:
    """New rows and changed ones by Core executemany (tens of thousands at once); ORM
    objects of those reminders the session may hold are expired, to be read again."""
    session.flush()
    if new_rows:
        session.execute(insert(Reminder), [
            {"id": r.id, "patient_id": r.patient_id, "reason": r.reason, "label_fr": r.label_fr,
             "due_date": r.due_date, "state": r.state, "planned_at": r.planned_at,
             "postponed_until": r.postponed_until, "attempts": r.attempts,
             "escalation": r.escalation, "explanation_fr": r.explanation_fr,
             "points": r.points, "last_done": r.last_done, "campaign_id": r.campaign_id,
             "note": r.note, "closed_on": r.closed_on, "created_at": r.created_at,
             "updated_at": r.updated_at} for r in new_rows])
    if updated:
        session.connection().execute(
            update(REMINDER_TABLE).where(REMINDER_TABLE.c.id == bindparam("rid")),
            [{"rid": r.id, **{f: getattr(r, f) for f in _UPDATED_FIELDS}} for r in updated])
        held = {r.id for r in updated}
        for obj in list(session.identity_map.values()):
            if isinstance(obj, Reminder) and obj.id in held:
                session.expire(obj)
