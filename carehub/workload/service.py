"""The supervisor's figures per care manager over a period, set-wise in SQL.

Every figure is one GROUP BY over the whole team (never a query per care manager):
- patients followed (active or paused, not deceased) by care manager and fragility level;
- reminders overdue at the period's end (due before it, not settled by then);
- actions in the period by author and type: calls, calls reached, call durations, referrals;
- calls per week (reached or not) for the charts;
- screening and vaccination coverage at the period's end, from the prevention engine's
  set-wise evaluation (`carehub.prevention.engine.coverage`), counted per care manager.

No clinical content leaves this module: counts and rates only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from carehub.caseload.models import FRAGILITY_LEVELS, Patient
from carehub.coordination.models import ACTION_TYPES, CoordinationAction
from carehub.errors import InputError
from carehub.prevention.engine import FOLLOWED_STATUSES
from carehub.prevention.models import CLOSED_STATES, Reminder
from carehub.prevention.rules import RuleSet, load_rules
from carehub.users.access import roles_set_up
from carehub.users.models import User
from carehub.workload.coverage_cache import COVERAGE_CODES, coverage_by_owner

COVERAGE_LABELS_FR = {
    "screening.breast": "Dépistage du cancer du sein",
    "screening.colorectal": "Dépistage du cancer colorectal",
    "screening.cervical": "Dépistage du cancer du col de l'utérus",
    "vaccine.flu": "Vaccination contre la grippe",
}
FRAGILITY_KEYS = (*(str(level) for level in FRAGILITY_LEVELS), "unknown")
REACHED = "reached"
DEFAULT_DAYS = 30
WEEKS_SHOWN = 13  # calls per week: at least the last quarter, or the whole period
TEAM = "team"


@dataclass(frozen=True)
class Rate:
    code: str
    label_fr: str
    numerator: int  # eligible patients up to date
    denominator: int  # eligible patients
    as_of: date  # the day measured (flu outside its campaign: the last campaign's end)

    @property
    def rate(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None

    def as_json(self) -> dict[str, Any]:
        return {"numerator": self.numerator, "denominator": self.denominator,
                "rate": None if self.rate is None else round(self.rate, 4),
                "as_of": self.as_of.isoformat()}


@dataclass(frozen=True)
class Figures:
    """One care manager's figures (or the team's, user "team") over the period."""

    user: str
    display_name: str
    patients: int = 0
    by_fragility: dict[str, int] = field(default_factory=dict)  # "0".."3", "unknown"
    overdue: int = 0  # reminders overdue at the period's end
    overdue_patients: int = 0
    calls: int = 0
    reached: int = 0
    call_seconds: int = 0  # total duration of the calls whose duration was logged
    timed_calls: int = 0
    actions: dict[str, int] = field(default_factory=dict)  # per action type
    coverage: dict[str, Rate] = field(default_factory=dict)

    @property
    def reached_share(self) -> float | None:
        return self.reached / self.calls if self.calls else None

    @property
    def average_call_s(self) -> float | None:
        return self.call_seconds / self.timed_calls if self.timed_calls else None

    @property
    def referrals(self) -> int:
        return self.actions.get("referral", 0)

    def as_json(self) -> dict[str, Any]:
        share, average = self.reached_share, self.average_call_s
        return {
            "user": self.user, "display_name": self.display_name,
            "patients": self.patients, "overdue": self.overdue, "calls": self.calls,
            "reached": self.reached,
            "reached_share": None if share is None else round(share, 4),
            "average_call_s": None if average is None else round(average, 1),
            "referrals": self.referrals, "overdue_patients": self.overdue_patients,
            "patients_by_fragility": dict(self.by_fragility),
            "actions": dict(self.actions),
            "coverage": {code: rate.as_json() for code, rate in self.coverage.items()},
        }


@dataclass(frozen=True)
class WeekCalls:
    week: date  # the Monday
    user: str
    calls: int
    reached: int


@dataclass(frozen=True)
class Workload:
    date_from: date
    date_to: date
    managers: list[Figures]
    team: Figures
    weekly: list[WeekCalls]  # per week and care manager, oldest first
    source: str = "local"  # "local" or the hub's address
    unavailable: tuple[str, ...] = ()  # figures the source cannot give (hub: coverage)


def default_period(today: date) -> tuple[date, date]:
    """The last 30 days up to today, both included."""
    return today - timedelta(days=DEFAULT_DAYS - 1), today


def check_period(date_from: date, date_to: date) -> None:
    if date_from > date_to:
        raise InputError(f"The period starts ({date_from}) after it ends ({date_to}).",
                         f"La période commence ({date_from:%d/%m/%Y}) après sa fin "
                         f"({date_to:%d/%m/%Y}).")


def utc_bounds(date_from: date, date_to: date) -> tuple[datetime, datetime]:
    """The period's first and first-after-last instants (local days), in UTC."""
    def at(day: date) -> datetime:
        return datetime.combine(day, time.min).astimezone().astimezone(UTC)
    return at(date_from), at(date_to + timedelta(days=1))


