"""Stored reminders: recompute from the facts, the life cycle, call outcomes, audit and outbox."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta

import pytest
from sqlmodel import Session, col, select

from carehub.caseload.models import PatientPhone
from carehub.coordination.audit import AuditEvent, verify_chain
from carehub.coordination.models import CoordinationAction
from carehub.db import Database
from carehub.errors import InputError
from carehub.prevention.models import Reminder
from carehub.prevention.services import (
    call_list,
    close_reminder,
    create_campaign,
    due_callbacks,
    plan_callback,
    recompute_reminders,
    record_call_outcome,
)
from carehub.sync.outbox import OutboxEntry
from tests.prevention_helpers import MAMMOGRAPHY, STAY, add_fact, add_patient

D = date.fromisoformat
AS_OF = D("2026-11-23")  # a Monday


def _reminders(session: Session, patient_id: uuid.UUID, reason: str | None = None
               ) -> list[Reminder]:
    query = select(Reminder).where(Reminder.patient_id == patient_id)
    if reason:
        query = query.where(Reminder.reason == reason)
    return list(session.exec(query.order_by(col(Reminder.created_at), col(Reminder.due_date))))


def _one(session: Session, patient_id: uuid.UUID, reason: str) -> Reminder:
    [row] = [r for r in _reminders(session, patient_id, reason) if r.state not in (
        "done", "declined", "cancelled")]
    return row


def _woman(session: Session, **kwargs: object) -> uuid.UUID:
    """A 60-year-old woman due for breast screening (mammography two years and a week ago)."""
    patient = add_patient(session, born=D("1966-05-05"), **kwargs)  # type: ignore[arg-type]
    add_fact(session, patient, "procedure", MAMMOGRAPHY, start=D("2024-11-16"))
    return patient


def test_recompute_creates_audited_queued_reminders_once(db: Database) -> None:
    with db.transaction() as s:
        woman = _woman(s)
        report = recompute_reminders(s, as_of=AS_OF, actor="nurse")
        assert report.created == len(_reminders(s, woman)) > 0
        breast = _one(s, woman, "screening.breast")
        assert (breast.state, breast.due_date, breast.last_done) == (
            "due", D("2026-11-16"), D("2024-11-16"))
        events = s.exec(select(AuditEvent).where(AuditEvent.entity_id == str(breast.id))).all()
        queued = s.exec(select(OutboxEntry).where(OutboxEntry.entity_id == str(breast.id))).all()
        assert [(e.entity, e.action) for e in events] == [("reminder", "create")]
        assert [(q.entity, q.op, q.payload["state"]) for q in queued] == [
            ("reminder", "create", "due")]
        again = recompute_reminders(s, as_of=AS_OF, actor="nurse")
        assert (again.created, again.updated, again.done, again.cancelled) == (0, 0, 0, 0)
        assert verify_chain(s).intact


def test_a_new_act_closes_the_reminder_and_the_next_cycle_follows(db: Database) -> None:
    with db.transaction() as s:
        woman = _woman(s)
        recompute_reminders(s, as_of=AS_OF, actor="nurse")
        first = _one(s, woman, "screening.breast")
        add_fact(s, woman, "procedure", MAMMOGRAPHY, start=D("2026-11-20"))  # imported later
        report = recompute_reminders(s, as_of=AS_OF, actor="nurse")
        assert report.done == 1
        s.refresh(first)
        assert (first.state, first.closed_on) == ("done", D("2026-11-20"))
        assert recompute_reminders(s, as_of=D("2028-11-19"), actor="nurse").created >= 0
        assert [r.state for r in _reminders(s, woman, "screening.breast")] == ["done"]
        recompute_reminders(s, as_of=D("2028-11-20"), actor="nurse")
        rows = _reminders(s, woman, "screening.breast")
        assert [(r.state, r.due_date) for r in rows] == [
            ("done", D("2026-11-16")), ("due", D("2028-11-20"))]


def test_done_by_hand_feeds_the_next_cycle_and_declined_waits_a_year(db: Database) -> None:
    with db.transaction() as s:
        woman = _woman(s)
        other = _woman(s, name="Roux")
        recompute_reminders(s, as_of=AS_OF, actor="nurse")
        close_reminder(s, reminder_id=_one(s, woman, "screening.breast").id, state="done",
                       actor="nurse", on=D("2026-11-10"))
        close_reminder(s, reminder_id=_one(s, other, "screening.breast").id, state="declined",
                       actor="nurse", on=AS_OF)
        recompute_reminders(s, as_of=D("2027-06-01"), actor="nurse")
        assert [r.state for r in _reminders(s, woman, "screening.breast")] == ["done"]
        assert [r.state for r in _reminders(s, other, "screening.breast")] == ["declined"]
        recompute_reminders(s, as_of=D("2027-11-24"), actor="nurse")  # a year and a day
        assert [r.state for r in _reminders(s, other, "screening.breast")] == [
            "declined", "due"]
        recompute_reminders(s, as_of=D("2028-11-10"), actor="nurse")
        assert [(r.state, r.due_date) for r in _reminders(s, woman, "screening.breast")] == [
            ("done", D("2026-11-16")), ("due", D("2028-11-10"))]


def test_postponed_comes_back_on_its_day_and_closed_cannot_change(db: Database) -> None:
    with db.transaction() as s:
        woman = _woman(s)
        recompute_reminders(s, as_of=AS_OF, actor="nurse")
        reminder = _one(s, woman, "screening.breast")
        today = date.today()
        close_reminder(s, reminder_id=reminder.id, state="postponed", actor="nurse",
                       until=today + timedelta(days=10))
        assert reminder.state == "postponed"
        recompute_reminders(s, as_of=today + timedelta(days=9), actor="nurse")
        assert reminder.state == "postponed"
        report = recompute_reminders(s, as_of=today + timedelta(days=10), actor="nurse")
        assert report.reopened >= 1 and reminder.state == "due"
        close_reminder(s, reminder_id=reminder.id, state="cancelled", actor="nurse")
        with pytest.raises(InputError, match="already cancelled"):
            close_reminder(s, reminder_id=reminder.id, state="done", actor="nurse")
        with pytest.raises(InputError):
            close_reminder(s, reminder_id=_one(s, woman, "screening.colorectal").id,
                           state="postponed",
                           actor="nurse", until=today)
        states = [e.details.get("state") for e in s.exec(select(AuditEvent).where(
            AuditEvent.entity_id == str(reminder.id)).order_by(col(AuditEvent.seq)))]
        assert states == ["due", "postponed", "due", "cancelled"]


def test_campaign_over_or_patient_closed_cancels(db: Database) -> None:
    with db.transaction() as s:
        old = add_patient(s, born=D("1950-01-01"))
        leaving = add_patient(s, "Roux", born=D("1950-01-01"))
        recompute_reminders(s, as_of=D("2027-01-31"), actor="nurse")
        flu = _one(s, old, "vaccine.flu")
        s.get_one(type(flu), flu.id)
        from carehub.caseload.models import Patient

        s.get_one(Patient, leaving).status = "closed"
        s.flush()
        recompute_reminders(s, as_of=D("2027-02-01"), actor="nurse")
        assert (flu.state, flu.closed_on) == ("cancelled", D("2027-02-01"))
        assert {r.state for r in _reminders(s, leaving)} == {"cancelled"}


def test_reached_settles_what_was_done_in_one_transaction(db: Database) -> None:
    with db.transaction() as s:
        woman = _woman(s)
        add_fact(s, woman, "encounter", STAY, start=D("2026-11-15"), end=D("2026-11-22"),
                 status="finished")
        recompute_reminders(s, as_of=AS_OF, actor="nurse")
        breast = _one(s, woman, "screening.breast")
        discharge = _one(s, woman, "followup.discharge")
        colorectal = _one(s, woman, "screening.colorectal")
        result = record_call_outcome(
            s, patient_id=woman, outcome="reached", actor="nurse",
            at=datetime(2026, 11, 23, 10, 5), duration_s=300, note="ira faire sa mammo",
            done={breast.id: D("2026-11-21")})
        action = s.get_one(CoordinationAction, result.action_id)
        assert (action.type, action.outcome, action.duration_s, action.author) == (
            "call", "reached", 300, "nurse")
        assert action.reminder_id == discharge.id  # the most urgent reason of the call
        assert result.states[breast.id] == "done" and breast.closed_on == D("2026-11-21")
        assert result.states[discharge.id] == "done"  # the call itself was the follow-up
        assert result.states[colorectal.id] == "due"  # talked about, not settled
        queued = s.exec(select(OutboxEntry).where(OutboxEntry.entity == "reminder",
                                                  OutboxEntry.op == "update")).all()
        assert {q.entity_id for q in queued} >= {str(breast.id), str(discharge.id)}
        assert woman not in {i.patient_id for i in call_list(
            s, user="nurse", as_of=AS_OF, now=datetime(2026, 11, 23, 11))}
        [tomorrow] = [i for i in call_list(s, user="nurse", as_of=D("2026-11-24"),
                                           now=datetime(2026, 11, 24, 11))
                      if i.patient_id == woman]
        assert "screening.colorectal" in [r.code for r in tomorrow.reasons]
        assert "screening.breast" not in [r.code for r in tomorrow.reasons]


def test_no_answer_tries_another_time_of_day_then_escalates(db: Database) -> None:
    with db.transaction() as s:
        woman = _woman(s, caregiver="Marie Durand")
        recompute_reminders(s, as_of=AS_OF, actor="nurse")
        breast = _one(s, woman, "screening.breast")
        first = record_call_outcome(s, patient_id=woman, outcome="no_answer", actor="nurse",
                                    at=datetime(2026, 11, 23, 9, 30))
        assert first.next_attempt_at is not None
        assert first.next_attempt_at.astimezone().replace(tzinfo=None) == datetime(
            2026, 11, 23, 15, 0)  # the afternoon of the same day
        assert (breast.state, breast.attempts) == ("planned", 1)
        second = record_call_outcome(s, patient_id=woman, outcome="voicemail", actor="nurse",
                                     at=datetime(2026, 11, 23, 15, 5))
        assert second.next_attempt_at is not None
        assert second.next_attempt_at.astimezone().replace(tzinfo=None) == datetime(
            2026, 11, 24, 10, 0)  # next morning
        third = record_call_outcome(s, patient_id=woman, outcome="no_answer", actor="nurse",
                                    at=datetime(2026, 11, 24, 10, 2))
        assert (third.escalation, third.next_attempt_at) == ("caregiver", None)
        assert (breast.state, breast.attempts, breast.escalation) == (
            "unreachable", 3, "caregiver")
        [item] = [i for i in call_list(s, user="nurse", as_of=D("2026-11-24"),
                                       now=datetime(2026, 11, 24, 11)) if i.patient_id == woman]
        assert (item.escalation, item.attempts) == ("caregiver", 3)
        assert item.caregiver == "Marie Durand (fille) 06 11 22 33 44"
        fourth = record_call_outcome(s, patient_id=woman, outcome="no_answer", actor="nurse",
                                     at=datetime(2026, 11, 24, 16, 0))
        assert fourth.escalation == "gp"
        fifth = record_call_outcome(s, patient_id=woman, outcome="no_answer", actor="nurse",
                                    at=datetime(2026, 11, 25, 10, 0))
        assert fifth.escalation == "home_visit"


def test_next_attempt_honours_call_after_and_skips_the_weekend(db: Database) -> None:
    with db.transaction() as s:
        woman = _woman(s, call_after=time(14, 0))
        recompute_reminders(s, as_of=D("2026-11-27"), actor="nurse")
        friday = record_call_outcome(s, patient_id=woman, outcome="no_answer", actor="nurse",
                                     at=datetime(2026, 11, 27, 14, 30))  # a Friday
        assert friday.next_attempt_at is not None
        assert friday.next_attempt_at.astimezone().replace(tzinfo=None) == datetime(
            2026, 11, 30, 14, 0)  # Monday, not before 14:00


def test_wrong_number_flags_the_phone_and_without_another_escalates(db: Database) -> None:
    with db.transaction() as s:
        two = _woman(s, phones=(("+33612345678", "mobile", True),
                                ("+33254123456", "fixed", False)))
        one = _woman(s, name="Roux", phones=(("+33698765432", "mobile", False),))
        recompute_reminders(s, as_of=AS_OF, actor="nurse")
        result = record_call_outcome(s, patient_id=two, outcome="wrong_number", actor="nurse",
                                     at=datetime(2026, 11, 23, 9, 0))
        flagged = s.exec(select(PatientPhone).where(PatientPhone.patient_id == two,
                                                    col(PatientPhone.needs_check))).all()
        assert [p.e164 for p in flagged] == ["+33612345678"]
        assert result.escalation is None
        assert s.get_one(CoordinationAction, result.action_id).details["phone"] == \
            "+33612345678"
        [item] = [i for i in call_list(s, user="nurse", as_of=AS_OF,
                                       now=datetime(2026, 11, 23, 9, 5)) if i.patient_id == two]
        assert [p.formatted for p in item.phones] == ["02 54 12 34 56"]
        assert [p.formatted for p in item.phones_to_check] == ["06 12 34 56 78"]
        alone = record_call_outcome(s, patient_id=one, outcome="wrong_number", actor="nurse",
                                    at=datetime(2026, 11, 23, 9, 0))
        assert alone.escalation == "gp"  # no caregiver; the GP is known


def test_refused_declines_and_callback_plans(db: Database) -> None:
    with db.transaction() as s:
        refusing = _woman(s)
        busy = _woman(s, name="Roux")
        recompute_reminders(s, as_of=AS_OF, actor="nurse")
        refused = record_call_outcome(s, patient_id=refusing, outcome="refused", actor="nurse",
                                      at=datetime(2026, 11, 23, 9, 0))
        assert set(refused.states.values()) == {"declined"}
        callback_at = datetime(2026, 11, 23, 16, 30)
        result = record_call_outcome(s, patient_id=busy, outcome="callback", actor="nurse",
                                     at=datetime(2026, 11, 23, 9, 10), callback_at=callback_at)
        [callback] = _reminders(s, busy, "followup.callback")
        assert (callback.state, callback.due_date) == ("planned", AS_OF)
        assert result.next_attempt_at is not None
        assert set(result.states.values()) == {"planned"}
        soon = due_callbacks(s, user="nurse", now=datetime(2026, 11, 23, 16, 20),
                             within=timedelta(minutes=15))
        assert [i.patient_id for i in soon] == [busy]
        assert "followup.callback" in [r.code for r in soon[0].reasons]
        assert due_callbacks(s, user="nurse", now=datetime(2026, 11, 23, 15, 0),
                             within=timedelta(minutes=15)) == []


def test_bad_outcomes_change_nothing(db: Database) -> None:
    with db.transaction() as s:
        woman = _woman(s)
        recompute_reminders(s, as_of=AS_OF, actor="nurse")
    for kwargs in ({"done": {uuid.uuid4(): AS_OF}}, {"outcome": "callback"},
                   {"outcome": "teleported"}, {"at": datetime.now() + timedelta(days=1)}):
        args = {"outcome": "reached", **kwargs}
        with pytest.raises(InputError), db.transaction() as s:
            record_call_outcome(s, patient_id=woman, actor="nurse", **args)  # type: ignore[arg-type]
    with db.session() as s:
        assert s.exec(select(CoordinationAction)).all() == []
        assert {r.state for r in _reminders(s, woman)} == {"due"}


def test_an_outcome_entered_afterwards_keeps_its_real_time(db: Database) -> None:
    with db.transaction() as s:
        woman = _woman(s)
        recompute_reminders(s, as_of=AS_OF, actor="nurse")
        breast = _one(s, woman, "screening.breast")
        result = record_call_outcome(s, patient_id=woman, outcome="reached", actor="nurse",
                                     at=datetime(2026, 11, 20, 10, 15),
                                     done={breast.id: D("2026-11-19")})
        action = s.get_one(CoordinationAction, result.action_id)
        assert action.at.astimezone().replace(tzinfo=None) == datetime(2026, 11, 20, 10, 15)
        assert woman in {i.patient_id for i in call_list(
            s, user="nurse", as_of=AS_OF, now=datetime(2026, 11, 23, 9))}  # other reasons
        with pytest.raises(InputError):
            record_call_outcome(s, patient_id=woman, outcome="reached", actor="nurse",
                                at=datetime(2026, 11, 20, 10, 15),
                                done={_one(s, woman, "screening.colorectal").id: D("2026-11-21")})


def test_a_campaign_puts_one_reminder_per_patient_on_the_lists(db: Database) -> None:
    with db.transaction() as s:
        a = add_patient(s, born=D("1980-01-01"))
        b = add_patient(s, "Roux", born=D("1985-01-01"))
        campaign = create_campaign(s, name="Canicule été 2026", label_fr="Appel canicule",
                                   patient_ids=[a, b, a], due_date=AS_OF, actor="nurse")
        rows = s.exec(select(Reminder).where(Reminder.campaign_id == campaign)).all()
        assert sorted(r.patient_id for r in rows) == sorted([a, b])
        assert {r.reason for r in rows} == {"campaign.canicule-ete-2026"}
        items = call_list(s, user="nurse", as_of=AS_OF, now=datetime(2026, 11, 23, 9))
        lines = [r for i in items for r in i.reasons if r.code.startswith("campaign.")]
        assert {r.label_fr for r in lines} == {"Appel canicule"} and len(lines) == 2
        with pytest.raises(InputError):
            create_campaign(s, name="", label_fr="x", patient_ids=[a], due_date=AS_OF,
                            actor="nurse")
        recompute_reminders(s, as_of=AS_OF, actor="nurse")
        assert {r.state for r in s.exec(select(Reminder).where(
            Reminder.campaign_id == campaign))} == {"due"}


def test_plan_callback_books_the_patient_at_that_hour(db: Database) -> None:
    with db.transaction() as s:
        woman = _woman(s)
        recompute_reminders(s, as_of=AS_OF, actor="nurse")
        callback = plan_callback(s, patient_id=woman, at=datetime(2026, 11, 23, 11, 0),
                                 actor="nurse", note="après le kiné")
        row = s.get_one(Reminder, callback)
        assert row.explanation_fr == "rappel prévu le 23/11/2026 à 11:00 : après le kiné"
        early = call_list(s, user="nurse", as_of=AS_OF, now=datetime(2026, 11, 23, 10, 0))
        [item] = [i for i in early if i.patient_id == woman]
        assert item.available_from == time(11, 0)
        assert item.planned_at is not None
