"""The contact plan: building it for a 1,000-patient caseload (target < 50 ms) and for a
50-nurse team of 50,000 patients (< 1 s), beside a naive day-by-day greedy loop in Python
over the ORM measured in the same run.

Ours (carehub.prevention.plan.rebuild_plans), over the stored reminders recomputed once
beforehand as the start of the day does: one SELECT gathers every due patient of every
care manager, a linear pass places them, only what changed is written. Two figures:
- from scratch: no assignment stored yet (the first build of a plan, the worst case);
- again: the plan rebuilt with nothing changed (what each call-list read costs).
Naive baseline: per care manager, her patients through the ORM, each one's reminders one
query at a time, the priority in Python, then day after day the urgent ones and the most
urgent of the rest up to the capacity; it must place the same patients (checked).

The 50,000-patient demo's patients are dealt to 50 care managers (by rowid) inside the
measuring transaction, rolled back at the end.

    PYTHONPATH=. python bench/bench_plan.py [--sizes 1000,50000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import time as clock
import uuid
from datetime import UTC, date, timedelta
from typing import Any

from common import median, print_table
from prevention_common import AS_OF, USER, demo_database, ms
from sqlalchemy import text
from sqlmodel import Session, select

from carehub.caseload.models import Patient
from carehub.caseload.summary import age_on
from carehub.prevention.models import OPEN_STATES, Reminder
from carehub.prevention.plan import get_capacity, rebuild_plans
from carehub.prevention.rules import RuleSet, load_rules
from carehub.prevention.services import recompute_reminders
from carehub.users.models import User
from carehub.users.services import ensure_user

TARGETS = {1000: 0.050, 50000: 1.0}
NURSES = {1000: 1, 50000: 50}


def naive_plan(session: Session, rules: RuleSet, managers: list[uuid.UUID]
               ) -> dict[uuid.UUID, date]:
    """Every due patient's day, care manager by care manager, day by day, via the ORM."""
    weights = rules.priority
    horizon = AS_OF + timedelta(days=183)
    placed: dict[uuid.UUID, date] = {}
    for manager in managers:
        user = session.get(User, manager)
        assert user is not None
        capacity = get_capacity(session, user=user.name)
        due: list[tuple[int, str, uuid.UUID, date | None, bool]] = []
        for patient in session.exec(select(Patient).where(Patient.care_manager_id == manager)):
            if patient.status != "active" or patient.deceased_date is not None:
                continue
            reminders = [r for r in session.exec(select(Reminder).where(
                Reminder.patient_id == patient.id)) if r.state in OPEN_STATES
                and _plannable(r, horizon)]
            if not reminders:
                continue
            top = max(_points(r, rules) for r in reminders)
            age = age_on(patient.birth_date, AS_OF)
            priority = (top + (patient.fragility_level or 0) * weights.per_fragility_level
                        + (weights.age_85 if age >= 85 else weights.age_75 if age >= 75
                           else 0) + weights.per_other_reason * (len(reminders) - 1))
            planned = [r.planned_at.replace(tzinfo=UTC).astimezone().date()
                       for r in reminders if r.state == "planned" and r.planned_at]
            fixed = max(min(planned), AS_OF) if planned else None
            urgent = any(r.escalation for r in reminders) or any(
                r.reason == "followup.discharge" and r.due_date + timedelta(days=2) >= AS_OF
                for r in reminders)
            due.append((-priority, patient.sort_key, patient.id, fixed, urgent))
        due.sort()
        waiting = list(due)
        day = AS_OF
        while waiting:
            works = day == AS_OF or capacity.works_on(day)
            load = 0
            rest = []
            for item in waiting:
                _, _, pid, fixed, urgent = item
                if (fixed == day) or (urgent and day == AS_OF):
                    placed[pid] = day
                    load += 1
                else:
                    rest.append(item)
            waiting = []
            for item in rest:
                if works and load < capacity.per_day and item[3] is None:
                    placed[item[2]] = day
                    load += 1
                else:
                    waiting.append(item)
            day += timedelta(days=1)
    return placed


def _plannable(r: Reminder, horizon: date) -> bool:
    return ((r.state == "due" and r.due_date <= AS_OF)
            or (r.state == "planned" and r.planned_at is not None
                and r.planned_at.replace(tzinfo=UTC).astimezone().date() < horizon)
            or (r.state == "postponed" and r.postponed_until is not None
                and r.postponed_until <= horizon)
            or (r.state == "unreachable" and r.escalation is not None))


