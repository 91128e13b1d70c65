"""The stored call queue stays right: after each kind of change (an outcome, a recompute, an
import, an edit of her record, a sync, a new day, other rules) the call list read from it
is the list of a queue built afresh from the database, and the change shows in it."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import date, datetime, time

from sqlalchemy import text
from sqlmodel import Session

from carehub.caseload.models import Patient
from carehub.caseload.services import flag_phone_for_check, set_care_manager
from carehub.db import Database
from carehub.prevention.rules import RuleSet, load_rules
from carehub.prevention.services import (
    call_list,
    call_order,
    recompute_reminders,
    record_call_outcome,
)
from carehub.sync.apply import PageApplier
from carehub.sync.hub import Page
from tests.prevention_helpers import STAY, add_fact, add_patient

D = date.fromisoformat
AS_OF = D("2026-11-23")
NOW = datetime(2026, 11, 23, 9, 0)


def _at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, 23, hour, minute)


def _read(s: Session, *, user: str, as_of: date, now: datetime, rules: RuleSet | None
          ) -> tuple[list[uuid.UUID], list[int], list[date], list[uuid.UUID]]:
    order = call_order(s, user=user, as_of=as_of, now=now, rules=rules, plan=False)
    lines = [i.patient_id for i in call_list(s, user=user, as_of=as_of, now=now, rules=rules,
                                             plan=False)]
    return list(order.patient_ids), order.priorities, order.due_dates, lines


def _order(db: Database, *, user: str = "nurse", as_of: date = AS_OF, now: datetime = NOW,
           rules: RuleSet | None = None) -> list[uuid.UUID]:
    """The list read from the queue as it was kept, checked against a queue built afresh
    (then thrown away: the kept one goes on being kept)."""
    with db.transaction() as s:
        kept = _read(s, user=user, as_of=as_of, now=now, rules=rules)
    with db.transaction() as s:
        s.connection().execute(text("DELETE FROM call_queue"))
        s.connection().execute(text("DELETE FROM call_queue_state"))
        afresh = _read(s, user=user, as_of=as_of, now=now, rules=rules)
        s.rollback()
    assert kept == afresh
    assert kept[0] == kept[3]  # the order and the lines agree
    return kept[0]


def _priority(db: Database, patient_id: uuid.UUID) -> int:
    with db.session() as s:
        order = call_order(s, user="nurse", as_of=AS_OF, now=NOW, plan=False)
        return order.priorities[order.patient_ids.index(patient_id)]


def _caseload(db: Database) -> dict[str, uuid.UUID]:
    with db.transaction() as s:
        ids = {
            "old": add_patient(s, "Ancien", born=D("1935-02-01"), fragility=1),
            "frail": add_patient(s, "Fragile", born=D("1950-03-01"), fragility=3),
            "young": add_patient(s, "Jeune", born=D("1960-04-01"), fragility=0),
            "late": add_patient(s, "Tard", born=D("1948-05-01"), fragility=2,
                                call_after=time(14)),
            "other": add_patient(s, "Autre", born=D("1945-06-01"), manager="colleague"),
        }
        recompute_reminders(s, as_of=AS_OF, actor="nurse")
    return ids


def test_outcomes_take_the_patient_off_or_bring_her_back_at_her_hour(db: Database) -> None:
    ids = _caseload(db)
    before = _order(db)
    assert ids["frail"] in before and ids["other"] not in before
    with db.transaction() as s:
        record_call_outcome(s, patient_id=ids["frail"], outcome="reached", actor="nurse",
                            at=_at(8, 30))
    assert ids["frail"] not in _order(db)
    with db.transaction() as s:
        record_call_outcome(s, patient_id=ids["young"], outcome="callback", actor="nurse",
                            at=_at(8, 40), callback_at=_at(11))
    assert _order(db, now=_at(10))[-2:] == [ids["young"], ids["late"]]  # waits for 11:00
    assert _order(db, now=_at(11, 5))[0] == ids["young"]  # her hour has come: first
    with db.transaction() as s:
        record_call_outcome(s, patient_id=ids["old"], outcome="no_answer", actor="nurse",
                            at=_at(8, 50))
    _order(db, now=_at(11, 5))


def test_a_stay_imported_and_a_recompute_raise_her_priority(db: Database) -> None:
    ids = _caseload(db)
    _order(db)
    before = _priority(db, ids["young"])
    with db.transaction() as s:
        add_fact(s, ids["young"], "encounter", STAY, start=D("2026-11-15"),
                 end=D("2026-11-22"), status="finished")
    _order(db)
    # The stay counts at once; the discharge call comes with the next recompute.
    assert _priority(db, ids["young"]) == before + load_rules().priority.recent_stay
    with db.transaction() as s:
        recompute_reminders(s, as_of=AS_OF, actor="nurse")
    assert _order(db)[0] == ids["young"]


def test_edits_of_her_record_and_phones_move_her(db: Database) -> None:
    ids = _caseload(db)
    assert _order(db)[0] != ids["young"]
    with db.transaction() as s:
        young = s.get(Patient, ids["young"])
        assert young is not None
        young.fragility_level, young.birth_date = 3, D("1930-01-01")
        s.add(young)
    assert _order(db)[0] == ids["young"]
    with db.transaction() as s:
        flag_phone_for_check(s, patient_id=ids["late"], actor="nurse")
    with db.session() as s:
        [late] = [i for i in call_list(s, user="nurse", as_of=AS_OF, now=NOW, plan=False)
                  if i.patient_id == ids["late"]]
        assert late.channel != "phone" and late.available_from is None
    assert _order(db)[-1] != ids["late"]  # no longer waiting for 14:00: no call to make
    with db.transaction() as s:
        set_care_manager(s, patient_id=ids["old"], care_manager="colleague", actor="nurse")
    assert ids["old"] not in _order(db)
    assert set(_order(db, user="colleague")) == {ids["old"], ids["other"]}
    with db.transaction() as s:
        set_care_manager(s, patient_id=ids["old"], care_manager="nurse", actor="nurse")
        frail = s.get(Patient, ids["frail"])
        assert frail is not None
        frail.status = "paused"
        s.add(frail)
    assert ids["old"] in _order(db) and ids["frail"] not in _order(db)
    assert _order(db, user="colleague") == [ids["other"]]


def test_a_sync_brings_a_colleague_call_and_a_changed_record(db: Database) -> None:
    ids = _caseload(db)
    assert ids["frail"] in _order(db)
    page = Page(after=0, upto=1, patients=[{
        "id": ids["young"], "fields": {"fragility_level": 3, "birth_date": "1930-01-01"},
        "clocks": {"fragility_level": {"hlc": "9999999999999-0000-hub", "by": "hub"},
                   "birth_date": {"hlc": "9999999999999-0000-hub", "by": "hub"}}}],
        actions=[{"id": uuid.uuid4(), "patient_id": ids["frail"], "payload": {
            "type": "call", "at": "2026-11-23T07:45:00+00:00", "author": "colleague",
            "outcome": "reached", "details": {}}}])
    with db.transaction() as s:
        counts = PageApplier(s, actor="sync", hub="hub").apply(page)
        assert counts.patients == 1 and counts.actions == 1
    after = _order(db)
    assert ids["frail"] not in after and after[0] == ids["young"]


def test_a_new_day_and_other_rules_rebuild_the_list(db: Database) -> None:
    ids = _caseload(db)
    today = _order(db)
    tomorrow = _order(db, as_of=D("2026-11-24"), now=datetime(2026, 11, 24, 9))
    assert set(tomorrow) == set(today)
    rules = load_rules()
    heavy_fragility = dataclasses.replace(
        rules, priority=dataclasses.replace(rules.priority, per_fragility_level=1000))
    with db.session() as s:
        order = call_order(s, user="nurse", as_of=AS_OF, now=NOW, rules=heavy_fragility,
                           plan=False)
        assert order.patient_ids[0] == ids["frail"] and order.priorities[0] > 3000
    _order(db, rules=heavy_fragility)
    assert _order(db) == today  # the usual rules again: the usual list
