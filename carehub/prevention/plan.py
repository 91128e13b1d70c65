"""The contact plan: a care manager's due patients spread over her coming working days.

Every due patient is placed once, for all her due reasons together, on one day of her
plan (table plan_assignment), within her capacity (table plan_capacity: calls per working
day, working days; 30 a day Monday to Friday by default):

- urgent work goes on its day whatever the load: a call-back or a planned attempt on its
  day, an escalation and a post-discharge call on the first day (today), a reason whose
  deadline (the welcome call's week, a seasonal campaign's last day) the fill would miss
  on the last day before it;
- what is left of yesterday's share (not reached, still due) is carried over first;
- the rest, most urgent first (the call list's priority), fills each day up to its
  capacity, then the next working day: the backlog is spread, never all on day one. When
  fewer patients are due than today's capacity, they are all today's share.

The plan is derived from the database (the reminders, the outcomes, the capacity) and
rebuilt whenever a call list is read (after an outcome, an import, a recompute, a sync);
placements are kept from one rebuild to the next: a patient stays on her day as the
backlog moves (a day's order is the call list's, by hour and priority), and a day's
contacted patients still count in its load (a day she can finish). One SELECT gathers the
due patients of one or many care managers; the placement is a linear pass in Python;
only the assignments that changed are written.
"""

from __future__ import annotations

import time as clock
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, text, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from carehub.caseload.summary import display_name
from carehub.changes import log_changes
from carehub.coordination.audit import Change
from carehub.errors import InputError
from carehub.prevention.engine import _campaign_on
from carehub.prevention.models import (
    DEFAULT_CALLS_PER_DAY,
    DEFAULT_WORKING_DAYS,
    PlanAssignment,
    PlanCapacity,
)
from carehub.prevention.priority import (
    _AGE_SQL,
    _REASON_PRIORITY_SQL,
    _RECENT_STAY_SQL,
    _params,
    stored,
    user_id,
)
from carehub.prevention.rules import RuleSet, load_rules
from carehub.prevention.types import from_local, local
from carehub.timeutil import utcnow
from carehub.users.access import require_caseload_access
from carehub.users.models import User

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FRENCH_DAYS = {"lun": 1, "mar": 2, "mer": 3, "jeu": 4, "ven": 5, "sam": 6, "dim": 7}
DAY_NAMES_FR: tuple[str, ...] = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi",
                                 "dimanche")
MAX_PER_DAY = 500
POSTPONED_HORIZON_DAYS = 183  # postponed reasons and planned calls placed this far ahead
CALLBACK = "followup.callback"
# Called on the first day whatever the load, while their window lasts.
URGENT_REASONS = ("followup.discharge",)


# ------------------------------------------------------------------------------ capacity


@dataclass(frozen=True)
class Capacity:
    user: str
    per_day: int
    days: tuple[int, ...]  # ISO weekdays, 1 = Monday

    def works_on(self, day: date) -> bool:
        return day.isoweekday() in self.days

    @property
    def days_text(self) -> str:
        return ",".join(WEEKDAYS[d - 1] for d in self.days)

    def as_json(self) -> dict[str, Any]:
        return {"user": self.user, "per_day": self.per_day, "days": list(
            WEEKDAYS[d - 1] for d in self.days)}


def parse_days(value: str) -> tuple[int, ...]:
    """'mon,tue,fri' (or French 'lun,mar,ven', or ISO numbers 1-7) as ISO weekdays."""
    found: set[int] = set()
    for raw in value.replace(";", ",").replace(" ", ",").split(","):
        word = raw.strip().lower()
        if not word:
            continue
        if word.isdigit() and 1 <= int(word) <= 7:
            found.add(int(word))
        elif word[:3] in WEEKDAYS:
            found.add(WEEKDAYS.index(word[:3]) + 1)
        elif word[:3] in _FRENCH_DAYS:
            found.add(_FRENCH_DAYS[word[:3]])
        else:
            raise InputError(f"Unknown working day {raw.strip()!r}: use mon,tue,wed,thu,fri,"
                             "sat,sun.", f"Jour de travail inconnu « {raw.strip()} ».")
    if not found:
        raise InputError("At least one working day is needed.",
                         "Il faut au moins un jour de travail.")
    return tuple(sorted(found))


