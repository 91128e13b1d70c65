"""Acts done outside CareHub, declared during a call or at an intake: they become clinical
facts of their own provenance, settle the right reminder (audited, queued for the hub)
and start the next cycle from the rule; what CareHub knows nothing of says so."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlmodel import Session, col, select

from carehub.caseload.models import ClinicalFact, FactCoding
from carehub.coordination.audit import AuditEvent
from carehub.db import Database
from carehub.errors import InputError
from carehub.prevention.declared import record_declared_act
from carehub.prevention.models import Reminder
from carehub.prevention.services import call_list, recompute_reminders
from carehub.sync.outbox import OutboxEntry
from tests.prevention_helpers import add_patient

D = date.fromisoformat
TODAY = D("2026-11-23")


def _open(s: Session, patient_id: object, reason: str) -> list[Reminder]:
    return list(s.exec(select(Reminder).where(
        Reminder.patient_id == patient_id, Reminder.reason == reason,
        col(Reminder.state).in_(("due", "planned", "postponed", "unreachable")))).all())


def _woman(s: Session) -> object:
    """A woman of 60 followed since 2020: breast screening and more due, history unknown."""
    return add_patient(s, "Martin", born=D("1966-05-01"), registered=D("2020-01-01"))


def test_unknown_history_says_so_and_is_due_since_the_follow_up_began(db: Database) -> None:
    with db.transaction() as s:
        woman = _woman(s)
        recompute_reminders(s, as_of=TODAY, actor="nurse")
        [item] = call_list(s, user="nurse", as_of=TODAY)
        breast = next(r for r in item.reasons if r.code == "screening.breast")
        assert breast.history_unknown
        # Eligible at 50 (2016) but followed since 2020: due since then, not "10 years".
        assert breast.due_date == D("2020-01-01")
        assert _open(s, woman, "screening.breast")[0].last_done is None


def test_a_declared_mammography_settles_breast_screening_and_nothing_else(
        db: Database) -> None:
    with db.transaction() as s:
        woman = _woman(s)
        recompute_reminders(s, as_of=TODAY, actor="nurse")
        [breast] = _open(s, woman, "screening.breast")
        others = {r.id: r.state for r in s.exec(select(Reminder).where(
            Reminder.patient_id == woman, Reminder.reason != "screening.breast")).all()}
        result = record_declared_act(s, patient_id=woman, reason="screening.breast",
                                     actor="nurse", on=D("2025-03-14"), precision="month",
                                     source="patient", as_of=TODAY)
        s.refresh(breast)
        assert (breast.state, breast.closed_on) == ("done", D("2025-03-01"))
        assert breast.note == "déclaré par le patient : mammographie en mars 2025"
        assert result.settled == (breast.id,) and result.next_due is None
        assert {r.id: r.state for r in s.exec(select(Reminder).where(
            Reminder.patient_id == woman, Reminder.reason != "screening.breast")).all()} \
            == others
        fact = s.get(ClinicalFact, result.fact_id)
        assert fact is not None and fact.source_system == "urn:carehub:declared:patient"
        assert (fact.kind, fact.start_date) == ("procedure", D("2025-03-01"))
        assert "mars 2025" in (fact.display or "") and "déclaré par le patient" in fact.display
        codes = {(c.system, c.code) for c in s.exec(select(FactCoding).where(
            FactCoding.fact_id == fact.id)).all()}
        assert codes == {("snomed", "71651007")}
        # Audited: the fact and the reminder; the reminder queued for the hub.
        entities = [e.entity for e in s.exec(select(AuditEvent).where(
            AuditEvent.entity_id.in_([str(fact.id), str(breast.id)]))).all()]  # type: ignore[attr-defined]
        assert "clinical_fact" in entities and "reminder" in entities
        queued = [json.loads(o.payload) if isinstance(o.payload, str) else o.payload
                  for o in s.exec(select(OutboxEntry).where(
                      OutboxEntry.entity == "reminder",
                      OutboxEntry.entity_id == str(breast.id))).all()]
        assert any(p.get("state") == "done" and p.get("closed_on") == "2025-03-01"
                   for p in queued)
        # A new recompute does not reopen it: the declared act is an act like another.
        recompute_reminders(s, as_of=TODAY, actor="nurse")
        assert _open(s, woman, "screening.breast") == []


def test_an_old_declared_act_starts_the_next_cycle_from_the_rule(db: Database) -> None:
    with db.transaction() as s:
        woman = _woman(s)
        recompute_reminders(s, as_of=TODAY, actor="nurse")
        result = record_declared_act(s, patient_id=woman, reason="screening.breast",
                                     actor="nurse", on=D("2023-06-10"), precision="day",
                                     source="letter", as_of=TODAY)
        assert result.next_due == D("2025-06-10")  # every 2 years, from the declared day
        [following] = _open(s, woman, "screening.breast")
        assert following.last_done == D("2023-06-10") and following.state == "due"
        [item] = call_list(s, user="nurse", as_of=TODAY)
        line = next(r for r in item.reasons if r.code == "screening.breast")
        assert not line.history_unknown and "10/06/2023" in line.explanation_fr


def test_a_flu_vaccine_at_the_pharmacy_settles_the_season(db: Database) -> None:
    with db.transaction() as s:
        man = add_patient(s, "Roux", born=D("1950-02-02"), sex="M")
        recompute_reminders(s, as_of=TODAY, actor="nurse")
        assert _open(s, man, "vaccine.flu")
        record_declared_act(s, patient_id=man, reason="vaccine.flu", actor="nurse",
                            on=D("2026-10-20"), source="patient", as_of=TODAY)
        assert _open(s, man, "vaccine.flu") == []


def test_a_frailty_screening_done_elsewhere_counts_without_any_code(db: Database) -> None:
    with db.transaction() as s:
        man = add_patient(s, "Roux", born=D("1950-02-02"), sex="M")
        recompute_reminders(s, as_of=TODAY, actor="nurse")
        [frailty] = _open(s, man, "followup.frailty")
        record_declared_act(s, patient_id=man, reason="followup.frailty", actor="nurse",
                            on=D("2026-10-01"), precision="month", source="dmp", as_of=TODAY)
        s.refresh(frailty)
        assert (frailty.state, frailty.closed_on) == ("done", D("2026-10-01"))
        recompute_reminders(s, as_of=TODAY, actor="nurse")
        assert _open(s, man, "followup.frailty") == []  # next one in April 2027


def test_at_intake_a_declared_act_comes_before_any_reminder(db: Database) -> None:
    with db.transaction() as s:
        man = add_patient(s, "Roux", born=D("1950-02-02"), sex="M")
        record_declared_act(s, patient_id=man, reason="followup.frailty", actor="nurse",
                            on=D("2026-09-01"), precision="month", source="patient",
                            as_of=TODAY)
        record_declared_act(s, patient_id=man, reason="vaccine.pneumococcal", actor="nurse",
                            on=D("2024-01-01"), precision="year", source="letter",
                            as_of=TODAY)
        recompute_reminders(s, as_of=TODAY, actor="nurse")
        assert _open(s, man, "followup.frailty") == []
        assert _open(s, man, "vaccine.pneumococcal") == []
        assert _open(s, man, "vaccine.shingles")  # not declared: still to ask


def test_ne_sait_pas_is_noted_and_the_reason_stays_to_do(db: Database) -> None:
    with db.transaction() as s:
        man = add_patient(s, "Roux", born=D("1950-02-02"), sex="M")
        recompute_reminders(s, as_of=TODAY, actor="nurse")
        result = record_declared_act(s, patient_id=man, reason="vaccine.shingles",
                                     actor="nurse", known=False, as_of=TODAY)
        assert result.fact_id is None and len(result.noted) == 1
        [shingles] = _open(s, man, "vaccine.shingles")
        assert shingles.note == "déclaré par le patient : ne sait pas (demandé le 23/11/2026)"
        [item] = call_list(s, user="nurse", as_of=TODAY)
        line = next(r for r in item.reasons if r.code == "vaccine.shingles")
        assert line.history_unknown and line.note == shingles.note


@pytest.mark.parametrize(("reason", "on", "source", "message"), [
    ("screening.breast", D("2027-01-01"), "patient", "futur"),
    ("screening.breast", D("1940-01-01"), "patient", "naissance"),
    ("screening.breast", D("2025-01-01"), "voisin", "Source inconnue"),
    ("followup.discharge", D("2025-01-01"), "patient", "ne se règle pas"),
])
def test_bad_declarations_are_refused_and_change_nothing(
        db: Database, reason: str, on: date, source: str, message: str) -> None:
    with db.transaction() as s:
        woman = _woman(s)
        recompute_reminders(s, as_of=TODAY, actor="nurse")
    with pytest.raises(InputError) as refused, db.transaction() as s:
        record_declared_act(s, patient_id=woman, reason=reason, actor="nurse", on=on,
                            source=source, as_of=TODAY)  # type: ignore[arg-type]
    assert message in refused.value.message_fr
    with db.session() as s:
        assert len(_open(s, woman, "screening.breast")) == 1
        assert s.exec(select(ClinicalFact).where(ClinicalFact.patient_id == woman)).all() == []
