"""Stored reminders brought in line with the facts: the daily (or on-demand) recompute."""

from __future__ import annotations

import time as clock
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import String, or_, type_coerce
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from carehub.caseload.models import Patient
from carehub.coordination.services import stored_utc
from carehub.prevention.engine import DERIVED_KINDS, assess, shift
from carehub.prevention.models import CLOSED_STATES, OPEN_STATES, Reminder
from carehub.prevention.reminder_rows import (
    CALLBACK,
    CAMPAIGN_PREFIX,
    REMINDER_TABLE,
    StoredReminder,
    log_reminder_changes,
    write_reminders,
)
from carehub.prevention.rules import RuleSet, load_rules
from carehub.timeutil import utcnow


@dataclass(frozen=True)
class RecomputeReport:
    as_of: date
    patients: int
    created: int
    updated: int
    done: int  # closed because a new act settled them
    cancelled: int  # no longer apply (aged out, campaign over, patient closed...)
    reopened: int  # postponed until a day now reached
    seconds: float

    def summary(self) -> str:
        return (f"Reminders at {self.as_of.isoformat()} for {self.patients} patients: "
                f"{self.created} created, {self.updated} updated, {self.done} done, "
                f"{self.cancelled} cancelled, {self.reopened} reopened in "
                f"{self.seconds:.1f} s.")


def recompute_reminders(session: Session, *, as_of: date, actor: str,
                        patient_ids: Sequence[uuid.UUID] | None = None,
                        rules: RuleSet | None = None) -> RecomputeReport:
    """Bring the stored reminders in line with the facts at `as_of`.

    New due reasons become reminders (state due); open ones get their new due date and
    explanation; those a new act settled are closed as done (with the act's date), those no
    longer applying (aged out, excluded, campaign over, patient closed) as cancelled;
    postponed ones whose day has come are due again. A settled cycle is not reopened: done
    never, declined or cancelled after `ask_again_after_months`. Campaign and call-back
    reminders are left as they are (they do not follow from facts).
    """
    started = clock.perf_counter()
    ruleset = rules or load_rules()
    found = assess(session, as_of=as_of, rules=ruleset, patient_ids=patient_ids)
    derived = [code for code, rule in ruleset.rules.items() if rule.kind in DERIVED_KINDS]
    ask_again_from = shift(as_of, -ruleset.settings.ask_again_after_months)
    existing = _existing(session, derived, patient_ids)
    now = utcnow()
    new_rows: list[StoredReminder] = []
    changed: list[tuple[Any, str, dict[str, Any]]] = []
    counts = dict.fromkeys(("created", "updated", "done", "cancelled", "reopened"), 0)
    due_keys: set[tuple[uuid.UUID, str]] = set()
    for patient_id, reasons in found.due.items():
        for reason in reasons:
            key = (patient_id, reason.code)
            due_keys.add(key)
            rows = existing.get(key, [])
            open_row = next((r for r in rows if r.state in OPEN_STATES), None)
            if open_row is not None:
                before = {"due_date": open_row.due_date.isoformat(),
                          "explanation_fr": open_row.explanation_fr}
                moved = (open_row.due_date != reason.due_date
                         or open_row.explanation_fr != reason.explanation_fr
                         or open_row.points != reason.points
                         or open_row.last_done != reason.last_done)
                reopened = open_row.state == "postponed" and open_row.postponed_until \
                    is not None and open_row.postponed_until <= as_of
                if not (moved or reopened):
                    continue
                if moved and open_row.due_date != reason.due_date:
                    open_row.attempts, open_row.escalation = 0, None  # a new cycle
                open_row.due_date = reason.due_date
                open_row.explanation_fr = reason.explanation_fr
                open_row.points, open_row.last_done = reason.points, reason.last_done
                details: dict[str, Any] = {"before": before, "by": "recompute"}
                if reopened:
                    details["from_state"] = open_row.state
                    open_row.state, open_row.postponed_until = "due", None
                    counts["reopened"] += 1
                else:
                    counts["updated"] += 1
                open_row.updated_at = now
                changed.append((open_row, "update", details))
                continue
            if any(_settles(r, reason.due_date, ask_again_from) for r in rows):
                continue
            row = StoredReminder(id=uuid.uuid4(), patient_id=patient_id, reason=reason.code,
                          due_date=reason.due_date, state="due",
                          explanation_fr=reason.explanation_fr, points=reason.points,
                          last_done=reason.last_done, created_at=now, updated_at=now)
            new_rows.append(row)
            changed.append((row, "create", {"by": "recompute"}))
            counts["created"] += 1
    in_scope = found.followed if patient_ids is None else set(patient_ids)
    for key, rows in existing.items():
        if key in due_keys:
            continue
        patient_id, code = key
        for row in rows:
            if row.state not in OPEN_STATES:
                continue
            act = found.latest_act.get(key)
            if patient_id in found.followed and act is not None and (
                    row.last_done is None or act > row.last_done):
                row.state, row.closed_on = "done", act
                counts["done"] += 1
                why = "new act recorded"
            elif patient_id in in_scope or patient_id not in found.followed:
                row.state, row.closed_on = "cancelled", as_of
                counts["cancelled"] += 1
                why = "no longer applies" if patient_id in found.followed \
                    else "patient no longer followed"
            else:
                continue
            row.updated_at = now
            changed.append((row, "update", {"by": "recompute", "why": why, "rule": code}))
    _cancel_unfollowed_others(session, found.followed, patient_ids, as_of, now, changed, counts)
    write_reminders(session, new_rows, [c[0] for c in changed
                               if c[1] == "update" and isinstance(c[0], StoredReminder)])
    log_reminder_changes(session, actor, changed)
    return RecomputeReport(as_of=as_of, patients=len(found.followed), seconds=clock.perf_counter()
                           - started, **counts)