def _capacity_of(user: str, row: Any) -> Capacity:
    if row is None:
        return Capacity(user, DEFAULT_CALLS_PER_DAY, parse_days(DEFAULT_WORKING_DAYS))
    return Capacity(user, int(row.per_day), parse_days(row.days))


def get_capacity(session: Session, *, user: str) -> Capacity:
    """Her calls per working day and working days (the defaults until she sets them)."""
    manager = user_id(session, user)
    row = session.get(PlanCapacity, manager) if manager is not None else None
    return _capacity_of(user, row)


def set_capacity(session: Session, *, user: str, per_day: int, days: Sequence[int] | str,
                 actor: str) -> Capacity:
    """Set `user`'s capacity (audited); her plan follows at its next rebuild."""
    require_caseload_access(session, owner=user, purpose="contact plan")
    if not 1 <= per_day <= MAX_PER_DAY:
        raise InputError(f"Calls per day must be between 1 and {MAX_PER_DAY}.",
                         f"Le nombre d'appels par jour va de 1 à {MAX_PER_DAY}.")
    weekdays = parse_days(days) if isinstance(days, str) else tuple(sorted(set(days)))
    if not weekdays or any(d not in range(1, 8) for d in weekdays):
        raise InputError("Working days are ISO weekdays 1 (Monday) to 7 (Sunday).",
                         "Jours de travail invalides.")
    manager = user_id(session, user)
    if manager is None:
        raise InputError(f"No user {user!r}.", f"Utilisateur inconnu « {user} ».")
    row = session.get(PlanCapacity, manager)
    before = _capacity_of(user, row).as_json()
    if row is None:
        row = PlanCapacity(user_id=manager)
    capacity = Capacity(user, per_day, weekdays)
    row.per_day, row.days, row.updated_at = per_day, capacity.days_text, utcnow()
    session.add(row)
    session.flush()
    log_changes(session, [Change(actor, "plan_capacity", str(manager), "update",
                                 {"user": user, "before": before, **capacity.as_json()})])
    return capacity


# ------------------------------------------------------------------------------ gathering


# Open reminders the plan places: due by today; a planned call or a postponement up to
# the horizon; an escalation to take.
_PLANNABLE_SQL = """(
    (r.state = 'due' AND r.due_date <= :as_of)
 OR (r.state = 'planned' AND r.planned_at < :horizon_utc)
 OR (r.state = 'postponed' AND r.postponed_until <= :horizon)
 OR (r.state = 'unreachable' AND r.escalation IS NOT NULL))"""
_PLAN_SQL = f"""
WITH s AS (
  SELECT p.rowid AS prow, p.care_manager_id AS mgr, r.patient_id AS pid,
         max({_REASON_PRIORITY_SQL}) AS top, count(*) AS n,
         min(CASE WHEN r.state = 'planned' THEN date(r.planned_at, 'localtime') END) AS fixed,
         min(CASE WHEN r.state = 'postponed' THEN r.postponed_until END) AS postponed,
         sum(r.state IN ('due', 'unreachable')) AS now,
         max((r.state = 'unreachable' AND r.escalation IS NOT NULL) OR {{urgent}}) AS urgent,
         min(CASE WHEN r.state = 'due' THEN {{deadline}} END) AS deadline
    FROM patient p CROSS JOIN reminder r ON r.patient_id = p.id
   WHERE p.care_manager_id IN ({{managers}}) AND +p.status = 'active'
     AND p.deceased_date IS NULL AND {_PLANNABLE_SQL}
   GROUP BY p.rowid
)
SELECT s.mgr, s.pid,
       s.top + coalesce(p.fragility_level, 0) * :w_fragility
         + CASE WHEN {_AGE_SQL} >= 85 THEN :w_age85 WHEN {_AGE_SQL} >= 75 THEN :w_age75
                ELSE 0 END
         + CASE WHEN {{recent}} THEN :w_recent ELSE 0 END
         + :w_other * (s.n - 1) AS priority,
       p.sort_key, s.fixed, s.postponed, s.now, s.urgent, s.deadline
  FROM s JOIN patient p ON p.rowid = s.prow
"""
# Her latest reached call or SMS, for the patients whose assignment it may settle.
_REACHED_SQL = """
SELECT a.patient_id, max(a.at) FROM coordination_action a
 WHERE a.at >= :reached_from AND a.type IN ('call', 'sms') AND a.outcome = 'reached'
 GROUP BY a.patient_id"""


