"""The supervisor's dashboard figures for a team: 50 care managers, 50,000 patients and
1 million coordination actions (target < 1 s), beside a naive per-user loop in the same run.

Data: the 50,000-patient demo caseload (carehub.caseload.demo, cached under BENCH_DIR),
copied, its patients dealt round-robin to 50 care managers in one UPDATE, reminders
recomputed once on AS_OF (as the start of the day does), then 1 million actions over the
past year written with Core bulk inserts (calls two times in three, outcomes and durations
drawn, a few corrections).

Ours: `carehub.workload.service.workload` (one GROUP BY per figure over the team, coverage
from the prevention engine's set-wise gathering). Naive: for each care manager, her
patients, reminders and actions through the ORM, counted in Python, and her coverage from
the engine over her patients only. Both must give the same figures (checked).

    PYTHONPATH=. python bench/bench_workload.py [--managers 50] [--patients 50000]
        [--actions 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import random
import shutil
import time as clock
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import BENCH_DIR, log, median, print_table
from prevention_common import AS_OF, demo_database, ms
from sqlalchemy import insert, text
from sqlmodel import Session, col, select

from carehub.caseload.models import Patient
from carehub.coordination.models import CoordinationAction
from carehub.db import Database, open_database
from carehub.keystore import KeyFileStore
from carehub.prevention.engine import FOLLOWED_STATUSES, coverage
from carehub.prevention.models import CLOSED_STATES, Reminder
from carehub.prevention.rules import load_rules
from carehub.prevention.services import recompute_reminders
from carehub.users.models import User
from carehub.workload.coverage_cache import COVERAGE_CODES, refresh_coverage_cache
from carehub.workload.service import FRAGILITY_KEYS, Figures, Workload, utc_bounds, workload

TYPES = ("call",) * 8 + ("sms", "referral", "appointment", "message", "document", "meeting",
                         "discharge_followup", "orientation")
OUTCOMES = ("reached",) * 5 + ("no_answer", "no_answer", "voicemail", "wrong_number",
                               "refused", "callback")
FROM = AS_OF - timedelta(days=29)


def team_database(managers: int, patients: int, actions: int) -> Database:
    folder = BENCH_DIR / f"workload-m{managers}-p{patients}-a{actions}"
    path, key_file = folder / "carehub.db", folder / "key"
    if (folder / "ready").exists():
        return open_database(path, KeyFileStore(key_file))
    names = [(f"gc{i:02d}", f"Gestionnaire {i:02d}") for i in range(1, managers + 1)]
    if (folder / "dealt").exists():  # an interrupted build: the team is in place
        database = open_database(path, KeyFileStore(key_file))
        started = clock.perf_counter()
        populate(database, names=names, actions=actions, dealt=True)
        database.close()
        (folder / "ready").touch()
        log(f"team database built in {clock.perf_counter() - started:.0f} s")
        return open_database(path, KeyFileStore(key_file))
    # The demo caseload of the cohort benchmark when built (nobody writes it), else ours.
    demo = BENCH_DIR / f"cohort-p{patients}-s1"
    if not (demo / "ready").exists():
        demo_database(patients).close()
        demo = BENCH_DIR / f"prevention-p{patients}-s1"
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("carehub.db", "carehub.db.keycheck", "key"):
        shutil.copy(demo / name, folder / name)
    database = open_database(path, KeyFileStore(key_file))
    started = clock.perf_counter()
    populate(database, names=names, actions=actions, dealt_marker=folder / "dealt")
    database.close()
    (folder / "ready").touch()
    log(f"team database built in {clock.perf_counter() - started:.0f} s")
    return open_database(path, KeyFileStore(key_file))


def populate(database: Database, *, names: list[tuple[str, str]], actions: int,
             seed: int = 7, dealt: bool = False, dealt_marker: Path | None = None) -> None:
    """Deal the patients round-robin to `names` (user, display name; unless `dealt`
    already), recompute their reminders on AS_OF (the engine: ~5 min for 50,000 patients
    on the shared 2-core VM), write `actions` actions over the year before AS_OF."""
    rng = random.Random(seed)
    if dealt:
        with database.session() as session:
            owners = {pid: name for pid, name in session.execute(
                select(Patient.id, User.name)
                .join(User, col(User.id) == Patient.care_manager_id)
                .where(col(User.name).in_([n for n, _ in names])))}
    else:
        owners = _deal(database, names)
        if dealt_marker is not None:
            dealt_marker.touch()
    with database.transaction() as session:
        report = recompute_reminders(session, as_of=AS_OF, actor=names[0][0])
        log(f"reminders recomputed: {report}")
    _draw_actions(database, owners, actions, rng)


def _deal(database: Database, names: list[tuple[str, str]]) -> dict[uuid.UUID, str]:
    with database.transaction() as session:
        session.execute(text("PRAGMA cache_size = -1000000"))
        users = [User(name=name, display_name=display) for name, display in names]
        session.add_all(users)
        session.flush()
        session.execute(text("CREATE TEMP TABLE team (n INTEGER PRIMARY KEY, name TEXT)"))
        session.execute(text("INSERT INTO team VALUES (:n, :name)"),
                        [{"n": n, "name": name} for n, (name, _) in enumerate(names)])
        session.execute(text(
            "UPDATE patient SET care_manager_id = (SELECT u.id FROM app_user u WHERE u.name = "
            "(SELECT name FROM team WHERE team.n = patient.rowid % :n))"), {"n": len(names)})
        owners = {pid: name for pid, name in session.execute(
            select(Patient.id, User.name).join(User, col(User.id) == Patient.care_manager_id))}
        log(f"{len(owners):,} patients dealt to {len(names)} care managers")
    return owners


def _draw_actions(database: Database, owners: dict[uuid.UUID, str], actions: int,
                  rng: random.Random) -> None:
    patient_ids = sorted(owners)
    end = datetime(AS_OF.year, AS_OF.month, AS_OF.day, 18, tzinfo=UTC)
    written = 0
    table = CoordinationAction.__table__  # type: ignore[attr-defined]
    while written < actions:
        rows = []
        for _ in range(min(50_000, actions - written)):
            pid = patient_ids[rng.randrange(len(patient_ids))]
            kind = rng.choice(TYPES)
            call = kind == "call"
            rows.append({
                "id": uuid.uuid4(), "patient_id": pid, "type": kind,
                "at": end - timedelta(minutes=rng.randrange(365 * 24 * 60)),
                "author": owners[pid],
                "duration_s": rng.randrange(20, 900) if call and rng.random() < 0.9 else None,
                "outcome": rng.choice(OUTCOMES) if call else None, "details": {},
                "recorded_at": end})
        with database.transaction() as session:
            session.execute(insert(table), rows)
        written += len(rows)
        log(f"{written:,} actions written")


def naive(session: Session) -> dict[str, Figures]:
    """A query per care manager, rows counted in Python."""
    found = {}
    start, stop = utc_bounds(FROM, AS_OF)
    users = session.exec(select(User).where(User.role == "care_manager")).all()
    for user in users:
        patients = session.exec(select(Patient).where(
            Patient.care_manager_id == user.id, col(Patient.status).in_(FOLLOWED_STATUSES),
            col(Patient.deceased_date).is_(None))).all()
        levels = Counter("unknown" if p.fragility_level is None else str(p.fragility_level)
                         for p in patients)
        mine = [p.id for p in patients]
        overdue: list[Reminder] = []
        for chunk in range(0, len(mine), 500):
            for r in session.exec(select(Reminder).where(
                    col(Reminder.patient_id).in_(mine[chunk:chunk + 500]))):
                settled = r.closed_on is not None and r.closed_on <= AS_OF
                postponed = r.state == "postponed" and r.postponed_until is not None \
                    and r.postponed_until > AS_OF
                lost = r.state in CLOSED_STATES and r.closed_on is None
                if r.due_date < AS_OF and not settled and not postponed and not lost:
                    overdue.append(r)
        acts = session.exec(select(CoordinationAction).where(
            CoordinationAction.author == user.name, col(CoordinationAction.at) >= start,
            col(CoordinationAction.at) < stop)).all()
        amended = set(session.exec(select(CoordinationAction.amends_id).where(
            col(CoordinationAction.amends_id).is_not(None))))
        acts = [a for a in acts if a.id not in amended]
        calls = [a for a in acts if a.type == "call"]
        timed = [a.duration_s for a in calls if a.duration_s is not None]
        rates = coverage(session, as_of=AS_OF, codes=COVERAGE_CODES, patient_ids=mine) \
            if mine else {}
        found[user.name] = Figures(
            user=user.name, display_name=user.display_name, patients=len(patients),
            by_fragility={k: levels.get(k, 0) for k in FRAGILITY_KEYS},
            overdue=len(overdue), overdue_patients=len({r.patient_id for r in overdue}),
            calls=len(calls), reached=sum(a.outcome == "reached" for a in calls),
            call_seconds=sum(timed), timed_calls=len(timed),
            actions=dict(Counter(a.type for a in acts)),
            coverage={c: (len(r.up_to_date), len(r.eligible))  # type: ignore[misc]
                      for c, r in rates.items()})
    return found


def same(ours: Figures, theirs: Figures) -> bool:
    rates = {c: (r.numerator, r.denominator) for c, r in ours.coverage.items()
             if r.denominator}
    return (ours.patients, ours.by_fragility, ours.overdue, ours.overdue_patients, ours.calls,
            ours.reached, ours.call_seconds, {k: v for k, v in ours.actions.items() if v},
            rates) == (
        theirs.patients, theirs.by_fragility, theirs.overdue, theirs.overdue_patients,
        theirs.calls, theirs.reached, theirs.call_seconds, theirs.actions,
        {c: v for c, v in theirs.coverage.items() if v[1]})  # type: ignore[comparison-overlap]


def dashboard_reading(database: Database) -> tuple[float, object]:
    """What the dashboard does on opening for today: refresh the coverage cache, read."""
    started = clock.perf_counter()
    with database.transaction() as session:
        refresh_coverage_cache(session, as_of=AS_OF, rules=load_rules())
    with database.session() as session:
        found = workload(session, date_from=FROM, date_to=AS_OF)
    return clock.perf_counter() - started, found


def forget_cache(database: Database) -> None:
    with database.transaction() as session:
        for table in ("coverage_cache", "coverage_cache_state", "coverage_stale"):
            session.execute(text(f"DELETE FROM {table}"))


def touch_patients(database: Database, count: int) -> None:
    """A day's work across the team: `count` patients' reminders written (call outcomes)."""
    with database.transaction() as session:
        session.execute(text(
            "UPDATE reminder SET updated_at = updated_at WHERE patient_id IN "
            "(SELECT id FROM patient ORDER BY id LIMIT :n)"), {"n": count})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--managers", type=int, default=50)
    parser.add_argument("--patients", type=int, default=50_000)
    parser.add_argument("--actions", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--touched", type=int, default=300)
    args = parser.parse_args()
    database = team_database(args.managers, args.patients, args.actions)
    with database.session() as session:
        actions = session.execute(text("SELECT count(*) FROM coordination_action")).scalar()
    forget_cache(database)
    cold, _ = dashboard_reading(database)
    log(f"first opening of the day (whole team evaluated): {ms(cold)}")
    warm = []
    for _ in range(args.repeat):
        elapsed, ours = dashboard_reading(database)
        warm.append(elapsed)
    log(f"later openings: {ms(median(warm))}")
    touch_patients(database, args.touched)
    after_work, _ = dashboard_reading(database)
    log(f"after {args.touched} patients' reminders changed: {ms(after_work)}")
    with database.session() as session:
        started = clock.perf_counter()
        theirs = naive(session)
        naive_time = clock.perf_counter() - started
        log(f"naive: {ms(naive_time)}")
        started = clock.perf_counter()
        coverage(session, as_of=AS_OF, codes=COVERAGE_CODES)
        engine_time = clock.perf_counter() - started
    database.close()
    assert isinstance(ours, Workload)
    mismatched = [f.user for f in ours.managers if not same(f, theirs[f.user])]
    assert not mismatched, f"figures differ for {mismatched}"
    print_table(
        f"Workload figures: {len(ours.managers)} care managers, {ours.team.patients:,} "
        f"followed patients, {actions:,} actions, period {FROM:%d/%m/%Y}-{AS_OF:%d/%m/%Y}",
        ("what", "ours", "naive per-user loop", "speed-up"),
        [("dashboard opening, coverage cached (median)", ms(median(warm)), ms(naive_time),
          f"{naive_time / median(warm):.0f}x"),
         (f"same, after {args.touched} patients changed", ms(after_work), "", ""),
         ("first opening of the day (team evaluated, cached)", ms(cold), "",
          f"{naive_time / cold:.0f}x"),
         ("of which coverage, the engine over the team", ms(engine_time), "", "")])


if __name__ == "__main__":
    main()