def _points(r: Reminder, rules: RuleSet) -> int:
    weights = rules.priority
    overdue = min(max((AS_OF - r.due_date).days, 0), weights.overdue_days_cap)
    return r.points + overdue * weights.per_overdue_day + (
        weights.escalation if r.escalation else 0)


def _team(session: Session, nurses: int) -> list[uuid.UUID]:
    """The demo's patients dealt to `nurses` care managers (the first is the demo's)."""
    ids = [ensure_user(session, name=USER).id] + [
        ensure_user(session, name=f"{USER}{n:02d}").id for n in range(1, nurses)]
    if nurses > 1:
        session.connection().execute(text(
            "UPDATE patient SET care_manager_id = CASE rowid % :n "
            + " ".join(f"WHEN {i} THEN '{m.hex}'" for i, m in enumerate(ids))
            + " END"), {"n": nurses})
    return ids


def timed(repeat: int, job: Any, before: Any = None) -> float:
    times = []
    for _ in range(repeat):
        if before is not None:
            before()
        started = clock.perf_counter()
        job()
        times.append(clock.perf_counter() - started)
    return median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,50000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--naive-nurses", type=int, default=5,
                        help="on a larger team the naive loop plans this many care "
                             "managers and its time is scaled (said in the table)")
    args = parser.parse_args()
    rules = load_rules()
    figures = []
    for size in (int(s) for s in args.sizes.split(",")):
        database = demo_database(size)
        with database.transaction() as session:  # the start of the day, once per database
            if session.exec(select(Reminder.id).limit(1)).first() is None:
                recompute_reminders(session, as_of=AS_OF, actor=USER, rules=rules)
        nurses = NURSES.get(size, max(1, size // 1000))
        with database.transaction() as session:
            managers = _team(session, nurses)

            def clear(s: Session = session) -> None:
                s.connection().execute(text("DELETE FROM plan_assignment"))
                s.connection().execute(text("DELETE FROM plan_capacity"))

            def build(s: Session = session, m: list[uuid.UUID] = managers) -> Any:
                return rebuild_plans(s, as_of=AS_OF, managers=m, rules=rules)

            clear()
            report = build()
            scratch_s = timed(args.repeat, build, clear)
            again_s = timed(args.repeat, build)
            ours = {uuid.UUID(hex=p): date.fromisoformat(d) for p, d in
                    session.connection().execute(text(
                        "SELECT patient_id, day FROM plan_assignment")).all()}
            sample = managers if nurses <= args.naive_nurses else managers[:args.naive_nurses]
            started = clock.perf_counter()
            naive = naive_plan(session, rules, sample)
            naive_s = (clock.perf_counter() - started) * (len(managers) / len(sample))
            assert set(naive) <= set(ours), "the naive loop placed patients the plan did not"
            if len(sample) == len(managers):
                assert set(naive) == set(ours), "the naive loop and the plan differ"
            session.rollback()
        database.close()
        what = f"{size:,} patients, {nurses} care manager{'s' if nurses > 1 else ''}, " \
               f"{report.patients:,} planned"
        note = f" ({len(sample)} of {nurses} care managers, scaled)" \
            if len(sample) < len(managers) else ""
        target = TARGETS.get(size)
        rows = [(f"{what}: from scratch", ms(scratch_s), ms(naive_s) + note,
                 f"{naive_s / scratch_s:,.0f}x"),
                (f"{what}: rebuilt, nothing changed", ms(again_s), ms(naive_s) + note,
                 f"{naive_s / again_s:,.0f}x")]
        print_table(f"Contact plan as of {AS_OF} (median of {args.repeat})",
                    ("what", "ours", "naive day-by-day ORM loop", "ratio"), rows)
        figures.append((f"plan_{size}_from_scratch", scratch_s, naive_s, target))
        figures.append((f"plan_{size}_rebuild", again_s, naive_s, target))
    for name, ours_s, naive_s, target in figures:
        met = "-" if target is None else ("yes" if ours_s < target else "no")
        print(f"FIGURE {name} | {ms(ours_s)} | {ms(naive_s)} | "
              f"{'< ' + ms(target) if target else '-'} | {met}")


if __name__ == "__main__":
    main()
