"""The directory screen as a care manager uses it, and the printed list."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPainter
from pytestqt.qtbot import QtBot
from sqlmodel import select

from carehub.coordination.audit import AuditEvent
from carehub.db import Database
from carehub.directory.extract_import import import_extract
from carehub.directory.mailbox_import import MailboxImportReport
from carehub.directory.services import DirectorySearch, printable_list, search_directory
from tests.ui import add_patients
from ui.directory.printout import build_document, write_pdf
from ui.directory.screen import DirectoryScreen
from ui.main_window import MainWindow

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "data" / "annuaire" / "PS_LibreAcces_Personne_activite.txt"
MAILBOXES = FIXTURE.with_name("Extraction_Correspondance_MSSante_202611230800.txt")


@pytest.fixture
def directory(db: Database) -> Database:
    with db.transaction() as session:
        import_extract(session, path=FIXTURE, actor="alice")
    return db


@pytest.fixture
def window(qtbot: QtBot, directory: Database) -> Iterator[MainWindow]:
    window = MainWindow(directory, user="alice")
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.model.resultShown, timeout=10_000):
        window.show()
        window.start()
    yield window
    window.shutdown()


def names(screen: DirectoryScreen) -> list[str]:
    return [screen.model.index(row, 0).data() for row in range(screen.model.rowCount())]


def test_typing_a_commune_shows_the_practitioners_nearest_first(
        qtbot: QtBot, window: MainWindow, qtmodeltester: object) -> None:
    qtbot.keyClick(window, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    screen = window.directory.screen
    assert screen.isVisible()
    with qtbot.waitSignal(screen.resultsShown, timeout=10_000):
        qtbot.keyClicks(screen.commune_field, "Mer")
    assert names(screen)[:2] == ["Sophie FOURNIER", "Docteur Marc ROUX"]
    distances = [screen.model.index(row, 4).data() for row in range(screen.model.rowCount())]
    assert distances[0] == "0,0 km"
    assert screen.status_label.text().startswith(f"{len(distances)} professionnels autour de Mer")
    qtmodeltester.check(screen.model)  # type: ignore[attr-defined]


def test_from_a_patient_gps_around_her_commune_and_a_referral_is_recorded(
        qtbot: QtBot, window: MainWindow, directory: Database) -> None:
    ids = add_patients(directory)
    window.refresh()
    qtbot.waitUntil(lambda: window.model.row_of(ids["claire"]) is not None, timeout=10_000)
    window.table.selectRow(window.model.row_of(ids["claire"]) or 0)
    screen = window.directory.open(for_patient=True)
    with qtbot.waitSignal(screen.resultsShown, timeout=10_000):
        pass
    assert screen.commune_field.text() == "37261"  # Tours
    assert screen.specialty_combo.currentData() == "SM54"
    assert names(screen)[0] == "Docteur Pierre DUBOIS"
    assert screen.refer_button.isVisible()
    with qtbot.waitSignal(screen.referralRecorded, timeout=10_000) as recorded:
        qtbot.mouseClick(screen.refer_button, Qt.MouseButton.LeftButton)
    with directory.session() as session:
        event = session.exec(select(AuditEvent).where(
            AuditEvent.entity_id == str(recorded.args[0]))).one()
    assert (event.details["type"], event.details["patient_id"],
            event.details["practitioner_id"]) == ("referral", str(ids["claire"]), "810000000025")
    assert "Orientation vers Docteur Pierre DUBOIS enregistrée" in screen.status_label.text()


def test_importing_from_the_screen_shows_progress_then_the_report(
        qtbot: QtBot, db: Database) -> None:
    from ui.worker import DatabaseWorker

    worker = DatabaseWorker(db)
    screen = DirectoryScreen(worker, user="alice")
    qtbot.addWidget(screen)
    screen.commune_field.setText("41018")
    with qtbot.waitSignal(screen.importFinished, timeout=10_000) as finished:
        screen.import_extract(FIXTURE)
        assert screen.progress.isVisibleTo(screen)
    assert finished.args[0].rows == 13
    assert not screen.progress.isVisibleTo(screen)
    qtbot.waitUntil(lambda: screen.model.rowCount() > 0, timeout=10_000)
    worker.shutdown()


def test_the_mssante_file_imported_from_the_screen_fills_the_mailbox_column(
        qtbot: QtBot, directory: Database, qtmodeltester: object) -> None:
    from ui.worker import DatabaseWorker

    worker = DatabaseWorker(directory)
    screen = DirectoryScreen(worker, user="alice")
    qtbot.addWidget(screen)
    screen.resize(1400, 400)
    screen.show()
    with qtbot.waitSignal(screen.resultsShown, timeout=10_000):
        qtbot.keyClicks(screen.commune_field, "41018")
    reports: list[object] = []
    screen.importFinished.connect(reports.append)
    with qtbot.waitSignals([screen.importFinished, screen.resultsShown], order="strict",
                           timeout=10_000):
        screen.import_extract(MAILBOXES)  # the same button: the file is told by its header
    report = reports[0]
    assert isinstance(report, MailboxImportReport)
    assert (report.mailboxes, report.practitioners) == (5, 4)
    column = screen.model.headerData(7, Qt.Orientation.Horizontal)
    mailboxes = {screen.model.index(row, 0).data(): screen.model.index(row, 7).data()
                 for row in range(screen.model.rowCount())}
    assert column == "MSSanté"
    assert mailboxes["Docteur Jeanne MARTIN"] == "jeanne.martin@medecin.mssante.fr"
    assert mailboxes["Docteur Louis GARNIER"] == ""
    qtmodeltester.check(screen.model)  # type: ignore[attr-defined]
    if os.environ.get("CAREHUB_SCREENSHOT"):
        screen.grab().save(os.environ["CAREHUB_SCREENSHOT"])
    worker.shutdown()


def _ink(image: QImage) -> int:
    """How many sampled pixels are dark: text was drawn."""
    small = image.convertToFormat(QImage.Format.Format_Grayscale8)
    return sum(1 for y in range(0, small.height(), 2) for x in range(0, small.width(), 2)
               if small.pixelColor(x, y).lightness() < 128)


def _first_page(pdf: Path, tmp_path: Path) -> QImage:
    if shutil.which("pdftoppm"):
        subprocess.run(["pdftoppm", "-r", "40", "-png", "-f", "1", "-l", "1", "-singlefile",
                        str(pdf), str(tmp_path / "page")], check=True, timeout=60)
        return QImage(str(tmp_path / "page.png"))
    return QImage()  # no renderer installed: the caller draws the document instead


@pytest.mark.parametrize("large_print", [False, True])
def test_the_printed_list_has_ink_on_its_first_page(
        qtbot: QtBot, directory: Database, tmp_path: Path, large_print: bool) -> None:
    with directory.session() as session:
        result = search_directory(session, search=DirectorySearch(commune="41018"))
    from datetime import date

    document = printable_list(result, radius_km=30, today=date(2026, 11, 23),
                              large_print=large_print)
    pdf = tmp_path / "liste.pdf"
    write_pdf(document, pdf)
    assert pdf.read_bytes().startswith(b"%PDF")
    page = _first_page(pdf, tmp_path)
    if page.isNull():  # without poppler: the same layout painted on an A4-shaped image
        page = QImage(595, 842, QImage.Format.Format_RGB32)
        page.fill(Qt.GlobalColor.white)
        text = build_document(document)
        text.setTextWidth(page.width())
        painter = QPainter(page)
        text.drawContents(painter)
        painter.end()
    assert not page.isNull()
    assert _ink(page) > 500
    assert document["title"] == "Professionnels de santé près de chez vous"
    assert document["rows"][0]["phone"] == "02 54 90 90 90"


def test_the_cli_writes_the_pdf_through_qt_in_a_child_process(
        directory: Database, tmp_path: Path) -> None:
    out = tmp_path / "mairie.pdf"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run(
        [sys.executable, "-m", "carehub.cli", "--db", str(directory.path), "directory",
         "print", "--commune", "41136", "--profession", "Médecin", "--large-print", "--out",
         str(out)], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert out.read_bytes().startswith(b"%PDF")
    assert "Wrote" in result.stdout


def test_unknown_patient_id_is_refused_cleanly(directory: Database) -> None:
    from carehub.errors import NotFoundError

    with directory.session() as session, pytest.raises(NotFoundError):
        search_directory(session, search=DirectorySearch(patient=str(uuid.uuid4())))