def weekly_start(date_from: date, date_to: date) -> date:
    """The Monday the calls-per-week series starts on."""
    first = min(date_from, date_to - timedelta(weeks=WEEKS_SHOWN - 1))
    return first - timedelta(days=first.weekday())


# ------------------------------------------------------------------------------ assembling


@dataclass
class Raw:
    """The grouped rows of every figure, keyed by user name, before assembling."""

    names: dict[str, str] = field(default_factory=dict)  # user -> display name (listed)
    patients: dict[tuple[str, str], int] = field(default_factory=dict)  # (user, level)
    overdue: dict[str, tuple[int, int]] = field(default_factory=dict)  # reminders, patients
    actions: dict[tuple[str, str], tuple[int, int, int, int]] = field(default_factory=dict)
    # (user, type) -> (count, reached, seconds, timed)
    weekly: list[WeekCalls] = field(default_factory=list)
    coverage: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    # (user, code) -> (up to date, eligible)
    coverage_days: dict[str, date] = field(default_factory=dict)


def _figures(user: str, display: str, raw: Raw, users: set[str] | None) -> Figures:
    def mine(key: str) -> bool:
        return key == user if users is None else key in users
    by_level = dict.fromkeys(FRAGILITY_KEYS, 0)
    for (who, level), n in raw.patients.items():
        if mine(who):
            by_level[level] += n
    overdue = [v for who, v in raw.overdue.items() if mine(who)]
    per_type: dict[str, int] = dict.fromkeys(ACTION_TYPES, 0)
    calls = reached = seconds = timed = 0
    for (who, kind), (n, ok, secs, with_time) in raw.actions.items():
        if not mine(who):
            continue
        per_type[kind] = per_type.get(kind, 0) + n
        if kind == "call":
            calls, reached = calls + n, reached + ok
            seconds, timed = seconds + secs, timed + with_time
    rates = {}
    for code, day in raw.coverage_days.items():
        pairs = [v for (who, c), v in raw.coverage.items() if c == code and mine(who)]
        rates[code] = Rate(code=code, label_fr=COVERAGE_LABELS_FR.get(code, code),
                           numerator=sum(p[0] for p in pairs),
                           denominator=sum(p[1] for p in pairs), as_of=day)
    return Figures(user=user, display_name=display, patients=sum(by_level.values()),
                   by_fragility=by_level, overdue=sum(o[0] for o in overdue),
                   overdue_patients=sum(o[1] for o in overdue), calls=calls, reached=reached,
                   call_seconds=seconds, timed_calls=timed, actions=per_type, coverage=rates)


def assemble(raw: Raw, *, date_from: date, date_to: date, users: Sequence[str] | None,
             source: str = "local", unavailable: tuple[str, ...] = ()) -> Workload:
    """Figures per care manager (of `users`, else every one listed) and the team's."""
    chosen = sorted(raw.names) if users is None else [u for u in users if u in raw.names]
    managers = [_figures(u, raw.names[u], raw, None) for u in chosen]
    team = _figures(TEAM, "Équipe", raw, set(chosen))
    weekly = [w for w in raw.weekly if w.user in set(chosen)]
    return Workload(date_from=date_from, date_to=date_to, managers=managers, team=team,
                    weekly=weekly, source=source, unavailable=unavailable)


# ------------------------------------------------------------------------------ local SQL


