"""Shared helpers for the GUI benchmarks: a cached N-patient database and a timed child.

The database is built once per (patients, seed) under $CAREHUB_BENCH_DIR (default
/tmp/carehub-bench) with carehub.caseload.demo.generate_demo when it exists, else with
Core bulk inserts of synthetic patients (names, INS, phones, communes, care managers).

`python bench/common.py --child MODE DB KEYFILE` opens a window the way MODE says
("ours": the real main window; "naive": every patient through the ORM into a
QStandardItemModel) and prints JSON figures measured from the moment the parent launched it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select  # noqa: E402
from sqlmodel import Session  # noqa: E402

from carehub.caseload.models import Patient, PatientPhone  # noqa: E402
from carehub.caseload.services import search_text_for, sort_key_for  # noqa: E402
from carehub.db import Database, create_database, open_database  # noqa: E402
from carehub.directory.communes import ensure_communes  # noqa: E402
from carehub.directory.models import Commune  # noqa: E402
from carehub.identifiers import ins_key  # noqa: E402
from carehub.keystore import KeyFileStore  # noqa: E402
from carehub.users.services import ensure_user  # noqa: E402

BENCH_DIR = Path(os.environ.get("CAREHUB_BENCH_DIR",
                                Path(tempfile.gettempdir()) / "carehub-bench"))
BIRTH_NAMES = ("Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand", "Dubois",
               "Moreau", "Laurent", "Simon", "Michel", "Lefebvre", "Leroy", "Roux", "David",
               "Bertrand", "Morel", "Fournier", "Girard", "Bonnet", "Dupont", "Lambert",
               "Fontaine", "Rousseau", "Vincent", "Muller", "Lefèvre", "Faure", "André",
               "Mercier", "Blanc", "Guérin", "Boyer", "Garnier", "Chevalier", "François",
               "Legrand", "Gauthier", "Garcia", "Perrin", "Robin", "Clément", "Morin",
               "Nicolas", "Henry", "Roussel", "Mathieu", "Gautier", "Masson")
GIVEN_F = ("Jeanne", "Marie", "Monique", "Françoise", "Hélène", "Simone", "Odette",
           "Colette", "Denise", "Yvette", "Paulette", "Suzanne", "Claire", "Élise")
GIVEN_M = ("Jean", "Pierre", "Michel", "André", "René", "Louis", "Marcel", "Roger",
           "Henri", "Georges", "Paul", "Lucien", "Bernard", "Étienne")
STATUSES = ("active",) * 8 + ("paused", "closed")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _synthetic_rows(session: Session, patients: int, seed: int
                    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rng = random.Random(seed)
    communes = list(session.execute(select(Commune.insee, Commune.name).where(
        Commune.department.in_(("37", "41", "45", "18", "28", "36")))))  # type: ignore[attr-defined]
    managers = [ensure_user(session, name=f"ide{n:02d}").id for n in range(1, 51)]
    rows, phones = [], []
    used_ins: set[tuple[str, int]] = set()
    for n in range(patients):
        sex = rng.choice("FM")
        birth = date(1925, 1, 1) + timedelta(days=rng.randrange(365 * 75))
        birth_name = rng.choice(BIRTH_NAMES)
        used_name = rng.choice(BIRTH_NAMES) if sex == "F" and rng.random() < 0.5 else None
        given = rng.choice(GIVEN_F if sex == "F" else GIVEN_M)
        insee, commune_name = rng.choice(communes)
        prefix = f"{1 if sex == 'M' else 2}{birth:%y%m}{insee}"
        order = next(o for o in range(rng.randrange(1, 999), 2000) if (prefix, o % 1000) not in
                     used_ins)
        used_ins.add((prefix, order % 1000))
        first13 = f"{prefix}{order % 1000:03d}"
        ins = f"{first13}{ins_key(first13):02d}"
        e164 = f"+33{rng.choice('67')}{rng.randrange(10**8):08d}"
        patient_id = uuid.uuid4()
        rows.append({
            "id": patient_id, "ins": ins, "ins_kind": "nir", "identity_status": "validated",
            "birth_name": birth_name, "used_name": used_name, "given_names": given,
            "sex": sex, "birth_date": birth, "commune_insee": insee,
            "status": rng.choice(STATUSES), "fragility_level": rng.choice((0, 1, 1, 2, 2, 3)),
            "care_manager_id": managers[n % len(managers)],
            "search_text": search_text_for(names=[birth_name, used_name, given], ins=ins,
                                           phones=[e164], commune_name=commune_name),
            "sort_key": sort_key_for(used_name=used_name, birth_name=birth_name,
                                     given_names=given),
        })
        phones.append({"id": uuid.uuid4(), "patient_id": patient_id, "e164": e164,
                       "kind": "mobile", "position": 0})
    return rows, phones


def _bulk_fill(session: Session, patients: int, seed: int) -> None:
    rows, phones = _synthetic_rows(session, patients, seed)
    for start in range(0, len(rows), 5000):
        session.execute(insert(Patient), rows[start:start + 5000])
        session.execute(insert(PatientPhone), phones[start:start + 5000])


def bench_database(patients: int, *, seed: int = 1, plain: bool = False) -> tuple[Path, Path]:
    """(database path, key file) of a cached benchmark database with `patients` patients."""
    folder = BENCH_DIR / f"p{patients}-s{seed}{'-plain' if plain else ''}"
    path, key_file = folder / "carehub.db", folder / "key"
    if (folder / "ready").exists():
        return path, key_file
    shutil.rmtree(folder, ignore_errors=True)
    log(f"building a {patients:,}-patient database in {folder} (once)…")
    started = time.perf_counter()
    database = create_database(path, KeyFileStore(key_file))
    try:
        with database.transaction() as session:
            ensure_user(session, name="bench")
            ensure_communes(session)
            try:
                if plain:
                    raise ImportError
                from carehub.caseload.demo import generate_demo  # type: ignore[import-not-found]
            except ImportError:
                _bulk_fill(session, patients, seed)
            else:
                generate_demo(session, patients=patients, seed=seed, actor="bench",
                              as_of=date.today())
    finally:
        database.close()
    (folder / "ready").touch()
    log(f"built in {time.perf_counter() - started:.1f} s")
    return path, key_file


def open_bench(path: Path, key_file: Path) -> Database:
    return open_database(path, KeyFileStore(key_file))


def run_child(mode: str, path: Path, key_file: Path, *extra: str) -> dict[str, float]:
    """Run this file as a fresh process in `mode`; its JSON figures."""
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                       os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, __file__, "--child", mode, str(path), str(key_file), *extra]
    result = subprocess.run([*command, "--launched", repr(time.time())], env=env,
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"child {mode} failed:\n{result.stderr}")
    figures: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def print_table(title: str, header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(header)]
    print(f"\n{title}")
    print("  ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))


# -- the child processes ----------------------------------------------------------------------

_LAUNCHED_AT = 0.0  # the parent's time.time() just before it started this process


def _since_process_start() -> float:
    return time.time() - _LAUNCHED_AT


def _rss_mb() -> float:
    import psutil

    return float(psutil.Process().memory_info().rss) / 2**20


def _child_ours(path: Path, key_file: Path, scroll: bool) -> dict[str, float]:
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from ui.app import open_for_gui, parse_args
    from ui.main_window import MainWindow

    app = QApplication([sys.argv[0]])
    args = parse_args(["--db", str(path), "--key-file", str(key_file)])
    database = open_for_gui(args, "bench")
    assert database is not None
    window = MainWindow(database, user="bench")
    window.show()
    window.start()
    figures = {"window_shown_s": _since_process_start()}
    _wait(app, window.model.resultShown)
    app.processEvents()  # paint the first page
    figures["first_page_s"] = _since_process_start()
    figures["rows"] = window.model.rowCount()
    if scroll:  # scroll the whole caseload, a screenful at a time, as a user holding PgDn
        bar = window.table.verticalScrollBar()
        step = max(bar.pageStep(), 1)
        for value in range(0, bar.maximum() + step, step * 5):
            bar.setValue(value)
            app.processEvents()
        loop = QEventLoop()
        window.worker.idle.connect(loop.quit)
        QTimer.singleShot(0, lambda: None if window.worker.busy else loop.quit())
        loop.exec()
    figures["rss_mb"] = _rss_mb()
    window.shutdown()
    database.close()
    return figures


def _wait(app: Any, signal: Any) -> None:
    from PySide6.QtCore import QEventLoop

    loop = QEventLoop()
    signal.connect(lambda *_: loop.quit())
    loop.exec()


def _child_naive(path: Path, key_file: Path) -> dict[str, float]:
    from PySide6.QtGui import QStandardItem, QStandardItemModel
    from PySide6.QtWidgets import QApplication, QTableView
    from sqlmodel import col
    from sqlmodel import select as sm_select

    from carehub.phones import format_phone
    from carehub.users.models import User

    app = QApplication([sys.argv[0]])
    database = open_bench(path, key_file)
    view = QTableView()
    view.resize(1500, 860)
    view.show()
    figures = {"window_shown_s": _since_process_start()}
    model = QStandardItemModel()
    with database.session() as session:  # everything, row by row, through the ORM
        patients = session.exec(sm_select(Patient).order_by(col(Patient.sort_key))).all()
        for patient in patients:
            commune = session.get(Commune, patient.commune_insee) if patient.commune_insee \
                else None
            manager = session.get(User, patient.care_manager_id) if patient.care_manager_id \
                else None
            phone = session.exec(sm_select(PatientPhone).where(
                PatientPhone.patient_id == patient.id)).first()
            cells = [patient.used_name or patient.birth_name, patient.given_names,
                     patient.birth_date.strftime("%d/%m/%Y"), commune.name if commune else "",
                     format_phone(phone.e164) if phone else "", patient.ins or "",
                     patient.status, str(patient.fragility_level or ""),
                     manager.name if manager else ""]
            model.appendRow([QStandardItem(c) for c in cells])
    view.setModel(model)
    app.processEvents()
    figures["first_page_s"] = _since_process_start()
    figures["rows"] = model.rowCount()
    figures["rss_mb"] = _rss_mb()
    database.close()
    return figures


CHILDREN: dict[str, Callable[..., dict[str, float]]] = {
    "ours": lambda p, k: _child_ours(p, k, scroll=False),
    "ours-scrolled": lambda p, k: _child_ours(p, k, scroll=True),
    "naive": _child_naive,
}


def _child_main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", choices=sorted(CHILDREN), required=True)
    parser.add_argument("db", type=Path)
    parser.add_argument("key_file", type=Path)
    parser.add_argument("--launched", type=float, required=True)
    args = parser.parse_args()
    global _LAUNCHED_AT
    _LAUNCHED_AT = args.launched
    print(json.dumps(CHILDREN[args.child](args.db, args.key_file)))


if __name__ == "__main__":
    _child_main()
