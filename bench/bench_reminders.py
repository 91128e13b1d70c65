"""Recomputing every reminder: the SQL-gathered engine beside a naive per-patient ORM loop.

Ours: `recompute_reminders` over every patient (one SELECT per rule, GROUP BY over the
facts, then a bulk write of what changed with its audit events and outbox entries), the first
time (every reminder created) and on a later run (nothing changed: the daily case); and the
engine alone (`assess`). Naive baseline in the same run: each patient loaded through the ORM
with its facts and codings, evaluated in Python (carehub.prevention.naive, the tests' oracle)
and its reminders looked up one by one through the ORM (written, with one audit call each,
when missing); it runs after our recompute, so like our next run it finds them all stored.
Timed on a sample and scaled to the whole caseload (said so in the output). Both must find
the same due reasons on the sample. The recompute is kept (the call-list benchmark reads
its reminders); the naive loop's writes are rolled back.

    PYTHONPATH=. python bench/bench_reminders.py [--patients 50000] [--sample 1000]
"""

from __future__ import annotations

import argparse
import random
import time

from common import log, median, print_table
from prevention_common import AS_OF, demo_database, ms
from sqlalchemy import func, select
from sqlmodel import Session, col

from carehub.caseload.models import ClinicalFact, Patient
from carehub.changes import log_change
from carehub.coordination.audit import Change
from carehub.prevention.engine import assess
from carehub.prevention.models import Reminder
from carehub.prevention.naive import naive_due_reasons
from carehub.prevention.rules import load_rules
from carehub.prevention.services import recompute_reminders


def naive_recompute(session: Session, patient_ids: list, rules: object) -> int:  # type: ignore[type-arg]
    """Per patient: evaluate through the ORM, then upsert each reminder through the ORM."""
    written = 0
    for patient_id in patient_ids:
        reasons = naive_due_reasons(session, patient_id=patient_id, as_of=AS_OF,
                                    rules=rules)  # type: ignore[arg-type]
        for reason in reasons:
            existing = session.exec(select(Reminder).where(  # type: ignore[call-overload]
                Reminder.patient_id == patient_id, Reminder.reason == reason.code,
                col(Reminder.state).in_(("due", "planned", "postponed", "unreachable")))
            ).first()
            if existing is None:
                row = Reminder(patient_id=patient_id, reason=reason.code,
                               due_date=reason.due_date, explanation_fr=reason.explanation_fr,
                               points=reason.points, last_done=reason.last_done)
                session.add(row)
                session.flush()
                log_change(session, Change("bench", "reminder", str(row.id), "create",
                                           {"reason": row.reason}))
                written += 1
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=50_000)
    parser.add_argument("--sample", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    database = demo_database(args.patients)
    rules = load_rules()
    with Session(database.engine) as session:
        patients = session.execute(select(func.count()).select_from(Patient)).scalar_one()
        facts = session.execute(select(func.count()).select_from(ClinicalFact)).scalar_one()
        stored = session.execute(select(func.count()).select_from(Reminder)).scalar_one()
        print(f"{patients:,} patients, {facts:,} clinical facts, {stored:,} reminders stored "
              f"before (0: the first recompute creates them all); as of {AS_OF}")
        assess(session, as_of=AS_OF, rules=rules)  # warm the page cache
        engine_times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            found = assess(session, as_of=AS_OF, rules=rules)
            engine_times.append(time.perf_counter() - started)
        due = sum(len(r) for r in found.due.values())
        log(f"engine: {ms(median(engine_times))}")
        session.rollback()  # end the read transaction
        started = time.perf_counter()
        first = recompute_reminders(session, as_of=AS_OF, actor="bench", rules=rules)
        first_s = time.perf_counter() - started
        log(f"first recompute: {ms(first_s)}")
        started = time.perf_counter()
        second = recompute_reminders(session, as_of=AS_OF, actor="bench", rules=rules)
        second_s = time.perf_counter() - started
        log(f"second recompute: {ms(second_s)}")
        session.commit()
    with Session(database.engine) as session:  # a fresh session for the naive loop
        ids = sorted(session.execute(select(Patient.id)).scalars(), key=lambda i: i.hex)
        sample = random.Random(1).sample(ids, min(args.sample, len(ids)))
        session.rollback()  # end the read; what follows is undone at the end
        started = time.perf_counter()
        written = naive_recompute(session, sample, rules)
        naive_s = time.perf_counter() - started
        log(f"naive: {ms(naive_s)} for {len(sample)}")
        session.rollback()
        for patient_id in sample[:300]:  # the same answers on the sample
            assert naive_due_reasons(session, patient_id=patient_id, as_of=AS_OF,
                                     rules=rules) == found.due.get(patient_id, [])
    scale = len(ids) / len(sample)
    print(f"{due:,} due reasons for {len(found.due):,} patients; first recompute created "
          f"{first.created:,} reminders; the second changed {second.updated + second.done}.")
    # The naive loop runs after our recompute was kept: like our next run, it finds every
    # reminder stored and has only to evaluate and look them up.
    print_table(f"Recomputing every reminder, {patients:,} patients", (
        "what", "ours", f"naive per-patient ORM loop (sample of {len(sample):,}, scaled)",
        "ratio"), [
        ("engine only (due reasons of everyone)", ms(median(engine_times)), "", ""),
        ("recompute, first run (all created, audited, queued)", ms(first_s), "", ""),
        ("recompute, next run (nothing changed)", ms(second_s), ms(naive_s * scale),
         f"{naive_s * scale / second_s:,.0f}x"),
    ])
    print(f"naive: {naive_s:.1f} s for {len(sample):,} patients ({written:,} reminders), "
          f"{naive_s / len(sample) * 1000:.1f} ms per patient")
    database.close()


if __name__ == "__main__":
    main()
