"""How fast `carehub demo` fills a database, next to a naive per-row ORM insert.

Ours: generate_demo (seeded draws, chunked bulk inserts) for N patients, timed up to the
database being committed and closed, as `carehub demo` does. Baseline: the same patients and
facts (copied from a small demo run) added one object at a time with session.add + flush, with
one audit entry per patient, as a straightforward ORM loop would. Both in the same run.

    PYTHONPATH=. python bench/bench_demo.py                 # 50,000 patients
    PYTHONPATH=. python bench/bench_demo.py --patients 2000 # quick run
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlalchemy.orm import make_transient
from sqlmodel import Session, select

from carehub.caseload.demo import generate_demo
from carehub.caseload.models import (
    ClinicalFact,
    Consent,
    FactCoding,
    Patient,
    PatientPhone,
    RelatedPerson,
)
from carehub.changes import log_change
from carehub.coordination.audit import Change
from carehub.db import Database, create_database
from carehub.directory.communes import ensure_communes
from carehub.keystore import KeyFileStore
from carehub.users.services import ensure_user

AS_OF = date(2025, 11, 3)
MODELS: list[Any] = [Patient, PatientPhone, RelatedPerson, Consent, ClinicalFact, FactCoding]


def new_database(folder: Path) -> Database:
    folder.mkdir(parents=True)
    database = create_database(folder / "carehub.db", KeyFileStore(folder / "key"))
    with database.transaction() as session:
        ensure_communes(session)
    return database


def size_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.iterdir()) / 1e6


def count(session: Session, model: Any) -> int:
    return int(session.exec(select(func.count()).select_from(model)).one())


def run_ours(folder: Path, patients: int, seed: int) -> dict[str, float]:
    database = new_database(folder)
    started = time.perf_counter()
    with database.transaction() as session:
        report = generate_demo(session, patients=patients, seed=seed, actor="bench",
                               as_of=AS_OF)
        generated = time.perf_counter()
    database.close()
    total = time.perf_counter() - started
    return {"patients": report.patients, "facts": report.facts, "codings": report.codings,
            "seconds": total, "commit_seconds": total - (generated - started),
            "size_mb": size_mb(folder)}


def run_naive(folder: Path, patients: int, seed: int) -> dict[str, float]:
    """The same content, one ORM object and one flush at a time."""
    source = new_database(folder / "source")
    with source.transaction() as session:
        generate_demo(session, patients=patients, seed=seed, actor="bench", as_of=AS_OF)
    with source.session() as session:
        objects = {model: list(session.exec(select(model))) for model in MODELS}
        session.expunge_all()
    source.close()
    target = new_database(folder / "target")
    started = time.perf_counter()
    with target.transaction() as session:
        manager = ensure_user(session, name="bench")
        for model in MODELS:
            for obj in objects[model]:
                make_transient(obj)
                if model is Patient:
                    obj.care_manager_id = manager.id
                session.add(obj)
                session.flush()
                if model is Patient:
                    log_change(session, Change("bench", "patient", str(obj.id), "create",
                                               {"source": "demo", "seed": seed}))
        facts = count(session, ClinicalFact)
        codings = count(session, FactCoding)
    target.close()
    return {"patients": patients, "facts": facts, "codings": codings,
            "seconds": time.perf_counter() - started, "commit_seconds": 0.0,
            "size_mb": size_mb(folder / "target")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=50_000, help="patients for ours")
    parser.add_argument("--baseline-patients", type=int, default=1_000,
                        help="patients for the naive ORM loop (slow: keep it small)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as tmp:
        ours = run_ours(Path(tmp) / "ours", args.patients, args.seed)
        naive = run_naive(Path(tmp) / "naive", min(args.baseline_patients, args.patients),
                          args.seed)
    rate_ours = ours["patients"] / ours["seconds"]
    rate_naive = naive["patients"] / naive["seconds"]
    header = (f"{'method':<34}{'patients':>10}{'facts':>11}{'codings':>11}{'seconds':>9}"
              f"{'patients/s':>12}{'DB MB':>9}")
    print(header)
    print("-" * len(header))
    for label, row, rate in (("carehub demo (bulk, incl. commit)", ours, rate_ours),
                             ("naive ORM add + flush per row", naive, rate_naive)):
        print(f"{label:<34}{row['patients']:>10,.0f}{row['facts']:>11,.0f}"
              f"{row['codings']:>11,.0f}{row['seconds']:>9.1f}{rate:>12,.0f}"
              f"{row['size_mb']:>9,.0f}")
    print(f"\nours: {ours['commit_seconds']:.1f} s of the total are commit and close (WAL "
          f"checkpoint); facts per patient {ours['facts'] / ours['patients']:.1f}")
    print(f"ratio: {rate_ours / rate_naive:.1f}x the naive rate "
          f"(target: 50,000 patients in under 60 s)")


if __name__ == "__main__":
    main()