@dataclass
class _Due:
    """One due patient as the plan sees her."""

    pid: str  # hex
    priority: int
    sort_key: str
    release: date  # the first day she may be called about her reasons
    fixed: date | None = None  # a planned call (call-back, next attempt) on that day
    urgent: bool = False  # placed on the first day whatever the load
    deadline: date | None = None
    reached: date | None = None  # her latest reached call or SMS (local day)


def _utc_day(value: str) -> date:
    return local(datetime.fromisoformat(value).replace(tzinfo=UTC)).date()


def _named(prefix: str, values: Sequence[Any], params: dict[str, Any]) -> str:
    """Named placeholders for a list of values, added to `params` (for an IN list)."""
    names = []
    for index, value in enumerate(values):
        params[f"{prefix}{index}"] = value
        names.append(f":{prefix}{index}")
    return ", ".join(names) or "NULL"


def _deadline_sql(ruleset: RuleSet, as_of: date, params: dict[str, Any]
                  ) -> tuple[str, str]:
    """The SQL of a due reason's deadline still to come (a welcome call's week, a
    discharge's window, a campaign's last day) and of an urgent reason (a discharge
    within its window), from the rules."""
    deadline, urgent = [], []
    for index, (code, rule) in enumerate(ruleset.rules.items()):
        if rule.kind in ("discharge", "new_arrival"):
            params[f"dc{index}"], params[f"dd{index}"] = code, f"+{rule.call_within_days} days"
            limit = f"date(r.due_date, :dd{index})"
            deadline.append(f"WHEN r.reason = :dc{index} AND {limit} >= :as_of THEN {limit}")
            if code in URGENT_REASONS:
                urgent.append(f"(r.reason = :dc{index} AND r.state = 'due' "
                              f"AND {limit} >= :as_of)")
        elif rule.kind == "seasonal":
            found = _campaign_on(rule.campaigns, as_of)
            if found is not None and found[2] >= as_of:
                params[f"dc{index}"], params[f"de{index}"] = code, found[2].isoformat()
                deadline.append(f"WHEN r.reason = :dc{index} THEN :de{index}")
    return ("CASE " + " ".join(deadline) + " END" if deadline else "NULL",
            " OR ".join(urgent) or "0")


def _cursor(session: Session) -> Any:
    """The DB-API cursor of the session's connection (its transaction): tuples, not Rows,
    for the tens of thousands of rows of a team's plans."""
    return session.connection().connection.cursor()


def _gather(session: Session, ruleset: RuleSet, managers: Sequence[uuid.UUID], as_of: date
            ) -> dict[str, list[_Due]]:
    """The due patients of each care manager (hex id -> list), one SELECT for all."""
    params = _params(ruleset, managers[0], as_of,
                     datetime.combine(as_of, ruleset.settings.default_call_time))
    horizon = as_of + timedelta(days=POSTPONED_HORIZON_DAYS)
    params.update(horizon=horizon.isoformat(),
                  horizon_utc=stored(from_local(horizon, datetime.min.time())),
                  reached_from=stored(from_local(as_of - timedelta(days=62),
                                                 datetime.min.time())))
    stays = _named("stay", params.pop("stay_codes"), params)
    chosen = _named("mgr", [m.hex for m in managers], params)
    deadline, urgent = _deadline_sql(ruleset, as_of, params)
    sql = _PLAN_SQL.format(managers=chosen, deadline=deadline, urgent=urgent,
                           recent=_RECENT_STAY_SQL.replace(":stay_codes", f"({stays})"))
    cursor = _cursor(session)
    reached = {pid: _utc_day(at) for pid, at in
               cursor.execute(_REACHED_SQL, {"reached_from": params["reached_from"]})}
    found: dict[str, list[_Due]] = defaultdict(list)
    today = as_of.isoformat()
    day_of: dict[str, date] = {today: as_of}
    for mgr, pid, priority, sort_key, fixed, postponed, now, is_urgent, limit in \
            cursor.execute(sql, params).fetchall():
        if fixed is not None:
            fixed = day_of.get(fixed) or day_of.setdefault(
                fixed, max(date.fromisoformat(fixed), as_of))
        if now:
            release = as_of
        else:
            starts = [d for d in (fixed, postponed and max(date.fromisoformat(postponed),
                                                           as_of)) if d]
            release = min(starts) if starts else as_of
        due = _Due(pid, priority, sort_key or "", release, fixed, bool(is_urgent),
                   date.fromisoformat(limit) if limit else None, reached.get(pid))
        if due.urgent:
            due.fixed = as_of
        found[mgr].append(due)
    return found


