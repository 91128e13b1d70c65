"""Screening and vaccination coverage per care manager, from the cache when it holds.

Evaluating the prevention rules for a 50,000-patient team takes seconds; the dashboard
wants its figures at once. `refresh_coverage_cache` (a write: at the start of the day and
before the dashboard reads) evaluates the whole team when the day or the rules changed,
else only the patients marked stale since (carehub.workload.models). `coverage_by_owner`
(a read) counts the cached rows of the patients not stale in SQL and evaluates the stale
ones afresh, so its answer is always the engine's, cache or not.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import and_, delete, exists, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from carehub.caseload.models import Patient
from carehub.prevention.engine import FOLLOWED_STATUSES, Coverage, coverage, coverage_day
from carehub.prevention.rules import Rule, RuleSet
from carehub.users.models import User
from carehub.workload.models import CoverageCache, CoverageCacheState, CoverageStale

COVERAGE_CODES = ("screening.breast", "screening.colorectal", "screening.cervical",
                  "vaccine.flu")
# Stale patients beyond this are evaluated as a whole team: one pass over everyone costs
# less than thousands of ids bound into every query.
EVALUATE_BY_ID_AT_MOST = 5_000


@dataclass(frozen=True)
class OwnerCoverage:
    """A rule's coverage on its day, per care manager: (up to date, eligible)."""

    code: str
    as_of: date
    by_owner: dict[str, tuple[int, int]]


def rules_digest(rule: Rule) -> str:
    """Changes whenever anything the rule decides by changes (rules.toml edited)."""
    return hashlib.sha256(repr(rule).encode("utf-8")).hexdigest()[:32]


def _followed() -> Any:
    return and_(col(Patient.status).in_(FOLLOWED_STATUSES), col(Patient.deceased_date).is_(None))


def _stale_ids(session: Session) -> list[uuid.UUID]:
    return list(session.execute(sa_select(col(CoverageStale.patient_id))).scalars())


def _states(session: Session) -> dict[str, tuple[date, str]]:
    rows = session.execute(sa_select(col(CoverageCacheState.code), col(CoverageCacheState.as_of),
                                     col(CoverageCacheState.rules_digest)))
    return {code: (day, digest) for code, day, digest in rows}


def _holds(states: dict[str, tuple[date, str]], rule: Rule, as_of: date,
           stale: Sequence[uuid.UUID]) -> bool:
    """Whether the cached rows of `rule` can answer for `as_of`, its stale patients aside."""
    return (states.get(rule.code) == (coverage_day(rule, as_of), rules_digest(rule))
            and len(stale) <= EVALUATE_BY_ID_AT_MOST)


def refresh_coverage_cache(session: Session, *, as_of: date, rules: RuleSet,
                           codes: Sequence[str] = COVERAGE_CODES) -> int:
    """Bring the cache to `as_of` (in the caller's transaction); the patients evaluated."""
    stale = _stale_ids(session)
    states = _states(session)
    whole = [c for c in codes if not _holds(states, rules.rules[c], as_of, stale)]
    by_id = [c for c in codes if c not in whole]
    evaluated = 0
    if not whole and not stale:
        return 0  # nothing changed since the last refresh
    managers = _care_managers(session)
    if whole:
        found = coverage(session, as_of=as_of, codes=whole, rules=rules)
        for code in whole:
            session.execute(delete(CoverageCache).where(col(CoverageCache.code) == code))
            evaluated = max(evaluated, _store(session, found[code], managers))
            session.merge(CoverageCacheState(code=code, as_of=found[code].as_of,
                                             rules_digest=rules_digest(rules.rules[code])))
    if by_id and stale:
        found = coverage(session, as_of=as_of, codes=by_id, rules=rules, patient_ids=stale)
        for code in by_id:
            session.execute(delete(CoverageCache).where(
                col(CoverageCache.code) == code, col(CoverageCache.patient_id).in_(stale)))
            _store(session, found[code], managers)
        evaluated = max(evaluated, len(stale))
    # Every code now holds for everyone marked stale when this began (one transaction:
    # nothing else wrote in between).
    session.execute(delete(CoverageStale))
    return evaluated


def _store(session: Session, found: Coverage,
           managers: dict[uuid.UUID, uuid.UUID | None]) -> int:
    """The eligible patients' rows, bound as SQLite holds them (a uuid as its 32 hex
    digits): the ORM's bulk insert took seconds for a team's 60,000 rows."""
    current = found.up_to_date
    rows = [(found.code, pid.hex, pid in current,
             manager.hex if (manager := managers.get(pid)) else None)
            for pid in found.eligible]
    if rows:
        session.connection().exec_driver_sql(
            "INSERT INTO coverage_cache (code, patient_id, up_to_date, care_manager_id) "
            "VALUES (?, ?, ?, ?)", rows)
    return len(rows)


def coverage_by_owner(session: Session, *, as_of: date, rules: RuleSet,
                      codes: Sequence[str] = COVERAGE_CODES) -> dict[str, OwnerCoverage]:
    """Each rule's coverage on its day for `as_of`, counted per care manager (a read)."""
    stale = _stale_ids(session)
    states = _states(session)
    cached = [c for c in codes if _holds(states, rules.rules[c], as_of, stale)]
    live = [c for c in codes if c not in cached]
    names = _names(session)
    owners = ({pid: names.get(manager) if manager else None
               for pid, manager in _care_managers(session).items()} if live or stale else {})
    found: dict[str, OwnerCoverage] = {}
    if live:
        for code, result in coverage(session, as_of=as_of, codes=live, rules=rules).items():
            found[code] = OwnerCoverage(code, result.as_of, _count(result, owners))
    fresh = (coverage(session, as_of=as_of, codes=cached, rules=rules, patient_ids=stale)
             if cached and stale else {})
    for code in cached:
        counts = _cached_counts(session, code, names)
        evaluated_now = _count(fresh[code], owners) if code in fresh else {}
        for who, (current, eligible) in evaluated_now.items():
            was_current, was_eligible = counts.get(who, (0, 0))
            counts[who] = (was_current + current, was_eligible + eligible)
        found[code] = OwnerCoverage(code, states[code][0], counts)
    return {code: found[code] for code in codes}


def _cached_counts(session: Session, code: str, names: dict[uuid.UUID, str]
                   ) -> dict[str, tuple[int, int]]:
    is_stale = exists().where(col(CoverageStale.patient_id) == CoverageCache.patient_id)
    rows = session.execute(
        sa_select(col(CoverageCache.care_manager_id),
                  func.count().filter(col(CoverageCache.up_to_date)), func.count())
        .where(col(CoverageCache.code) == code, ~is_stale)
        .group_by(col(CoverageCache.care_manager_id)))
    return {names[manager]: (int(current or 0), int(eligible))
            for manager, current, eligible in rows if manager in names}


def _care_managers(session: Session) -> dict[uuid.UUID, uuid.UUID | None]:
    """Each followed patient's care manager (the rules only ever concern those)."""
    rows = session.execute(sa_select(col(Patient.id), col(Patient.care_manager_id))
                           .where(_followed()))
    return {pid: manager for pid, manager in rows}


def _names(session: Session) -> dict[uuid.UUID, str]:
    return {uid: name for uid, name in session.execute(sa_select(col(User.id),
                                                                 col(User.name)))}


def _count(result: Coverage, owners: dict[uuid.UUID, str | None]) -> dict[str, tuple[int, int]]:
    eligible = Counter(owners.get(pid) for pid in result.eligible)
    current = Counter(owners.get(pid) for pid in result.up_to_date)
    return {who: (current.get(who, 0), n) for who, n in eligible.items() if who is not None}
