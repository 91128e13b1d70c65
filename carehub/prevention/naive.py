"""The reminder engine the straightforward way: patient by patient through the ORM.

Each patient's row, facts, codings and settled reminders are loaded as ORM objects and the
evidence of every rule is gathered in Python, then handed to the same `decide` as the SQL
engine. It is the naive baseline of the benchmarks and the oracle of the tests (the SQL
gathering must find the same evidence); the application does not use it.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta

from sqlmodel import Session, col, select

from carehub.caseload.models import ClinicalFact, FactCoding, Patient
from carehub.caseload.vocabulary import Concept, vocabulary
from carehub.prevention.engine import (
    DERIVED_KINDS,
    FOLLOWED_STATUSES,
    INACTIVE_CONDITIONS,
    NEVER_TRUE_STATUSES,
    NOT_DONE_STATUSES,
    PREGNANCY_MONTHS,
    DueReason,
    Evidence,
    PatientInfo,
    aged_at_least,
    decide,
    shift,
    sort_reasons,
)
from carehub.prevention.models import Reminder
from carehub.prevention.rules import Act, Rule, RuleSet, load_rules


class _Facts:
    """One patient's facts with their codings."""

    def __init__(self, facts: list[ClinicalFact], codings: dict[uuid.UUID, set[tuple[str, str]]]
                 ) -> None:
        self.facts = facts
        self.codings = codings

    def coded(self, fact: ClinicalFact, concept: Concept) -> bool:
        for system, code in self.codings.get(fact.id, ()):
            for wanted in concept.codes.get(system, ()):
                if wanted.endswith("*") and code.startswith(wanted[:-1]):
                    return True
                if code == wanted:
                    return True
        return False

    def of(self, concept: Concept) -> Iterable[ClinicalFact]:
        return (f for f in self.facts if self.coded(f, concept))


def _status(fact: ClinicalFact) -> str:
    return (fact.status or "").lower()


def _act_dates(facts: _Facts, act: Act, birth: date, as_of: date) -> list[date]:
    days = []
    for fact in facts.of(act.concept):
        if fact.kind not in act.kinds or fact.start_date is None or fact.start_date > as_of:
            continue
        if _status(fact) in NOT_DONE_STATUSES:
            continue
        if act.not_results and (fact.value_text or "").lower() in act.not_results:
            continue
        if act.from_age is not None and fact.start_date < shift(birth, 12 * act.from_age):
            continue
        days.append(fact.start_date)
    return days


def _has(facts: _Facts, concept: Concept, as_of: date) -> bool:
    return any((f.start_date is None or f.start_date <= as_of)
               and _status(f) not in NEVER_TRUE_STATUSES for f in facts.of(concept))


def _active(fact: ClinicalFact, as_of: date) -> bool:
    return (fact.kind == "condition" and (fact.start_date is None or fact.start_date <= as_of)
            and (fact.end_date is None or fact.end_date > as_of)
            and _status(fact) not in INACTIVE_CONDITIONS)


def _active_since(facts: _Facts, concepts: Iterable[Concept], pregnancy: bool,
                  as_of: date) -> date | None:
    onsets = [f.start_date or date.min for c in concepts for f in facts.of(c)
              if _active(f, as_of)]
    if pregnancy:
        began_after = shift(as_of, -PREGNANCY_MONTHS)
        onsets += [f.start_date for f in facts.of(vocabulary().concept("pregnant"))
                   if _active(f, as_of) and f.start_date is not None
                   and f.start_date > began_after and f.end_date is None]
    return min(onsets, default=None)