def _reasons(session: Session, pids: Sequence[str], as_of: date) -> dict[str, list[str]]:
    """The reasons the plan places each of these patients for (for display)."""
    horizon = as_of + timedelta(days=POSTPONED_HORIZON_DAYS)
    found: dict[str, list[str]] = {}
    cursor = _cursor(session)
    for start in range(0, len(pids), 500):
        params: dict[str, Any] = {
            "as_of": as_of.isoformat(), "horizon": horizon.isoformat(),
            "horizon_utc": stored(from_local(horizon, datetime.min.time()))}
        chosen = _named("p", pids[start:start + 500], params)
        for pid, reason in cursor.execute(
                f"SELECT r.patient_id, r.reason FROM reminder r WHERE r.patient_id IN "
                f"({chosen}) AND {_PLANNABLE_SQL} ORDER BY r.points DESC, r.due_date",
                params):
            found.setdefault(pid, []).append(reason)
    return found


# ------------------------------------------------------------------------------ placing


@dataclass
class _Slot:
    day: date
    state: str = "open"
    urgent: bool = False
    pinned: bool = False
    carried_from: date | None = None
    rank: int = 0


class _Days:
    """The plan's days from `as_of`: today, then her working days; loads per day."""

    def __init__(self, capacity: Capacity, as_of: date) -> None:
        self.capacity = capacity
        self.as_of = as_of
        self.days: list[date] = [as_of]
        self.load: dict[date, int] = defaultdict(int)
        self.ranks: dict[date, int] = defaultdict(int)
        self._free = 0  # index of the first day that may have room (from as_of)

    def cap(self, day: date) -> int:
        if day == self.as_of or self.capacity.works_on(day):
            return self.capacity.per_day
        return 0

    def _day(self, index: int) -> date:
        while index >= len(self.days):
            following = self.days[-1] + timedelta(days=1)
            while not self.capacity.works_on(following):
                following += timedelta(days=1)
            self.days.append(following)
        return self.days[index]

    def index_of(self, day: date) -> int:
        """The index of the first plan day on or after `day`."""
        index = 0
        while self._day(index) < day:
            index += 1
        return index

    def put(self, day: date, slot: _Slot) -> _Slot:
        self.load[day] += 1
        self.ranks[day] += 1
        slot.rank = self.ranks[day]
        return slot

    def first_free(self, release: date) -> date:
        """The first day from `release` whose load is under its capacity."""
        if release <= self.as_of:
            index = self._free
            while self.load[self._day(index)] >= self.cap(self._day(index)):
                index += 1
            self._free = index
        else:
            index = self.index_of(release)
            while self.load[self._day(index)] >= self.cap(self._day(index)):
                index += 1
        return self._day(index)

    def last_before(self, deadline: date, release: date) -> date:
        """The last plan day on or before `deadline` (not before release, nor today)."""
        best = max(release, self.as_of)
        index = 0
        while self._day(index) <= deadline:
            if self._day(index) >= best:
                best = self._day(index)
            index += 1
        return best


