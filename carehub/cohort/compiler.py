"""A parsed cohort query compiled to ONE SQL SELECT of patient ids; nothing is filtered in Python.

A coding carries its fact's kind, status and dates (migration 0007), so a fact criterion
reads codings alone, from one of two covering indexes:
- as a set, `patient.id IN (SELECT patient_id FROM fact_coding WHERE ...)`, built once from
  ix_coding_cohort (system, code, kind, start_date, end_date, status, patient_id): a UNION
  ALL of one range per code list or prefix (prefixes are ranges `code >= 'E10' AND code <
  'E11'`, as vocabulary.coding_alternatives writes them);
- as a test of the current patient, `EXISTS (... WHERE patient_id = patient.id ...)`, a seek
  on ix_coding_patient (patient_id, system, code, ...), for the criteria of an `and` beside
  its driver, the rarest positive criterion whose set finds the candidates.
A fact with two matching codings puts its patient in a set twice, which changes nothing,
and counts are of distinct dates. `not`/`except` become NOT IN / NOT EXISTS, so patients
without any fact are handled like the others.
Patient criteria are plain column tests; a NULL column makes its test false, never NULL, so
that `not` stays the complement.

Semantics at the as-of date D (all bounds inclusive):
- age: completed years at D; `age >= N` is `birth_date <= D - N years`, exact on the birthday
  (someone born on 29 February comes of age on 1 March in common years).
- condition / medication without a window: active at D, as the patient summary reads it
  (started by D, abatement after D / medication end on or after D, status not
  resolved/inactive/remission/refuted or stopped/completed). With a window: active at some
  time in the window (its span, from start to end or to D while still active, meets the
  window); refuted or never-taken facts never count.
- lab / act / vaccine / contact: a fact dated in the window (no window: by D; undated facts
  count as "ever"); `count` counts the distinct dates of matching facts in the window.
- pregnant: an active pregnancy condition without abatement by D that began less than
  10 months before D.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from datetime import date, timedelta
from typing import Any, TypeAlias

from sqlalchemy import (
    ColumnElement,
    ColumnOperators,
    Select,
    String,
    and_,
    exists,
    false,
    func,
    not_,
    or_,
    true,
    type_coerce,
    union_all,
)
from sqlalchemy import select as sa_select
from sqlalchemy.orm import aliased
from sqlmodel import col

from carehub.caseload.models import FactCoding, Patient
from carehub.caseload.summary import ENDED_MEDICATION_STATUSES, INACTIVE_CONDITION_STATUSES
from carehub.caseload.vocabulary import Concept, Vocabulary, coding_alternatives, vocabulary
from carehub.cohort.parser import (
    Age,
    And,
    Cmp,
    Code,
    Commune,
    ConceptRef,
    Count,
    Facts,
    Fragility,
    Not,
    Or,
    Pregnant,
    Query,
    Sex,
    Since,
    Window,
)
from carehub.users.models import User

# Which kinds of clinical facts each criterion reads.
FACT_KINDS: dict[str, tuple[str, ...]] = {
    "condition": ("condition",),
    "medication": ("medication",),
    "lab": ("observation",),
    "act": ("procedure", "observation"),  # a mammography is an act or a report
    "vaccine": ("immunization",),
    "contact": ("encounter", "procedure"),  # ETP as Encounter.type or Procedure.code
}
# Statuses saying it never happened or was a mistake.
NOT_DONE_STATUSES = frozenset({"not-done", "entered-in-error", "cancelled"})
NEVER_TRUE_CONDITION_STATUSES = frozenset({"refuted", "entered-in-error"})
NEVER_TAKEN_STATUSES = frozenset({"entered-in-error", "not-taken", "cancelled"})
PREGNANCY_MONTHS = 10


# ------------------------------------------------------------------------------ dates


def months_before(day: date, months: int) -> date | None:
    """`day` moved back by whole months, the day clamped to the month's end; None before year 1."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    if year < 1:
        return None
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def window_start(window: Window, as_of: date) -> date:
    """First day of the window (inclusive); the window ends on the as-of date."""
    if isinstance(window, Since):
        return window.day
    if window.unit == "d":
        return as_of - timedelta(days=min(window.amount, (as_of - date.min).days))
    return months_before(as_of, window.amount * (12 if window.unit == "y" else 1)) or date.min


