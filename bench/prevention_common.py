"""The demo caseloads of the prevention benchmarks, built once per size under BENCH_DIR.

Every patient of the demo belongs to the user "bench": the 1,000-patient database is one
nurse's caseload, the 50,000-patient one a whole team's list (DESIGN.md's supervisor scale).
"""

from __future__ import annotations

import time
from datetime import date

from common import BENCH_DIR, log

from carehub.caseload.demo import generate_demo
from carehub.db import Database, create_database, open_database
from carehub.directory.communes import ensure_communes
from carehub.keystore import KeyFileStore
from carehub.users.services import ensure_user

AS_OF = date(2026, 11, 23)  # the demo's history is drawn up to this day: same data every run
USER = "bench"


def demo_database(patients: int, seed: int = 1) -> Database:
    folder = BENCH_DIR / f"prevention-p{patients}-s{seed}"
    path, key_file = folder / "carehub.db", folder / "key"
    if not (folder / "ready").exists():
        log(f"building a {patients:,}-patient demo caseload in {folder} (once)…")
        started = time.perf_counter()
        if path.exists():
            path.unlink()
        database = create_database(path, KeyFileStore(key_file))
        with database.transaction() as session:
            ensure_user(session, name=USER)
            ensure_communes(session)
            log(generate_demo(session, patients=patients, seed=seed, actor=USER,
                              as_of=AS_OF).summary())
        database.close()
        (folder / "ready").touch()
        log(f"built in {time.perf_counter() - started:.0f} s")
    return open_database(path, KeyFileStore(key_file))


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms" if seconds < 10 else f"{seconds:,.1f} s"