def _place(dues: Sequence[_Due], kept: dict[str, _Slot], capacity: Capacity, as_of: date,
           new_day: bool = False) -> dict[str, _Slot]:
    """Every due patient's day (and today's contacted ones, kept as done). On the first
    build of a day (`new_day`), what was left of an earlier day comes first in today's
    share; the patients planned for today that it leaves no room for go to the first
    days with room, in their order."""
    days = _Days(capacity, as_of)
    by_pid = {d.pid: d for d in dues}
    final: dict[str, _Slot] = {}
    carried: list[tuple[_Due, date]] = []
    bumped: list[_Due] = []  # planned today, after the leftovers of an earlier day
    leftovers = new_day and any(s.day < as_of and s.state == "open" for s in kept.values())
    # 1. What stays where it is.
    for pid, slot in sorted(kept.items(), key=lambda item: (item[1].day, item[1].rank)):
        due = by_pid.get(pid)
        later = due is not None and due.fixed is not None and due.fixed > as_of
        if slot.day == as_of and not (later and slot.state == "open"):
            if due is None or (due.reached is not None and due.reached >= as_of):
                slot.state = "done"  # contacted or settled today: still today's load
            elif leftovers and not (slot.urgent or slot.pinned):
                bumped.append(due)  # placed after the leftovers below
                continue
            final[pid] = days.put(as_of, slot)
            continue
        if due is None:
            continue
        if slot.day < as_of:
            if slot.state == "open" and not (due.reached is not None
                                             and due.reached >= slot.day):
                carried.append((due, slot.carried_from or slot.day))
            continue
        moved_fixed = due.fixed is not None and due.fixed != slot.day and not slot.pinned
        too_early = slot.day < due.release
        off_day = not slot.urgent and not slot.pinned and days.cap(slot.day) == 0
        if moved_fixed or too_early or off_day:
            continue
        slot.state = "open"
        slot.urgent = due.fixed is not None or (slot.urgent and due.deadline is not None)
        final[pid] = days.put(slot.day, slot)
    # 2. Over-capacity days (the capacity went down): the last placed leave them.
    by_day: dict[date, list[str]] = defaultdict(list)
    for pid, slot in final.items():
        if not slot.urgent and not slot.pinned:
            by_day[slot.day].append(pid)
    for day, pids in by_day.items():
        surplus = len(pids) - days.cap(day)
        if surplus <= 0:
            continue
        movable = sorted((p for p in pids if final[p].state == "open"),
                         key=lambda p: final[p].rank, reverse=True)
        for pid in movable[:surplus]:
            days.load[day] -= 1
            del final[pid]
    # 3. Urgent work on its day, then yesterday's leftovers, then the rest by priority.
    todo = [d for d in dues if d.pid not in final]
    for due in todo:
        if due.fixed is not None or due.urgent:
            day = due.fixed if due.fixed is not None else as_of
            final[due.pid] = days.put(day, _Slot(day, urgent=True))
    carried_ids = {due.pid for due, _ in carried}
    for due, since in sorted(carried, key=lambda c: (c[1], -c[0].priority, c[0].sort_key,
                                                     c[0].pid)):
        if due.pid in final:
            continue
        day = days.first_free(due.release)
        final[due.pid] = _fill(days, due, day, since)
    for due in bumped:
        if due.pid not in final:
            final[due.pid] = _fill(days, due, days.first_free(due.release), None)
    bumped_ids = {due.pid for due in bumped}
    rest = sorted((d for d in todo if d.pid not in final and d.pid not in carried_ids
                   and d.pid not in bumped_ids),
                  key=lambda d: (-d.priority, d.sort_key, d.pid))
    for due in rest:
        final[due.pid] = _fill(days, due, days.first_free(due.release), None)
    return final


def _fill(days: _Days, due: _Due, day: date, carried_from: date | None) -> _Slot:
    if due.deadline is not None and day > due.deadline:
        # The fill would miss the deadline: on its last day before, as urgent work.
        last = days.last_before(due.deadline, due.release)
        return days.put(last, _Slot(last, urgent=True, carried_from=carried_from))
    return days.put(day, _Slot(day, carried_from=carried_from))


# ------------------------------------------------------------------------------ rebuild


@dataclass(frozen=True)
class PlanReport:
    managers: int
    patients: int
    written: int  # assignments inserted, moved or deleted
    seconds: float


_CAPACITY = PlanCapacity.__table__  # type: ignore[attr-defined]


