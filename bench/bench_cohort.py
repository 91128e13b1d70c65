"""Cohort search: the two reference searches of DESIGN.md (target < 300 ms each, 50k patients).

Ours: `run_query` (one SQL SELECT per search). Naive baseline in the same run: every patient,
fact and coding loaded into Python, then each patient tested against the query tree
(carehub.cohort.naive, the evaluator the property test trusts); both must find the same
patients. The demo caseload is built once per size with carehub.caseload.demo.generate_demo.

    PYTHONPATH=. python bench/bench_cohort.py [--patients 50000] [--repeat 5] [--cache-mb N]

`--small` runs 2,000 patients. `--cache-mb` sets SQLite's page cache of the connection
(default: the application's own setting), to show how much of the time is pages to decrypt.
"""

from __future__ import annotations

import argparse
import time
from datetime import date
from pathlib import Path

from common import BENCH_DIR, log, median, print_table
from sqlalchemy import func, select, text

from carehub.caseload.demo import generate_demo
from carehub.caseload.models import ClinicalFact, FactCoding, Patient
from carehub.cohort.naive import load_caseload, naive_query
from carehub.cohort.service import run_query
from carehub.db import Database, create_database, open_database
from carehub.directory.communes import ensure_communes
from carehub.keystore import KeyFileStore
from carehub.users.services import ensure_user

AS_OF = date(2026, 11, 23)  # the demo's history is drawn up to this day: same data every run
SEARCHES = {
    "reference 1 (goitre, mammography)":
        "sex F and age 25..45 and condition E04* and act mammography within 2y except pregnant",
    "reference 2 (diabetes follow-up)":
        "condition E10*,E11*,icpc2:T89,icpc2:T90 and medication A10A* and lab 4548-4 "
        "count >= 3 within 1y and contact etp within 1y and vaccine flu within 1y",
    "women 50-74 without mammography in 2y":
        "sex F and age 50..74 except act mammography within 2y",
}


def demo_database(patients: int, seed: int) -> Database:
    folder = BENCH_DIR / f"cohort-p{patients}-s{seed}"
    path, key_file = folder / "carehub.db", folder / "key"
    if not (folder / "ready").exists():
        log(f"building a {patients:,}-patient demo caseload in {folder} (once)…")
        started = time.perf_counter()
        database = create_database(path, KeyFileStore(key_file))
        with database.transaction() as session:
            ensure_user(session, name="bench")
            ensure_communes(session)
            log(generate_demo(session, patients=patients, seed=seed, actor="bench",
                              as_of=AS_OF).summary())
        database.close()
        (folder / "ready").touch()
        log(f"built in {time.perf_counter() - started:.0f} s")
    return open_database(path, KeyFileStore(key_file))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=50_000)
    parser.add_argument("--small", action="store_true", help="2,000 patients, a quick run")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--cache-mb", type=int, default=None)
    args = parser.parse_args()
    patients = 2_000 if args.small else args.patients
    database = demo_database(patients, args.seed)
    with database.session() as session:
        if args.cache_mb:
            session.execute(text(f"PRAGMA cache_size = -{args.cache_mb * 1024}"))
        cache_kib = -int(session.execute(text("PRAGMA cache_size")).scalar_one())
        counts = [session.execute(select(func.count()).select_from(model)).scalar_one()
                  for model in (Patient, ClinicalFact, FactCoding)]
        print(f"{counts[0]:,} patients, {counts[1]:,} clinical facts, {counts[2]:,} codings; "
              f"page cache {cache_kib // 1024} MB; database {_size_mb(database.path)} MB")
        rows = []
        started = time.perf_counter()
        caseload = load_caseload(session)
        load_s = time.perf_counter() - started
        for label, expr in SEARCHES.items():
            started = time.perf_counter()
            first = run_query(session, expr=expr, as_of=AS_OF)
            first_ms = (time.perf_counter() - started) * 1000
            times = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                found = run_query(session, expr=expr, as_of=AS_OF)
                times.append(time.perf_counter() - started)
            started = time.perf_counter()
            expected = naive_query(caseload, expr=expr, as_of=AS_OF)
            naive_s = time.perf_counter() - started
            assert list(found) == expected == list(first), f"{label}: SQL and Python disagree"
            ours = median(times) * 1000
            rows.append((label, len(found), f"{first_ms:.0f}", f"{ours:.0f}",
                         f"{load_s + naive_s:.1f}", f"{naive_s * 1000:.0f}",
                         f"{(load_s + naive_s) * 1000 / ours:.0f}x"))
    database.close()
    print_table(f"Cohort search at {AS_OF} (target < 300 ms per search)",
                ("search", "patients", "ours first ms", "ours median ms",
                 "naive s (load + test)", "naive test only ms", "ratio"), rows)


def _size_mb(path: Path) -> int:
    return path.stat().st_size // 2**20


if __name__ == "__main__":
    main()
