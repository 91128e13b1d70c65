"""The screenshot docs/dashboard.png: the Tableau de bord on a demo team.

A 2,000-patient demo caseload (carehub.caseload.demo) dealt to eight care managers, its
reminders recomputed on AS_OF, 60,000 actions over the year before; the page shows the
quarter up to AS_OF as a supervisor sees it.

    QT_QPA_PLATFORM=offscreen PYTHONPATH=. python bench/grab_dashboard.py [--out FILE]
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import timedelta
from pathlib import Path

from bench_workload import populate
from prevention_common import AS_OF
from PySide6.QtCore import QDate
from PySide6.QtWidgets import QApplication

from carehub.caseload.demo import generate_demo
from carehub.db import create_database
from carehub.directory.communes import ensure_communes
from carehub.keystore import KeyFileStore
from carehub.users.services import ensure_user
from ui.dashboard.screen import Dashboard
from ui.worker import DatabaseWorker

TEAM = [("cmartin", "Claire Martin"), ("nbernard", "Nadia Bernard"),
        ("sdubois", "Sophie Dubois"), ("jleroy", "Julie Leroy"), ("amoreau", "Anne Moreau"),
        ("lgarcia", "Lucie Garcia"), ("pfaure", "Pauline Faure"), ("emercier", "Élodie Mercier")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs/dashboard.png"))
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="carehub-dashboard-"))
    database = create_database(folder / "carehub.db", KeyFileStore(folder / "key"))
    with database.transaction() as session:
        ensure_communes(session)
        ensure_user(session, name="supervision", role="supervisor")
        print(generate_demo(session, patients=2000, seed=3, actor="supervision",
                            as_of=AS_OF).summary())
    populate(database, names=TEAM, actions=60_000)
    app = QApplication.instance() or QApplication([])
    worker = DatabaseWorker(database)
    page = Dashboard(worker, user="supervision", today=AS_OF)
    page.resize(1360, 1040)
    page.show()  # reads the figures
    first = AS_OF - timedelta(days=90)
    page.from_edit.setDate(QDate(first.year, first.month, first.day))
    while page.found is None or page.found.date_from != first or worker.busy:
        app.processEvents()
    app.processEvents()
    page.grab().save(str(args.out))
    print(f"saved {args.out}")
    worker.shutdown()
    database.close()


if __name__ == "__main__":
    main()