def _kept(session: Session, managers: Sequence[uuid.UUID]
          ) -> dict[str, dict[str, _Slot]]:
    found: dict[str, dict[str, _Slot]] = defaultdict(dict)
    cursor = _cursor(session)
    for start in range(0, len(managers), 500):
        params: dict[str, Any] = {}
        chosen = _named("u", [m.hex for m in managers[start:start + 500]], params)
        rows = cursor.execute(
            "SELECT user_id, patient_id, day, state, urgent, pinned, carried_from, rank "
            f"FROM plan_assignment WHERE user_id IN ({chosen})", params).fetchall()
        for mgr, pid, day, state, urgent, pinned, carried, rank in rows:
            found[mgr][pid] = _Slot(date.fromisoformat(day), state, bool(urgent), bool(pinned),
                                    date.fromisoformat(carried) if carried else None, rank)
    return found


def rebuild_plans(session: Session, *, as_of: date, managers: Sequence[uuid.UUID],
                  rules: RuleSet | None = None) -> PlanReport:
    """Rebuild the contact plans of these care managers (user ids) for `as_of`, in the
    caller's transaction; only the assignments that changed are written."""
    started = clock.perf_counter()
    ruleset = rules or load_rules()
    managers = list(dict.fromkeys(managers))
    if not managers:
        return PlanReport(0, 0, 0, 0.0)
    capacities: dict[str, Any] = {}
    built: dict[str, date | None] = {}
    names = dict(session.execute(
        sa_select(col(User.id), col(User.name)).where(col(User.id).in_(managers))).all())
    for row in session.execute(sa_select(PlanCapacity).where(
            col(PlanCapacity.user_id).in_(managers))).scalars():
        capacities[row.user_id.hex] = row
        built[row.user_id.hex] = row.built_on
    dues = _gather(session, ruleset, managers, as_of)
    kept = _kept(session, managers)
    deletes: list[dict[str, Any]] = []
    upserts: list[dict[str, Any]] = []
    placed = 0
    for manager in managers:
        mgr = manager.hex
        capacity = _capacity_of(names.get(manager, ""), capacities.get(mgr))
        old = kept.get(mgr, {})
        previous = built.get(mgr)
        start = {} if previous is not None and previous > as_of else {
            pid: _Slot(s.day, s.state, s.urgent, s.pinned, s.carried_from, s.rank)
            for pid, s in old.items()}
        final = _place(dues.get(mgr, []), start, capacity, as_of,
                       new_day=previous is not None and previous < as_of)
        placed += len(final)
        for pid in old.keys() - final.keys():
            deletes.append({"u": mgr, "p": pid})
        for pid, slot in final.items():
            before = old.get(pid)
            if before is None or (before.day, before.state, before.urgent, before.pinned,
                                  before.carried_from, before.rank) != (
                    slot.day, slot.state, slot.urgent, slot.pinned, slot.carried_from,
                    slot.rank):
                upserts.append({"u": mgr, "p": pid, "day": slot.day.isoformat(),
                                "state": slot.state, "urgent": slot.urgent,
                                "pinned": slot.pinned,
                                "carried": slot.carried_from.isoformat()
                                if slot.carried_from else None, "rank": slot.rank})
    cursor = _cursor(session)
    if deletes:
        cursor.executemany("DELETE FROM plan_assignment WHERE user_id = :u AND "
                           "patient_id = :p", deletes)
    if upserts:
        cursor.executemany((
            "INSERT INTO plan_assignment (user_id, patient_id, day, state, urgent, pinned, "
            "carried_from, rank) VALUES (:u, :p, :day, :state, :urgent, :pinned, :carried, "
            ":rank) ON CONFLICT (user_id, patient_id) DO UPDATE SET day = excluded.day, "
            "state = excluded.state, urgent = excluded.urgent, pinned = excluded.pinned, "
            "carried_from = excluded.carried_from, rank = excluded.rank"), upserts)
    missing = [m for m in managers if m.hex not in capacities]
    if missing:
        now = utcnow()
        session.execute(insert(_CAPACITY), [
            {"user_id": m, "per_day": DEFAULT_CALLS_PER_DAY, "days": DEFAULT_WORKING_DAYS,
             "built_on": as_of, "updated_at": now} for m in missing])
    stale = [m for m in managers if m.hex in capacities and built.get(m.hex) != as_of]
    if stale:
        session.execute(update(_CAPACITY).where(_CAPACITY.c.user_id.in_(stale))
                        .values(built_on=as_of))
    for obj in list(session.identity_map.values()):
        if isinstance(obj, PlanCapacity | PlanAssignment):
            session.expire(obj)
    return PlanReport(len(managers), placed, len(deletes) + len(upserts),
                      clock.perf_counter() - started)