def _local_raw(session: Session, *, date_from: date, date_to: date,
               rules: RuleSet | None) -> Raw:
    raw = Raw()
    names = {uid: name for uid, name in session.execute(sa_select(col(User.id),
                                                                  col(User.name)))}
    followed = and_(col(Patient.status).in_(FOLLOWED_STATUSES),
                    col(Patient.deceased_date).is_(None))
    # Grouped by the care manager's id, named afterwards: joining the users row by row
    # cost more than the counting.
    rows = session.execute(
        sa_select(col(Patient.care_manager_id), col(Patient.fragility_level), func.count())
        .where(followed, col(Patient.care_manager_id).is_not(None))
        .group_by(col(Patient.care_manager_id), col(Patient.fragility_level)))
    for manager, level, n in rows:
        if manager in names:
            key = (names[manager], "unknown" if level is None else str(level))
            raw.patients[key] = raw.patients.get(key, 0) + n

    end = date_to
    settled_after = or_(col(Reminder.closed_on).is_(None), col(Reminder.closed_on) > end)
    not_postponed = or_(col(Reminder.state) != "postponed",
                        col(Reminder.postponed_until).is_(None),
                        col(Reminder.postponed_until) <= end)
    # Due before the end and not settled by then (the rows keep no state history: one
    # closed after the end counts, one open now counts whenever it was created).
    open_at_end = and_(col(Reminder.due_date) < end, settled_after, not_postponed,
                       or_(col(Reminder.state).not_in(CLOSED_STATES),
                           col(Reminder.closed_on).is_not(None)))
    # Counted per patient from ix_reminder_overdue alone, then per care manager.
    per_patient = (sa_select(col(Reminder.patient_id).label("pid"), func.count().label("n"))
                   .where(open_at_end).group_by(col(Reminder.patient_id)).subquery())
    rows = session.execute(
        sa_select(col(Patient.care_manager_id), func.sum(per_patient.c.n), func.count())
        .select_from(per_patient).join(Patient, col(Patient.id) == per_patient.c.pid)
        .where(followed).group_by(col(Patient.care_manager_id)))
    raw.overdue = {names[manager]: (int(n), people) for manager, n, people in rows
                   if manager in names}

    start, stop = utc_bounds(date_from, date_to)
    action = CoordinationAction
    current = _not_amended(session)
    is_reached = case((col(action.outcome) == REACHED, 1), else_=0)
    timed = case((col(action.duration_s).is_not(None), 1), else_=0)
    rows = session.execute(
        sa_select(col(action.author), col(action.type), func.count(), func.sum(is_reached),
                  func.coalesce(func.sum(action.duration_s), 0), func.sum(timed))
        .where(col(action.at) >= start, col(action.at) < stop, current)
        .group_by(col(action.author), col(action.type)))
    raw.actions = {(a, t): (n, int(ok or 0), int(s or 0), int(w or 0))
                   for a, t, n, ok, s, w in rows}

    monday = weekly_start(date_from, date_to)
    week_start, _ = utc_bounds(monday, date_to)
    week = func.date(action.at, "weekday 0", "-6 days")
    rows = session.execute(
        sa_select(col(action.author), week, func.count(), func.sum(is_reached))
        .where(col(action.type) == "call", col(action.at) >= week_start,
               col(action.at) < stop, current)
        .group_by(col(action.author), week).order_by(week, col(action.author)))
    raw.weekly = [WeekCalls(week=date.fromisoformat(w), user=a, calls=n, reached=int(ok or 0))
                  for a, w, n, ok in rows]

    for code, found in coverage_by_owner(session, as_of=date_to, codes=COVERAGE_CODES,
                                         rules=rules or load_rules()).items():
        raw.coverage_days[code] = found.as_of
        for who, pair in found.by_owner.items():
            raw.coverage[(who, code)] = pair

    listed = session.execute(sa_select(col(User.name), col(User.display_name), col(User.role),
                                       col(User.active)))
    active = {who for who, _ in raw.patients} | {who for who, _ in raw.actions}
    raw.names = {name: display or name for name, display, role, is_active in listed
                 if (role == "care_manager" and is_active) or name in active}
    return raw


def _not_amended(session: Session) -> Any:
    """An action a later correction replaced is counted once, as its correction."""
    amended = (sa_select(col(CoordinationAction.amends_id))
               .where(col(CoordinationAction.amends_id).is_not(None)))
    return col(CoordinationAction.id).not_in(amended)


def visible_users(session: Session, *, viewer: str | None,
                  users: Sequence[str] | None) -> Sequence[str] | None:
    """Whose figures `viewer` may see: a supervisor or an administrator the whole team
    (or the `users` asked for), a care manager her own only."""
    if viewer is None:
        return users
    role = session.execute(sa_select(col(User.role)).where(col(User.name) == viewer)).scalar()
    if role in ("supervisor", "administrator") or not roles_set_up(session):
        # A workstation whose roles are not set up (carehub.users.access) has no one to
        # restrict figures to; they carry no clinical content (the hub's RLS is the lock).
        return users
    others = sorted(set(users or ()) - {viewer})
    if others:
        raise InputError(f"{viewer} is not a supervisor and may only see her own figures, "
                         f"not those of {', '.join(others)}.",
                         f"{viewer} n'est pas superviseure : elle ne voit que ses propres "
                         f"chiffres, pas ceux de {', '.join(others)}.")
    return [viewer]


def workload(session: Session, *, date_from: date, date_to: date,
             users: Sequence[str] | None = None, viewer: str | None = None,
             rules: RuleSet | None = None) -> Workload:
    """The figures of every care manager (or of `users`) from the local database; when a
    `viewer` is named, only what her role lets her see (`visible_users`)."""
    check_period(date_from, date_to)
    users = visible_users(session, viewer=viewer, users=users)
    ruleset = rules or load_rules()
    raw = _local_raw(session, date_from=date_from, date_to=date_to, rules=ruleset)
    return assemble(raw, date_from=date_from, date_to=date_to, users=users)


def care_managers(session: Session) -> list[tuple[str, str]]:
    """(name, display name) of the team's care managers, for the team filter."""
    rows = session.execute(sa_select(col(User.name), col(User.display_name))
                           .where(col(User.role) == "care_manager", col(User.active))
                           .order_by(col(User.name)))
    return [(name, display or name) for name, display in rows]


__all__ = ["COVERAGE_CODES", "Figures", "Rate", "WeekCalls", "Workload", "care_managers",
           "default_period", "workload"]
