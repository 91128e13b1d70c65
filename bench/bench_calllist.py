"""The day's call list: a 1,000-patient caseload (target < 20 ms) and a 50,000-patient team
(< 300 ms), beside a naive per-patient ORM loop measured in the same run.

Ours, over the stored reminders (recomputed once beforehand, as the start of the day does):
- `call_order`: the whole list's order and priorities in one SELECT (what the screen's item
  model needs first, its lines then come a page at a time);
- a page of 50 lines (`call_list_items`), what the screen shows;
- `call_list`: every line built (phones, reasons, caregiver), what the CLI prints.
Naive baseline: every patient of the user through the ORM, her reminders, phones, circle,
today's calls and recent stays one query at a time, priority and order in Python; it must
give the same order as ours (checked).

    PYTHONPATH=. python bench/bench_calllist.py [--sizes 1000,50000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import time as clock
import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any

from common import median, print_table
from prevention_common import AS_OF, USER, demo_database, ms
from sqlmodel import Session, select

from carehub.caseload.models import ClinicalFact, FactCoding, Patient, PatientPhone, RelatedPerson
from carehub.caseload.summary import age_on
from carehub.coordination.models import CoordinationAction
from carehub.prevention.models import Reminder
from carehub.prevention.rules import RuleSet, load_rules
from carehub.prevention.services import (
    call_list,
    call_list_items,
    call_order,
    recompute_reminders,
)
from carehub.users.models import User

NOW = datetime.combine(AS_OF, time(9, 30))


def naive_call_list(session: Session, rules: RuleSet, limit: int | None = None
                    ) -> list[uuid.UUID]:
    """The same list, patient by patient through the ORM; returns the ids in order
    (of the user's first `limit` patients only, when given)."""
    weights = rules.priority
    user = session.exec(select(User).where(User.name == USER)).one()
    now_utc = NOW.astimezone(UTC)
    now_time = NOW.time().replace(microsecond=0)
    day_start = datetime.combine(AS_OF, time(0)).astimezone(UTC)
    day_end = day_start + timedelta(days=1)
    stay = rules.rules["followup.discharge"].concept
    assert stay is not None
    keys = []
    for patient in session.exec(select(Patient).where(Patient.care_manager_id == user.id)
                                .limit(limit)):
        if patient.status != "active" or patient.deceased_date is not None:
            continue
        reminders = [r for r in session.exec(select(Reminder).where(
            Reminder.patient_id == patient.id)) if _on_the_list(r, day_end)]
        if not reminders:
            continue
        calls = session.exec(select(CoordinationAction).where(
            CoordinationAction.patient_id == patient.id)).all()
        if any(c.type in ("call", "sms") and c.outcome == "reached"
               and day_start <= c.at.replace(tzinfo=UTC) < day_end for c in calls):
            continue
        phones = session.exec(select(PatientPhone).where(
            PatientPhone.patient_id == patient.id)).all()
        session.exec(select(RelatedPerson).where(RelatedPerson.patient_id == patient.id)).all()
        recent = False
        for fact in session.exec(select(ClinicalFact).where(
                ClinicalFact.patient_id == patient.id, ClinicalFact.kind == "encounter")):
            if fact.end_date and AS_OF - timedelta(days=rules.settings.recent_stay_days) \
                    <= fact.end_date <= AS_OF:
                codes = session.exec(select(FactCoding).where(
                    FactCoding.fact_id == fact.id)).all()
                recent = recent or any(c.code in stay.codes.get(c.system, ()) for c in codes)
        top = max(_reason_priority(r, rules, now_utc) for r in reminders)
        age = age_on(patient.birth_date, AS_OF)
        priority = (top + (patient.fragility_level or 0) * weights.per_fragility_level
                    + (weights.age_85 if age >= 85 else weights.age_75 if age >= 75 else 0)
                    + (weights.recent_stay if recent else 0)
                    + weights.per_other_reason * (len(reminders) - 1))
        usable = [p for p in phones if not p.needs_check]
        sms = any(p.kind == "mobile" and p.sms_consent for p in usable)
        phoned = (not patient.deaf_or_hard_of_hearing
                  and not (patient.preferred_channel == "sms" and sms)
                  and not (patient.preferred_channel == "email" and patient.email)
                  and patient.preferred_channel not in ("letter", "visit") and bool(usable))
        planned_list = [r.planned_at.replace(tzinfo=UTC) for r in reminders
                        if r.state == "planned" and r.planned_at]
        planned = min(planned_list) if planned_list else None
        planned_time = None
        if planned is not None and planned.astimezone().date() == AS_OF:
            planned_time = planned.astimezone().time().replace(microsecond=0)
        after, before = patient.call_after, patient.call_before
        available = planned_time
        if phoned and after is not None:
            available = max(after, planned_time) if planned_time else after
        if planned is not None and planned <= now_utc and not (
                phoned and before is not None and before <= now_time):
            key: tuple[Any, ...] = (0, str(planned))
        elif available is not None and available > now_time:
            key = (2, str(available))
        elif phoned and before is not None and before <= now_time:
            key = (3, "")
        else:
            key = (1, "")
        keys.append((*key, -priority, patient.sort_key, patient.id.hex, patient.id))
    return [k[-1] for k in sorted(keys)]


def _on_the_list(r: Reminder, day_end: datetime) -> bool:
    return ((r.state == "due" and r.due_date <= AS_OF)
            or (r.state == "planned" and r.planned_at is not None
                and r.planned_at.replace(tzinfo=UTC) < day_end)
            or (r.state == "postponed" and r.postponed_until is not None
                and r.postponed_until <= AS_OF)
            or (r.state == "unreachable" and r.escalation is not None))


def _reason_priority(r: Reminder, rules: RuleSet, now_utc: datetime) -> int:
    weights = rules.priority
    overdue = min(max((AS_OF - r.due_date).days, 0), weights.overdue_days_cap)
    points = r.points + overdue * weights.per_overdue_day
    if r.escalation:
        points += weights.escalation
    if r.state == "planned" and r.reason == "followup.callback" and r.planned_at \
            and r.planned_at.replace(tzinfo=UTC) <= now_utc:
        points += weights.planned_callback
    return points


def timed(repeat: int, job: Any) -> tuple[float, Any]:
    job()  # warm
    times, result = [], None
    for _ in range(repeat):
        started = clock.perf_counter()
        result = job()
        times.append(clock.perf_counter() - started)
    return median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,50000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--naive-up-to", type=int, default=5000,
                        help="above this size the naive loop runs on this many patients and "
                             "its time is scaled (said in the table)")
    args = parser.parse_args()
    rules = load_rules()
    for size in (int(s) for s in args.sizes.split(",")):
        database = demo_database(size)
        with database.transaction() as session:  # the start of the day, once per database
            if session.exec(select(Reminder.id).limit(1)).first() is None:
                recompute_reminders(session, as_of=AS_OF, actor=USER, rules=rules)
        with Session(database.engine) as session:
            # The whole backlog's order (plan=False), not the day's share of the plan:
            # bench_plan.py measures the plan.
            order_s, order = timed(args.repeat, lambda s=session: call_order(
                s, user=USER, as_of=AS_OF, now=NOW, rules=rules, plan=False))
            page_s, page = timed(args.repeat, lambda s=session, o=order: call_list_items(
                s, user=USER, as_of=AS_OF, now=NOW, patient_ids=o.patient_ids[:50],
                rules=rules))
            full_s, items = timed(max(1, args.repeat // 2), lambda s=session: call_list(
                s, user=USER, as_of=AS_OF, now=NOW, rules=rules, plan=False))
            sample = None if size <= args.naive_up_to else args.naive_up_to
            started = clock.perf_counter()
            naive = naive_call_list(session, rules, limit=sample)
            naive_s = (clock.perf_counter() - started) * (size / sample if sample else 1)
            if sample is None:
                assert naive == list(order.patient_ids) == [i.patient_id for i in items], \
                    "naive and SQL orders differ"
            else:
                assert set(naive) <= set(order.patient_ids)
            assert [i.patient_id for i in page] == list(order.patient_ids[:50])
        database.close()
        lines = f"{size:,} patients, {len(items):,} lines"
        naive_note = f" (first {sample:,} patients, scaled)" if sample else ""
        rows = [
            (f"{lines}: order of the whole list (call_order)", ms(order_s),
             ms(naive_s) + naive_note,
             f"{naive_s / order_s:,.0f}x"),
            (f"{lines}: order + first 50 lines", ms(order_s + page_s), "", ""),
            (f"{lines}: every line built (call_list)", ms(full_s), ms(naive_s) + naive_note,
             f"{naive_s / full_s:,.0f}x"),
        ]
        print_table(f"Call list as of {AS_OF} {NOW:%H:%M} (median of {args.repeat})",
                    ("what", "ours", "naive per-patient ORM loop", "ratio"), rows)


if __name__ == "__main__":
    main()
