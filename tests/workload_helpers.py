"""A small team crafted through the real services, with the figures it must give.

Period: 01/11/2026 - 30/11/2026 (inclusive). Reminders come from the prevention engine
(breast and colorectal screening only, to keep them countable) recomputed on 30/11/2026,
and from a call-back booked by hand.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import date, datetime

from sqlmodel import Session, col, select

from carehub.caseload.models import Patient
from carehub.caseload.services import PatientInput, create_patient
from carehub.coordination.services import record_action
from carehub.db import Database
from carehub.prevention.models import Reminder
from carehub.prevention.rules import load_rules
from carehub.prevention.services import close_reminder, plan_callback, recompute_reminders
from carehub.users.services import ensure_user
from tests.prevention_helpers import COLONOSCOPY, FIT, FLU, MAMMOGRAPHY, add_fact

FROM, TO = date(2026, 11, 1), date(2026, 11, 30)


def _patient(session: Session, manager: str, name: str, sex: str, born: date,
             fragility: int | None, status: str = "active") -> uuid.UUID:
    data = PatientInput(birth_name=name, given_names="Test", sex=sex, birth_date=born,
                        fragility_level=fragility, status=status)
    pid = create_patient(session, data=data, actor=manager, care_manager=manager)
    patient = session.get(Patient, pid)
    assert patient is not None
    patient.registered_on = date(2015, 1, 1)  # followed since then (reasons due since)
    session.flush()
    return pid


def build_team(database: Database) -> dict[str, uuid.UUID]:
    """alice (3 followed patients and a closed one), bob (2), carol (none), sam (supervisor)."""
    with database.transaction() as session:
        for name in ("alice", "bob", "carol"):
            ensure_user(session, name=name)
        ensure_user(session, name="sam", role="supervisor")
        p = {
            "a1": _patient(session, "alice", "Arnaud", "F", date(1956, 3, 1), 2),
            "a2": _patient(session, "alice", "Aubert", "M", date(1970, 5, 5), None),
            "a3": _patient(session, "alice", "Abel", "F", date(1990, 1, 1), 0),
            "a4": _patient(session, "alice", "Ancel", "F", date(1950, 1, 1), 1, "closed"),
            "b1": _patient(session, "bob", "Barre", "F", date(1950, 1, 1), 3),
            "b2": _patient(session, "bob", "Blanc", "F", date(1960, 2, 2), 1),
        }
        add_fact(session, p["a1"], "procedure", MAMMOGRAPHY, start=date(2025, 6, 1))
        add_fact(session, p["a1"], "immunization", FLU, start=date(2026, 10, 20))
        add_fact(session, p["a2"], "observation", FIT, start=date(2025, 1, 10))
        add_fact(session, p["b2"], "procedure", COLONOSCOPY, start=date(2023, 1, 1))
        add_fact(session, p["b2"], "immunization", FLU, start=date(2026, 11, 5))

    full = load_rules()
    screening = dataclasses.replace(full, rules={
        c: full.rules[c] for c in ("screening.breast", "screening.colorectal")})
    with database.transaction() as session:
        recompute_reminders(session, as_of=TO, actor="alice", rules=screening)
        plan_callback(session, patient_id=p["a2"], at=datetime(2026, 11, 20, 10, 0),
                      actor="alice")
    with database.transaction() as session:
        breast = session.exec(select(Reminder).where(
            Reminder.patient_id == p["b2"], Reminder.reason == "screening.breast")).one()
        close_reminder(session, reminder_id=breast.id, state="declined", actor="bob")

    with database.transaction() as session:
        def act(who: str, pid: str, kind: str, at: datetime, **kw: object) -> uuid.UUID:
            return record_action(session, patient_ref=p[pid], action_type=kind, actor=who,
                                 at=at, **kw)  # type: ignore[arg-type]
        act("alice", "a1", "call", datetime(2026, 11, 2, 9, 0), duration_s=240,
            outcome="reached")
        act("alice", "a2", "call", datetime(2026, 11, 3, 9, 0), duration_s=30,
            outcome="no_answer")
        wrong = act("alice", "a3", "call", datetime(2026, 11, 16, 9, 0), duration_s=300,
                    outcome="reached")
        act("alice", "a3", "call", datetime(2026, 11, 16, 9, 0), duration_s=360,
            outcome="reached", amends=wrong)
        act("alice", "a1", "call", datetime(2026, 10, 15, 9, 0), duration_s=100,
            outcome="reached")  # before the period
        act("alice", "a1", "referral", datetime(2026, 11, 10, 14, 0))
        act("alice", "a2", "sms", datetime(2026, 11, 10, 14, 5))
        act("bob", "b1", "call", datetime(2026, 11, 4, 11, 0), outcome="voicemail")
        act("bob", "b2", "call", datetime(2026, 11, 17, 11, 0), duration_s=120,
            outcome="reached")
        act("bob", "b2", "referral", datetime(2026, 11, 30, 23, 30))  # last evening
        act("bob", "b2", "meeting", datetime(2026, 12, 1, 0, 30))  # after the period
    return p


def reminder_ids(database: Database) -> list[uuid.UUID]:
    with database.session() as session:
        return list(session.exec(select(Reminder.id).order_by(col(Reminder.id))))