def _evidence(rule: Rule, info: PatientInfo, facts: _Facts, done: list[date],
              as_of: date) -> Evidence | None:
    birth = info.birth_date
    latest_done = max(done, default=None)
    if rule.kind == "interval":
        if any(_has(facts, c, as_of) for c in rule.exclude):
            return None
        last = {a.name: max(_act_dates(facts, a, birth, as_of), default=None)
                for a in rule.acts}
        return Evidence(info, last=last, done=latest_done)
    if rule.kind in ("seasonal", "fixed_ages", "doses"):
        assert rule.concept is not None
        dose = Act(name=rule.concept.name, label="", concept=rule.concept,
                   kinds=("immunization",), every_months=0)
        doses = set(_act_dates(facts, dose, birth, as_of)) | set(done)
        risk = _active_since(facts, rule.at_risk_conditions, rule.at_risk_pregnant, as_of) \
            if rule.kind == "seasonal" else None
        return Evidence(info, doses=len(doses), last_dose=max(doses, default=None),
                        risk_since=risk)
    if rule.kind in ("age_bands", "frailty"):
        last = {a.name: max(_act_dates(facts, a, birth, as_of), default=None)
                for a in rule.acts}
        return Evidence(info, last=last, done=latest_done)
    if rule.kind == "discharge":
        assert rule.concept is not None
        first = as_of - timedelta(days=rule.keep_days)
        ends = [f.end_date for f in facts.of(rule.concept)
                if f.kind == "encounter" and f.end_date is not None
                and first <= f.end_date <= as_of and _status(f) not in NOT_DONE_STATUSES]
        if not ends:
            return None
        older = rule.first_min_age is not None and aged_at_least(birth, rule.first_min_age,
                                                                  as_of)
        sick = _active_since(facts, rule.first_conditions, False, as_of) is not None
        return Evidence(info, discharge=max(ends), first=older or sick)
    if rule.kind == "new_arrival":
        return Evidence(info) if info.registered_on is not None else None
    return None


def naive_due_reasons(session: Session, *, patient_id: uuid.UUID, as_of: date,
                      rules: RuleSet | None = None) -> list[DueReason]:
    """One patient's due reasons, loaded and evaluated one object at a time."""
    ruleset = rules or load_rules()
    patient = session.get(Patient, patient_id)
    if patient is None or patient.status not in FOLLOWED_STATUSES \
            or patient.deceased_date is not None:
        return []
    info = PatientInfo(id=patient.id, sex=patient.sex, birth_date=patient.birth_date,
                       fragility_level=patient.fragility_level,
                       registered_on=patient.registered_on,
                       created_on=patient.created_at.date(),
                       has_gp=bool(patient.gp_rpps or patient.gp_name))
    facts = list(session.exec(select(ClinicalFact).where(ClinicalFact.patient_id == patient_id)))
    codings: dict[uuid.UUID, set[tuple[str, str]]] = defaultdict(set)
    fact_ids = [f.id for f in facts]
    for start in range(0, len(fact_ids), 500):  # by fact: fact_coding is indexed on fact_id
        for coding in session.exec(select(FactCoding).where(
                col(FactCoding.fact_id).in_(fact_ids[start:start + 500]))):
            codings[coding.fact_id].add((coding.system, coding.code))
    done: dict[str, list[date]] = defaultdict(list)
    for reminder in session.exec(select(Reminder).where(
            Reminder.patient_id == patient_id, Reminder.state == "done")):
        if reminder.closed_on is not None and reminder.closed_on <= as_of:
            done[reminder.reason].append(reminder.closed_on)
    known = _Facts(facts, codings)
    found = []
    for rule in ruleset.rules.values():
        if rule.kind not in DERIVED_KINDS:
            continue
        evidence = _evidence(rule, info, known, done.get(rule.code, []), as_of)
        reason = decide(rule, evidence, as_of) if evidence is not None else None
        if reason is not None:
            found.append(reason)
    return sort_reasons(found)


def naive_compute_due(session: Session, *, as_of: date, rules: RuleSet | None = None
                      ) -> dict[uuid.UUID, list[DueReason]]:
    """Every patient, one after the other: the baseline of bench_reminders.py."""
    ruleset = rules or load_rules()
    found = {}
    for patient_id in session.exec(select(Patient.id).order_by(col(Patient.id))):
        reasons = naive_due_reasons(session, patient_id=patient_id, as_of=as_of, rules=ruleset)
        if reasons:
            found[patient_id] = reasons
    return found