def born_by(as_of: date, years: int) -> date | None:
    """Latest birth date of someone aged at least `years` at `as_of` (None: nobody)."""
    return months_before(as_of, years * 12)


def compare(left: Any, cmp: Cmp, right: Any) -> ColumnElement[bool]:
    operators: dict[str, Any] = {">=": ColumnOperators.__ge__, "<=": ColumnOperators.__le__,
                                 ">": ColumnOperators.__gt__, "<": ColumnOperators.__lt__,
                                 "=": ColumnOperators.__eq__}
    result: ColumnElement[bool] = operators[cmp](left, right)
    return result


def holds(cmp: Cmp, left: int, right: int) -> bool:
    return {">=": left >= right, "<=": left <= right, ">": left > right, "<": left < right,
            "=": left == right}[cmp]


# ------------------------------------------------------------------------------ compiler


def compile_query(query: Query, *, as_of: date, care_manager: str | None = None,
                  vocab: Vocabulary | None = None) -> Select[Any]:
    """SELECT of the stored ids (hex) of the matching patients, in name order."""
    compiler = _Compiler(as_of, vocab or vocabulary())
    stored_id = type_coerce(col(Patient.id), String())
    select = sa_select(stored_id).where(compiler.condition(query))
    if care_manager is not None:
        select = select.join(User, and_(col(User.id) == Patient.care_manager_id,
                                        col(User.name) == care_manager))
    return select.order_by(col(Patient.sort_key), col(Patient.id))


_Found: TypeAlias = tuple[list[ColumnElement[bool]], tuple[str, ...], ColumnElement[bool],
                         Count | None]  # codings, kinds, dates and status, count