def _settles(row: StoredReminder, due_date: date, ask_again_from: date) -> bool:
    """Does this closed reminder settle the cycle due on `due_date`?"""
    if row.due_date != due_date or row.state not in CLOSED_STATES:
        return False
    if row.state == "done":
        return True
    return row.closed_on is None or row.closed_on > ask_again_from


_STORED_FIELDS = ("id", "patient_id", "reason", "due_date", "state", "explanation_fr",
                  "points", "last_done", "postponed_until", "closed_on", "attempts",
                  "escalation", "label_fr", "planned_at", "campaign_id", "note")


def _optional_date(value: str | None) -> date | None:
    return date.fromisoformat(value[:10]) if value else None


def _existing(session: Session, reasons: Sequence[str],
              patient_ids: Sequence[uuid.UUID] | None
              ) -> dict[tuple[uuid.UUID, str], list[StoredReminder]]:
    """Stored reminders of the derived reasons, per (patient, reason): plain rows."""
    found: dict[tuple[uuid.UUID, str], list[StoredReminder]] = defaultdict(list)
    raw = [type_coerce(REMINDER_TABLE.c[name], String()) for name in _STORED_FIELDS]
    base = sa_select(*raw).where(REMINDER_TABLE.c.reason.in_(reasons))
    chunks: list[Any] = [None] if patient_ids is None else [
        list(patient_ids)[i:i + 500] for i in range(0, len(patient_ids), 500)]
    uuids: dict[str, uuid.UUID] = {}
    for chunk in chunks:
        query = base if chunk is None else base.where(REMINDER_TABLE.c.patient_id.in_(chunk))
        for (rid, pid, reason, due, state, text_fr, points, last, until, closed, attempts,
             escalation, label, planned, campaign, note) in session.execute(query):
            patient = uuids.get(pid)
            if patient is None:
                patient = uuids[pid] = uuid.UUID(hex=pid)
            row = StoredReminder(
                id=uuid.UUID(hex=rid), patient_id=patient, reason=reason,
                due_date=date.fromisoformat(due), state=state, explanation_fr=text_fr,
                points=int(points), last_done=_optional_date(last),
                postponed_until=_optional_date(until), closed_on=_optional_date(closed),
                attempts=int(attempts), escalation=escalation, label_fr=label,
                planned_at=stored_utc(datetime.fromisoformat(planned)) if planned else None,
                campaign_id=uuid.UUID(hex=campaign) if campaign else None, note=note)
            found[(patient, reason)].append(row)
    return found


def _cancel_unfollowed_others(session: Session, followed: frozenset[uuid.UUID],
                              patient_ids: Sequence[uuid.UUID] | None, as_of: date,
                              now: datetime, changed: list[tuple[Any, str, dict[str, Any]]],
                              counts: dict[str, int]) -> None:
    """Open call-backs and campaign calls of patients closed or deceased are cancelled."""
    query = (sa_select(Reminder).join(Patient, col(Patient.id) == Reminder.patient_id)
             .where(col(Reminder.state).in_(OPEN_STATES),
                    or_(col(Reminder.reason) == CALLBACK,
                        col(Reminder.reason).startswith(CAMPAIGN_PREFIX)),
                    or_(col(Patient.status).in_(("closed", "deceased")),
                        col(Patient.deceased_date).is_not(None))))
    if patient_ids is not None:
        query = query.where(col(Reminder.patient_id).in_(list(patient_ids)))
    for row in session.execute(query).scalars():
        if row.patient_id in followed:
            continue
        row.state, row.closed_on, row.updated_at = "cancelled", as_of, now
        counts["cancelled"] += 1
        changed.append((row, "update", {"by": "recompute", "why": "patient no longer followed"}))