def rebuild_plan(session: Session, *, user: str, as_of: date, rules: RuleSet | None = None
                 ) -> PlanReport:
    """Rebuild `user`'s contact plan for `as_of` (see rebuild_plans)."""
    manager = user_id(session, user)
    if manager is None:
        return PlanReport(0, 0, 0, 0.0)
    return rebuild_plans(session, as_of=as_of, managers=[manager], rules=rules)


# ------------------------------------------------------------------------------ reading


@dataclass(frozen=True)
class PlanEntry:
    patient_id: uuid.UUID
    ins: str | None
    name: str
    reasons: tuple[str, ...]
    priority: int
    state: str  # open, done
    urgent: bool
    pinned: bool
    carried_from: date | None

    def as_json(self) -> dict[str, Any]:
        return {"patient_id": str(self.patient_id), "ins": self.ins, "name": self.name,
                "reasons": list(self.reasons), "priority": self.priority,
                "state": self.state, "urgent": self.urgent, "moved": self.pinned,
                "carried_from": self.carried_from.isoformat() if self.carried_from else None}


@dataclass(frozen=True)
class PlanDay:
    day: date
    capacity: int
    patients: tuple[PlanEntry, ...] = ()

    @property
    def load(self) -> int:
        return len(self.patients)

    @property
    def urgent(self) -> int:
        return sum(1 for p in self.patients if p.urgent or p.pinned)

    @property
    def carried_over(self) -> int:
        return sum(1 for p in self.patients if p.carried_from is not None)

    def as_json(self) -> dict[str, Any]:
        return {"day": self.day.isoformat(), "load": self.load, "capacity": self.capacity,
                "urgent": self.urgent, "carried_over": self.carried_over,
                "done": sum(1 for p in self.patients if p.state == "done"),
                "patients": [p.as_json() for p in self.patients]}


@dataclass(frozen=True)
class ContactPlan:
    user: str
    as_of: date
    capacity: Capacity
    days: tuple[PlanDay, ...]
    beyond: int = 0  # patients planned after the last day shown
    total: int = 0  # patients in the whole plan

    def day(self, day: date) -> PlanDay | None:
        return next((d for d in self.days if d.day == day), None)

    def as_json(self) -> list[dict[str, Any]]:
        return [d.as_json() for d in self.days]


@dataclass
class _Row:
    pid: str
    day: date
    state: str
    urgent: bool
    pinned: bool
    carried: date | None
    rank: int
    reasons: list[str] = field(default_factory=list)
    priority: int = 0


