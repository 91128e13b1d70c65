"""One reminder settled by hand: done, declined, cancelled, unreachable, postponed, due again."""

from __future__ import annotations

import uuid
from datetime import date

from sqlmodel import Session

from carehub.errors import InputError, NotFoundError
from carehub.prevention.models import CLOSED_STATES, REMINDER_STATES, Reminder
from carehub.prevention.reminder_rows import log_reminder_changes
from carehub.timeutil import utcnow
from carehub.users.access import require_patient_access


def close_reminder(session: Session, *, reminder_id: uuid.UUID, state: str, actor: str,
                   on: date | None = None, until: date | None = None) -> None:
    """Settle one reminder by hand: done (on the act's date), declined, cancelled,
    unreachable, postponed until a date, or due again (reopen a postponed/planned one)."""
    row = session.get(Reminder, reminder_id)
    if row is None:
        raise NotFoundError(f"No reminder {reminder_id}.", "Rappel introuvable.")
    require_patient_access(session, patient_id=row.patient_id, purpose="reminder")
    if state not in REMINDER_STATES or state == "planned":
        raise InputError(f"Cannot set a reminder to {state!r} here; one of done, declined, "
                         "cancelled, unreachable, postponed, due (plan a call-back to plan).",
                         f"État impossible « {state} » pour un rappel.")
    if row.state in CLOSED_STATES:
        raise InputError(f"Reminder {reminder_id} is already {row.state}; nothing changed.",
                         "Ce rappel est déjà clos ; rien n'a été modifié.")
    today = date.today()
    if state == "done" and on is not None and on > today:
        raise InputError("The act's date cannot be in the future.",
                         "La date de l'acte ne peut pas être dans le futur.")
    if state == "postponed" and (until is None or until <= today):
        raise InputError("Postpone until a day after today (--until).",
                         "Reporter à une date postérieure à aujourd'hui.")
    from_state = row.state
    row.state = state
    if state in CLOSED_STATES:
        row.closed_on = on or today
        row.planned_at = None
    elif state == "postponed":
        row.postponed_until, row.planned_at = until, None
    elif state == "due":
        row.postponed_until, row.planned_at = None, None
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    log_reminder_changes(session, actor, [(row, "update", {"from_state": from_state})])