class _Compiler:
    def __init__(self, as_of: date, vocab: Vocabulary) -> None:
        self.as_of = as_of
        self.vocab = vocab
        self._ctes = 0

    def condition(self, query: Query, *, top: bool = True) -> ColumnElement[bool]:
        """`top`: this node may be asked of every patient, so it finds its patients as a
        set; below an `and`'s driver it is asked only of the driver's patients, so it
        tests each one's own codings."""
        match query:
            case Or(operands):
                return or_(*(self.condition(q, top=top) for q in operands))
            case And(operands):
                driver = _driver(operands) if top else None
                ordered = sorted(operands, key=lambda q: _check_cost(q, driver))
                return and_(*(self.condition(q, top=(driver is None and top) or q is driver)
                              for q in ordered))
            case Not(operand):
                return not_(self.condition(operand, top=top))
            case Age():
                return self.age(query)
            case Sex(value):
                return col(Patient.sex) == value
            case Fragility(cmp, level):
                return and_(col(Patient.fragility_level).is_not(None),
                            compare(col(Patient.fragility_level), cmp, level))
            case Commune(insee):
                return and_(col(Patient.commune_insee).is_not(None),
                            col(Patient.commune_insee).in_(insee))
            case Pregnant():
                pregnancy = coding_alternatives(self.vocab.concept("pregnant"))
                found: _Found = (pregnancy, ("condition",), self.pregnancy(), None)
                return self.having_facts(*found) if top else self.own_facts(*found)
            case Facts():
                dated = query.window is not None and query.kind not in ("condition",
                                                                         "medication")
                found = (self.codings(query.codes, dated=dated and top),
                         FACT_KINDS[query.kind], self.when(query), query.count)
                return self.having_facts(*found) if top else self.own_facts(*found)
        raise TypeError(f"not a query node: {query!r}")

    def age(self, age: Age) -> ColumnElement[bool]:
        birth = col(Patient.birth_date)
        tests: list[ColumnElement[bool]] = []
        if age.low is not None:  # age >= 0 also leaves out people born after the as-of date
            latest = born_by(self.as_of, age.low)
            tests.append(birth <= latest if latest else false())
        if age.high is not None:
            if age.high < 0:
                return false()
            earliest_excluded = born_by(self.as_of, age.high + 1)
            if earliest_excluded:
                tests.append(birth > earliest_excluded)
        return and_(true(), *tests)

    # -- facts, read from their codings alone (FactCoding carries the fact's columns)

    def codings(self, codes: tuple[Code | ConceptRef, ...], *, dated: bool = False
                ) -> list[ColumnElement[bool]]:
        """FactCoding rows of any of the codes or concepts (a concept brings all its codes).

        `dated`: the criterion has a window; then each code of a prefix is looked up
        (_codes_of_prefix) so that the window becomes a range of the index under each code.
        """
        per_system: dict[str, list[str]] = defaultdict(list)
        for item in codes:
            if isinstance(item, ConceptRef):
                for system, concept_codes in self.vocab.concept(item.name).codes.items():
                    per_system[system].extend(concept_codes)
            else:
                per_system[item.system].append(item.code + ("*" if item.prefix else ""))
        merged = Concept(name="query", label="", category="lab", sex=None,
                         codes={k: tuple(dict.fromkeys(v)) for k, v in per_system.items()})
        if dated:
            return coding_alternatives(merged, prefix_test=self._codes_of_prefix)
        return coding_alternatives(merged)

    def _codes_of_prefix(self, system: str, low: str, high: str) -> ColumnElement[bool]:
        """`code IN (the distinct codes stored under the prefix)`, found by a skip-scan of
        the index (a recursive CTE: each step is one seek to the next greater code), so that
        ATC J07BB* reads this year's flu vaccines, not ten years of them."""
        self._ctes += 1
        code = col(FactCoding.code)
        first = (sa_select(func.min(code).label("code"))
                 .where(col(FactCoding.system) == system, code >= low, code < high)
                 .cte(f"prefix_codes_{self._ctes}", recursive=True))
        other = aliased(FactCoding)
        other_code = col(other.code)
        following = (sa_select(func.min(other_code))
                     .where(col(other.system) == system, other_code > first.c.code,
                            other_code < high)
                     .scalar_subquery())
        codes = first.union_all(sa_select(following).where(first.c.code.is_not(None)))
        return code.in_(sa_select(codes.c.code).where(codes.c.code.is_not(None)))

    def when(self, facts: Facts) -> ColumnElement[bool]:
        """What a matching fact's dates and status must say."""
        if facts.kind in ("condition", "medication"):
            return self.active(facts.kind, facts.window)
        start = col(FactCoding.start_date)
        happened = _status().not_in(NOT_DONE_STATUSES)
        if facts.window is not None:
            dated = and_(start >= window_start(facts.window, self.as_of), start <= self.as_of)
        else:
            dated = or_(start.is_(None), start <= self.as_of)
        if facts.count is not None:  # only dated occurrences are counted
            dated = and_(dated, start.is_not(None))
        return and_(happened, dated)

    def having_facts(self, codings: list[ColumnElement[bool]], kinds: tuple[str, ...],
                     when: ColumnElement[bool], count: Count | None) -> ColumnElement[bool]:
        """`patient.id IN (the patients with matching facts)`: SQLite builds that set once,
        from ranges of ix_coding_cohort (a UNION ALL, one per code list or prefix), reading
        neither a fact row nor a coding row."""
        patient_id, start = col(FactCoding.patient_id), col(FactCoding.start_date)
        columns = (patient_id,) if count is None else (patient_id, start)
        branches = [sa_select(*columns).where(alternative, col(FactCoding.kind).in_(kinds),
                                              when) for alternative in codings]
        if not branches:  # no code at all: no fact matches
            branches = [sa_select(*columns).where(false())]
        matching = branches[0] if len(branches) == 1 else union_all(*branches)
        if count is None:
            return col(Patient.id).in_(matching)
        found = matching.subquery()
        distinct_dates = func.count(found.c.start_date.distinct())
        grouped = sa_select(found.c.patient_id).group_by(found.c.patient_id)
        if holds(count.cmp, 0, count.n):  # "count < 3" also holds for no occurrence at all
            return col(Patient.id).not_in(
                grouped.having(not_(compare(distinct_dates, count.cmp, count.n))))
        return col(Patient.id).in_(grouped.having(compare(distinct_dates, count.cmp, count.n)))

    def own_facts(self, codings: list[ColumnElement[bool]], kinds: tuple[str, ...],
                  when: ColumnElement[bool], count: Count | None) -> ColumnElement[bool]:
        """A test of the current patient's codings: a seek on ix_coding_patient, then the
        few codings of that patient read from the index."""
        mine = (col(FactCoding.patient_id) == Patient.id, or_(*codings) if codings else false(),
                col(FactCoding.kind).in_(kinds), when)
        if count is None:
            return exists().where(*mine)
        distinct_dates = (sa_select(func.count(col(FactCoding.start_date).distinct()))
                          .where(*mine).scalar_subquery())
        return compare(distinct_dates, count.cmp, count.n)

    def active(self, kind: str, window: Window | None) -> ColumnElement[bool]:
        start, end, status = col(FactCoding.start_date), col(FactCoding.end_date), _status()
        started = or_(start.is_(None), start <= self.as_of)
        if kind == "condition":
            ended, never, still = INACTIVE_CONDITION_STATUSES, NEVER_TRUE_CONDITION_STATUSES, \
                end > self.as_of
        else:  # a medication is still taken on its end date
            ended, never, still = ENDED_MEDICATION_STATUSES, NEVER_TAKEN_STATUSES, \
                end >= self.as_of
        if window is None:
            return and_(started, or_(end.is_(None), still), status.not_in(ended))
        first = window_start(window, self.as_of)
        last_active_day = end > first if kind == "condition" else end >= first
        meets = or_(start >= first, last_active_day,
                    and_(end.is_(None), status.not_in(ended)))
        return and_(started, status.not_in(never), meets)

    def pregnancy(self) -> ColumnElement[bool]:
        start, end = col(FactCoding.start_date), col(FactCoding.end_date)
        began_after = months_before(self.as_of, PREGNANCY_MONTHS) or date.min
        return and_(start > began_after, start <= self.as_of,
                    or_(end.is_(None), end > self.as_of),
                    _status().not_in(INACTIVE_CONDITION_STATUSES))