def contact_plan(session: Session, *, user: str, as_of: date, days: int = 10,
                 rules: RuleSet | None = None) -> ContactPlan:
    """`user`'s plan rebuilt for `as_of`, its first `days` plan days (today, then her
    working days): per day the patients (in the order they were placed), their reasons,
    the load against the capacity."""
    require_caseload_access(session, owner=user, purpose="contact plan")
    if days < 1:
        raise InputError("Show at least one day (--days).", "Au moins un jour.")
    ruleset = rules or load_rules()
    rebuild_plan(session, user=user, as_of=as_of, rules=ruleset)
    capacity = get_capacity(session, user=user)
    manager = user_id(session, user)
    plan_days = _Days(capacity, as_of)
    shown = [plan_days._day(i) for i in range(days)]
    if manager is None:
        return ContactPlan(user, as_of, capacity,
                           tuple(PlanDay(d, plan_days.cap(d)) for d in shown))
    rows = [_Row(pid, date.fromisoformat(day), state, bool(urgent), bool(pinned),
                 date.fromisoformat(carried) if carried else None, rank)
            for pid, day, state, urgent, pinned, carried, rank in session.connection().execute(
                text("SELECT patient_id, day, state, urgent, pinned, carried_from, rank FROM "
                     "plan_assignment WHERE user_id = :u AND day >= :d"),
                {"u": manager.hex, "d": as_of.isoformat()})]
    dues = {d.pid: d for d in _gather(session, ruleset, [manager], as_of).get(manager.hex, [])}
    inside = [r for r in rows if r.day <= shown[-1]]
    reasons = _reasons(session, [r.pid for r in inside], as_of)
    names = _names(session, [r.pid for r in inside])
    per_day: dict[date, list[PlanEntry]] = defaultdict(list)
    for row in sorted(inside, key=lambda r: (r.day, r.rank)):
        due = dues.get(row.pid)
        ins, name = names.get(row.pid, (None, ""))
        per_day[row.day].append(PlanEntry(
            uuid.UUID(hex=row.pid), ins, name,
            tuple(dict.fromkeys(reasons.get(row.pid, ()))), due.priority if due else 0,
            row.state, row.urgent, row.pinned, row.carried))
    return ContactPlan(user, as_of, capacity,
                       tuple(PlanDay(d, plan_days.cap(d), tuple(per_day.get(d, ())))
                             for d in shown),
                       beyond=len(rows) - len(inside), total=len(rows))


def _names(session: Session, pids: Iterable[str]) -> dict[str, tuple[str | None, str]]:
    found: dict[str, tuple[str | None, str]] = {}
    ids = list(pids)
    for start in range(0, len(ids), 500):
        for pid, ins, birth, used, given, sex in session.connection().execute(text(
                "SELECT id, ins, birth_name, used_name, given_names, sex FROM patient "
                "WHERE id IN :ids").bindparams(bindparam("ids", expanding=True)),
                {"ids": ids[start:start + 500]}):
            found[pid] = (ins, display_name(birth_name=birth, used_name=used,
                                            given_names=given, sex=sex))
    return found


def move_patient(session: Session, *, user: str, patient_id: uuid.UUID, day: date,
                 actor: str, as_of: date | None = None) -> None:
    """Move a planned patient to another day of `user`'s plan (audited); she stays there
    (pinned) whatever the load, until she is contacted or no longer due."""
    require_caseload_access(session, owner=user, purpose="contact plan")
    today = as_of or date.today()
    if day < today:
        raise InputError("A patient cannot be planned on a past day.",
                         "Impossible de planifier un patient sur un jour passé.")
    manager = user_id(session, user)
    row = session.get(PlanAssignment, (manager, patient_id)) if manager else None
    if row is None or row.state != "open":
        raise InputError("This patient is not in the plan to be called.",
                         "Ce patient n'est pas dans le plan à appeler.")
    before = row.day
    if before == day:
        return
    rank = session.execute(sa_select(col(PlanAssignment.rank)).where(
        col(PlanAssignment.user_id) == manager, col(PlanAssignment.day) == day)
        .order_by(col(PlanAssignment.rank).desc()).limit(1)).scalar()
    row.day, row.pinned, row.rank = day, True, (rank or 0) + 1
    session.add(row)
    session.flush()
    log_changes(session, [Change(actor, "plan_assignment", f"{manager}:{patient_id}", "update",
                                 {"user": user, "patient_id": str(patient_id),
                                  "from_day": before.isoformat(), "day": day.isoformat()})])


def share_ids(session: Session, *, manager: uuid.UUID, day: date) -> list[str]:
    """The patients (hex ids) of a plan's day, contacted ones included."""
    return list(session.connection().execute(text(
        "SELECT patient_id FROM plan_assignment WHERE user_id = :u AND day = :d"),
        {"u": manager.hex, "d": day.isoformat()}).scalars())


def carried_over(session: Session, *, user: str, day: date) -> int:
    """How many of the day's patients were carried over from an earlier day."""
    manager = user_id(session, user)
    if manager is None:
        return 0
    return int(session.connection().execute(text(
        "SELECT count(*) FROM plan_assignment WHERE user_id = :u AND day = :d "
        "AND carried_from IS NOT NULL AND state = 'open'"),
        {"u": manager.hex, "d": day.isoformat()}).scalar_one())
