"""The screenshots docs/main-window.png, docs/cohort-search.png and docs/my-day.png.

Each is the real main window, offscreen, on a demo caseload made for it in a temporary
folder (`carehub demo` with seed 1, care manager "claire"): the Patients page with the
first patient in the panel (2,000 patients), the cohort search with a query typed (2,000
patients), Ma journée once the day's list is computed (300 patients).

    QT_QPA_PLATFORM=offscreen PYTHONPATH=. python bench/grab_screens.py [--out docs]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from PySide6.QtWidgets import QApplication

from carehub.caseload.demo import generate_demo
from carehub.db import Database, create_database
from carehub.directory.communes import ensure_communes
from carehub.keystore import KeyFileStore
from ui.main_window import MainWindow

USER = "claire"
TIMEOUT_S = 120
COHORT_QUERY = ("condition diabetes and age >= 65 and (not vaccine flu within 1y or lab hba1c "
                "count < 2 within 1y) except contact etp within 1y")


def demo(patients: int) -> Database:
    folder = Path(tempfile.mkdtemp(prefix="carehub-screens-"))
    database = create_database(folder / "carehub.db", KeyFileStore(folder / "key"))
    with database.transaction() as session:
        ensure_communes(session)
        print(generate_demo(session, patients=patients, seed=1, actor=USER,
                            as_of=date.today()).summary())
    return database


def settle(app: QApplication, window: MainWindow, done: Callable[[], bool],
           what: str) -> None:
    """Turn the event loop until `done()` and the worker has nothing left to do."""
    deadline = time.monotonic() + TIMEOUT_S
    while not done() or window.worker.busy:
        if time.monotonic() > deadline:
            raise SystemExit(f"grab_screens: {what} did not happen in {TIMEOUT_S} s")
        app.processEvents()
    for _ in range(20):  # the last repaints
        app.processEvents()


def grab(database: Database, target: Path, show: Callable[[QApplication, MainWindow], None]
         ) -> None:
    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)
    window = MainWindow(database, user=USER)
    day_ready = {"done": False}
    window.my_day.jobs.recomputed.connect(lambda *_args: day_ready.update(done=True))
    window.show()
    window.start()
    settle(app, window, lambda: day_ready["done"], "the day's reminders")
    show(app, window)
    window.grab().save(str(target))
    print(f"saved {target}")
    window.shutdown()
    window.deleteLater()
    app.processEvents()


def caseload(app: QApplication, window: MainWindow) -> None:
    window.show_page(window.caseload_page)
    window.table.selectRow(0)  # the caseload selects its first row once shown
    settle(app, window, lambda: window.panel.shown_patient() is not None, "the first patient")


def cohort(app: QApplication, window: MainWindow) -> None:
    screen = window.cohort_screen
    shown = {"done": False}
    screen.patientShown.connect(lambda _id: shown.update(done=True))
    window.show_page(screen)
    screen.set_text(COHORT_QUERY)
    settle(app, window, lambda: shown["done"], "the cohort's first patient")


def my_day(app: QApplication, window: MainWindow) -> None:
    window.show_page(window.my_day)
    settle(app, window, lambda: True, "the day's list")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs"))
    args = parser.parse_args()
    large = demo(2000)
    grab(large, args.out / "main-window.png", caseload)
    grab(large, args.out / "cohort-search.png", cohort)
    large.close()
    small = demo(300)
    grab(small, args.out / "my-day.png", my_day)
    small.close()


if __name__ == "__main__":
    main()
