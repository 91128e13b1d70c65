"""Call-backs booked at a date and time, and those due now (for notifications)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from carehub.caseload.models import Patient
from carehub.caseload.services import get_patient
from carehub.coordination.services import as_utc
from carehub.prevention.calllist import call_list_items
from carehub.prevention.engine import fr_date
from carehub.prevention.models import Reminder
from carehub.prevention.priority import user_id
from carehub.prevention.reminder_rows import CALLBACK, log_reminder_changes, open_reminders
from carehub.prevention.rules import RuleSet, load_rules
from carehub.prevention.types import CallListItem, day_bounds, local
from carehub.timeutil import utcnow
from carehub.users.access import require_caseload_access, require_patient_access


def due_callbacks(session: Session, *, user: str, now: datetime, within: timedelta,
                  rules: RuleSet | None = None) -> list[CallListItem]:
    """Patients with a planned call-back from now to `now + within` (or missed earlier
    today and still planned), as call-list lines, earliest first (for notifications)."""
    require_caseload_access(session, owner=user, purpose="call-backs")
    ruleset = rules or load_rules()
    manager = user_id(session, user)
    if manager is None:
        return []
    moment = as_utc(now)
    today = local(moment).date()
    first, _ = day_bounds(today)
    wanted = list(session.execute(
        sa_select(col(Reminder.patient_id)).join(Patient, col(Patient.id) == Reminder.patient_id)
        .where(col(Patient.care_manager_id) == manager, col(Patient.status) == "active",
               col(Patient.deceased_date).is_(None), col(Reminder.reason) == CALLBACK,
               col(Reminder.state) == "planned", col(Reminder.planned_at) >= first,
               col(Reminder.planned_at) <= moment + within)).scalars())
    if not wanted:
        return []
    horizon = local(moment + within)
    items = call_list_items(session, user=user, as_of=horizon.date(), now=horizon,
                            patient_ids=wanted, rules=ruleset)
    items = [i for i in items if i.planned_at is not None]
    return sorted(items, key=lambda i: (i.planned_at or moment, i.name))


def plan_callback(session: Session, *, patient_id: uuid.UUID, at: datetime, actor: str,
                  note: str | None = None, _from_call: uuid.UUID | None = None) -> uuid.UUID:
    """Book a call at a date and time: a call-back reminder (planned), and the patient's
    other open reminders planned for the same call. Returns the call-back reminder's id."""
    get_patient(session, patient_id=patient_id)
    require_patient_access(session, patient_id=patient_id, purpose="call-back")
    moment = as_utc(at)
    when = local(moment)
    explanation = f"rappel prévu le {fr_date(when.date())} à {when:%H:%M}"
    if note:
        explanation += f" : {note}"
    explanation = explanation[:400]
    now = utcnow()
    changed: list[tuple[Reminder, str, dict[str, Any]]] = []
    rows = open_reminders(session, patient_id)
    callback = next((r for r in rows if r.reason == CALLBACK), None)
    details: dict[str, Any] = {"planned_at": moment.isoformat()}
    if _from_call:
        details["action_id"] = str(_from_call)
    if callback is None:
        callback = Reminder(patient_id=patient_id, reason=CALLBACK, due_date=when.date(),
                            state="planned", planned_at=moment, explanation_fr=explanation,
                            note=note, created_at=now, updated_at=now)
        session.add(callback)
        session.flush()
        changed.append((callback, "create", details))
    for row in rows:
        if row.state in ("due", "planned", "unreachable") or row is callback:
            from_state = row.state
            row.state, row.planned_at, row.updated_at = "planned", moment, now
            if row is callback:
                row.due_date, row.explanation_fr, row.note = when.date(), explanation, note
            changed.append((row, "update", {**details, "from_state": from_state}))
    session.flush()
    log_reminder_changes(session, actor, changed)
    return callback.id
