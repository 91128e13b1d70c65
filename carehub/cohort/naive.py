"""The cohort language evaluated the straightforward way: every patient and fact loaded into
Python, then each patient tested against the tree.

This is the executable reading of the semantics (compiler.py's docstring), written
independently of the SQL: the property test compares the two, and the benchmark uses it as
the naive baseline. It is not used by the application.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from carehub.caseload.models import ClinicalFact, FactCoding, Patient
from carehub.caseload.summary import (
    ENDED_MEDICATION_STATUSES,
    INACTIVE_CONDITION_STATUSES,
    age_on,
)
from carehub.caseload.vocabulary import Vocabulary, vocabulary
from carehub.cohort.compiler import (
    FACT_KINDS,
    NEVER_TAKEN_STATUSES,
    NEVER_TRUE_CONDITION_STATUSES,
    NOT_DONE_STATUSES,
    PREGNANCY_MONTHS,
    holds,
    months_before,
    window_start,
)
from carehub.cohort.parser import (
    Age,
    And,
    Code,
    Commune,
    ConceptRef,
    Facts,
    Fragility,
    Not,
    Or,
    Pregnant,
    Query,
    Sex,
    parse_query,
)
from carehub.users.models import User


@dataclass
class NaiveFact:
    kind: str
    status: str
    start: date | None
    end: date | None
    codings: set[tuple[str, str]] = field(default_factory=set)


@dataclass
class NaivePatient:
    id: uuid.UUID
    sex: str
    birth_date: date
    fragility_level: int | None
    commune_insee: str | None
    care_manager: str | None
    sort_key: str
    facts: list[NaiveFact] = field(default_factory=list)


def load_caseload(session: Session) -> list[NaivePatient]:
    """Every patient with every fact and coding, as plain Python objects."""
    patients: dict[uuid.UUID, NaivePatient] = {}
    rows = session.execute(
        sa_select(col(Patient.id), col(Patient.sex), col(Patient.birth_date),
                  col(Patient.fragility_level), col(Patient.commune_insee), col(User.name),
                  col(Patient.sort_key))
        .outerjoin(User, col(User.id) == Patient.care_manager_id))
    for row in rows:
        patients[row[0]] = NaivePatient(*row)
    facts: dict[uuid.UUID, NaiveFact] = {}
    for fact_id, patient_id, kind, status, start, end in session.execute(
            sa_select(col(ClinicalFact.id), col(ClinicalFact.patient_id),
                      col(ClinicalFact.kind), col(ClinicalFact.status),
                      col(ClinicalFact.start_date), col(ClinicalFact.end_date))):
        fact = NaiveFact(kind, (status or "").lower(), start, end)
        facts[fact_id] = fact
        patients[patient_id].facts.append(fact)
    for fact_id, system, code in session.execute(
            sa_select(col(FactCoding.fact_id), col(FactCoding.system), col(FactCoding.code))):
        facts[fact_id].codings.add((system, code))
    return list(patients.values())


def naive_query(patients: Iterable[NaivePatient], *, expr: str, as_of: date,
                care_manager: str | None = None,
                vocab: Vocabulary | None = None) -> list[uuid.UUID]:
    """Ids of the matching patients in name order, tested one by one in Python."""
    evaluator = _Evaluator(as_of, vocab or vocabulary())
    query = parse_query(expr, vocab=evaluator.vocab)
    found = [p for p in patients
             if (care_manager is None or p.care_manager == care_manager)
             and evaluator.matches(query, p)]
    return [p.id for p in sorted(found, key=lambda p: (p.sort_key, p.id.hex))]


class _Evaluator:
    def __init__(self, as_of: date, vocab: Vocabulary) -> None:
        self.as_of = as_of
        self.vocab = vocab

    def matches(self, query: Query, patient: NaivePatient) -> bool:
        match query:
            case Or(operands):
                return any(self.matches(q, patient) for q in operands)
            case And(operands):
                return all(self.matches(q, patient) for q in operands)
            case Not(operand):
                return not self.matches(operand, patient)
            case Age(low, high):
                age = age_on(patient.birth_date, self.as_of)
                return (low is None or age >= low) and (high is None or age <= high)
            case Sex(value):
                return patient.sex == value
            case Fragility(cmp, level):
                return patient.fragility_level is not None and holds(
                    cmp, patient.fragility_level, level)
            case Commune(insee):
                return patient.commune_insee in insee
            case Pregnant():
                return any(self.pregnancy(f) for f in patient.facts)
            case Facts():
                return self.facts(query, patient)
        raise TypeError(f"not a query node: {query!r}")

    def coded(self, fact: NaiveFact, codes: tuple[Code | ConceptRef, ...]) -> bool:
        for item in codes:
            if isinstance(item, ConceptRef):
                wanted = [(s, c) for s, cs in self.vocab.concept(item.name).codes.items()
                          for c in cs]
            else:
                wanted = [(item.system, item.code + ("*" if item.prefix else ""))]
            for system, code in wanted:
                for have_system, have_code in fact.codings:
                    if have_system != system:
                        continue
                    if code.endswith("*") and have_code.startswith(code[:-1]):
                        return True
                    if have_code == code:
                        return True
        return False

    def facts(self, facts: Facts, patient: NaivePatient) -> bool:
        kinds = FACT_KINDS[facts.kind]
        found = [f for f in patient.facts
                 if f.kind in kinds and self.coded(f, facts.codes) and self.when(facts, f)]
        if facts.count is None:
            return bool(found)
        dates = {f.start for f in found if f.start is not None}
        return holds(facts.count.cmp, len(dates), facts.count.n)

    def when(self, facts: Facts, fact: NaiveFact) -> bool:
        as_of = self.as_of
        if fact.start is not None and fact.start > as_of:
            return False
        if facts.kind in ("condition", "medication"):
            return self.active(facts, fact)
        if fact.status in NOT_DONE_STATUSES:
            return False
        if facts.window is not None:
            first = window_start(facts.window, as_of)
            return fact.start is not None and first <= fact.start <= as_of
        return facts.count is None or fact.start is not None

    def active(self, facts: Facts, fact: NaiveFact) -> bool:
        condition = facts.kind == "condition"
        ended = INACTIVE_CONDITION_STATUSES if condition else ENDED_MEDICATION_STATUSES
        never = NEVER_TRUE_CONDITION_STATUSES if condition else NEVER_TAKEN_STATUSES

        def active_on(day: date) -> bool:  # the fact's end date is a day it is still taken
            assert fact.end is not None
            return fact.end > day if condition else fact.end >= day

        if facts.window is None:
            return (fact.end is None or active_on(self.as_of)) and fact.status not in ended
        if fact.status in never:
            return False
        first = window_start(facts.window, self.as_of)
        if fact.start is not None and fact.start >= first:
            return True
        if fact.end is not None:
            return active_on(first)
        return fact.status not in ended

    def pregnancy(self, fact: NaiveFact) -> bool:
        began_after = months_before(self.as_of, PREGNANCY_MONTHS) or date.min
        return (fact.kind == "condition" and fact.start is not None
                and began_after < fact.start <= self.as_of
                and (fact.end is None or fact.end > self.as_of)
                and fact.status not in INACTIVE_CONDITION_STATUSES
                and self.coded(fact, (ConceptRef("pregnant"),)))


def naive_from_database(session: Session, *, expr: str, as_of: date,
                        care_manager: str | None = None) -> list[uuid.UUID]:
    """Load everything, then evaluate: the baseline the benchmark times."""
    return naive_query(load_caseload(session), expr=expr, as_of=as_of,
                       care_manager=care_manager)