# How rare matching patients usually are, rarest first. The rarest positive criterion of an
# `and` drives the search: its set is built once from ix_coding_cohort; the others are
# tested only for the patients it found, through ix_coding_patient, so that no large set
# (ten thousand flu vaccines) is built for a hundred patients.
DRIVER_RANK = {"condition": 1, "medication": 2, "act": 3, "contact": 3, "lab": 4, "vaccine": 5}


def _driver(operands: tuple[Query, ...]) -> Query | None:
    """The operand whose patients are looked up first: the rarest positive fact criterion
    (not one a patient without any fact meets, like `count < 3`)."""
    candidates = [(0 if isinstance(q, Pregnant) else DRIVER_RANK[q.kind], index, q)
                  for index, q in enumerate(operands)
                  if isinstance(q, Pregnant)
                  or (isinstance(q, Facts) and not (q.count and holds(q.count.cmp, 0,
                                                                       q.count.n)))]
    return min(candidates, key=lambda c: c[:2])[2] if candidates else None


def _check_cost(query: Query, driver: Query | None) -> int:
    """SQLite tests an `and` left to right and stops at the first false: the driver, then
    the patient's own columns, then the fact tests (rare kinds first), counts last."""
    if query is driver:
        return 0
    if isinstance(query, Age | Sex | Fragility | Commune):
        return 1
    if isinstance(query, Pregnant):
        return 2
    if isinstance(query, Facts):
        return 3 + DRIVER_RANK[query.kind] + (10 if query.count else 0)
    return 20  # nested and/or/not


def _status() -> ColumnElement[str]:
    return func.lower(func.coalesce(FactCoding.status, ""))
