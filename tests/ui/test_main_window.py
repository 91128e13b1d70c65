"""The main window as a care manager uses it: keyboard, search, filters, panel, forms."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QLocale, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QAbstractButton, QLabel, QTextEdit, QWidget
from pytestqt.qtbot import QtBot

from carehub.caseload.services import get_patient, patient_input_from
from carehub.db import Database
from carehub.sync.outbox import pending_count
from tests.ui import add_patients
from ui.caseload.patient_dialog import PatientDialog
from ui.i18n import install_translators
from ui.main_window import MainWindow
from ui.widgets.patient_table import COL_NAME

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def patient_ids(db: Database) -> dict[str, uuid.UUID]:
    return add_patients(db, care_managers={"paul": "bob"})


@pytest.fixture
def window(qtbot: QtBot, db: Database, patient_ids: dict[str, uuid.UUID]
           ) -> Iterator[MainWindow]:
    window = MainWindow(db, user="alice")
    qtbot.addWidget(window)
    # The caseload is shown and Ma journée's start-up recomputation of reminders is done.
    with qtbot.waitSignals([window.model.resultShown,
                            window.my_day.jobs.recomputed],  # type: ignore[attr-defined]
                           timeout=20_000):
        window.show()
        window.start()
    qtbot.waitUntil(lambda: not window.worker.busy, timeout=10_000)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    yield window
    window.shutdown()


def _names(window: MainWindow) -> list[str]:
    model = window.model
    return [model.index(row, COL_NAME).data() for row in range(model.rowCount())]


def _type_search(qtbot: QtBot, window: MainWindow, text: str) -> None:
    with qtbot.waitSignal(window.model.resultShown, timeout=10_000):
        window.caseload.search_field.clear()
        if text.isascii():
            qtbot.keyClicks(window.caseload.search_field, text)
        else:  # QTest types ASCII only; accents arrive as an input method commits them
            window.caseload.search_field.insert(text)


def _shown_text(widget: QWidget) -> str:
    """Everything a user can read in a widget (labels, buttons, text views)."""
    parts: list[str] = []
    for child in widget.findChildren(QWidget):
        if not child.isVisibleTo(widget):
            continue
        if isinstance(child, QLabel | QAbstractButton):
            parts.append(child.text())
        elif isinstance(child, QTextEdit):
            parts.append(child.toPlainText())
    return "\n".join(parts)


def test_the_app_opens_on_the_day_list_and_ctrl_f_reaches_the_search(
        qtbot: QtBot, window: MainWindow) -> None:
    day = window.my_day  # type: ignore[attr-defined]
    assert window.pages.currentWidget() is day and day.table.hasFocus()
    qtbot.keyClick(day.table, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.caseload.search_field.hasFocus()
    assert (window.caseload.search_field.placeholderText()
            == "Rechercher : nom, INS, téléphone, commune…")
    assert window.windowTitle() == "CareHub"
    assert window.caseload.count_label.text() == "3 patients"


@pytest.mark.parametrize(("typed", "expected"), [
    ("dur", ["Durand (Martin)"]),
    ("lefebvre paul", ["Lefebvre"]),
    ("279113726145615", ["Petit"]),
    ("06 12 34", ["Durand (Martin)"]),
    ("orleans", ["Lefebvre"]),
    ("Orléans", ["Lefebvre"]),
])
def test_typing_narrows_the_table(qtbot: QtBot, window: MainWindow, typed: str,
                                  expected: list[str]) -> None:
    _type_search(qtbot, window, typed)
    assert _names(window) == expected
    assert window.caseload.count_label.text() == "1 patient"


def test_escape_clears_the_search_and_ctrl_f_comes_back_to_it(qtbot: QtBot,
                                                             window: MainWindow) -> None:
    _type_search(qtbot, window, "petit")
    assert _names(window) == ["Petit"]
    window.table.setFocus()
    qtbot.keyClick(window.table, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.caseload.search_field.hasFocus()
    with qtbot.waitSignal(window.model.resultShown, timeout=10_000):
        qtbot.keyClick(window.caseload.search_field, Qt.Key.Key_Escape)
    assert window.caseload.search_field.text() == ""
    assert len(_names(window)) == 3


def test_filters_on_status_and_care_manager(qtbot: QtBot, window: MainWindow) -> None:
    with qtbot.waitSignal(window.model.resultShown, timeout=10_000):
        status_filter = window.caseload.status_filter
        status_filter.setCurrentIndex(status_filter.findText("En pause"))
    assert _names(window) == ["Lefebvre"]
    with qtbot.waitSignal(window.model.resultShown, timeout=10_000):
        window.caseload.status_filter.setCurrentIndex(0)
    qtbot.waitUntil(lambda: window.caseload.manager_filter.findData("bob") > 0)
    with qtbot.waitSignal(window.model.resultShown, timeout=10_000):
        window.caseload.manager_filter.setCurrentIndex(window.caseload.manager_filter.findData("alice"))
    assert _names(window) == ["Durand (Martin)", "Petit"]
    with qtbot.waitSignal(window.model.resultShown, timeout=10_000):
        window.caseload.fragility_filter.setCurrentIndex(window.caseload.fragility_filter.findData(1))
    assert _names(window) == ["Petit"]


def test_selecting_a_row_shows_the_patient_in_the_panel(qtbot: QtBot, window: MainWindow,
                                                        patient_ids: dict[str, uuid.UUID]
                                                        ) -> None:
    row = window.model.row_of(patient_ids["paul"])
    assert row is not None
    with qtbot.waitSignal(window.patientShown, timeout=10_000) as shown:
        window.table.selectRow(row)
    assert shown.args == [patient_ids["paul"]]
    assert "lefebvre" in _shown_text(window.panel).lower()


def test_the_window_speaks_english_when_asked(qtbot: QtBot, db: Database,
                                             patient_ids: dict[str, uuid.UUID]) -> None:
    app = QCoreApplication.instance()
    assert app is not None
    translators = install_translators(app, "en")
    try:
        window = MainWindow(db, user="alice")
        qtbot.addWidget(window)
        with qtbot.waitSignal(window.model.resultShown, timeout=10_000):
            window.start()
        assert window.caseload.search_field.placeholderText() == "Search: name, INS, phone, town…"
        assert window.model.headerData(1, Qt.Orientation.Horizontal) == "Given name(s)"
        assert window.caseload.count_label.text() == "3 patients"
        window.shutdown()
    finally:
        for translator in translators:
            app.removeTranslator(translator)
        QLocale.setDefault(QLocale(QLocale.Language.French))


def _open_editor(qtbot: QtBot, window: MainWindow, typed: str) -> QWidget:
    _type_search(qtbot, window, typed)
    with qtbot.waitSignal(window.caseload.dialogOpened, timeout=10_000) as opened:
        qtbot.keyClick(window.caseload.search_field, Qt.Key.Key_E,
                       Qt.KeyboardModifier.ControlModifier)
    dialog = opened.args[0]
    assert isinstance(dialog, QWidget)
    return dialog


def test_editing_a_patient_shows_the_new_name_in_the_table(
        qtbot: QtBot, window: MainWindow, patient_ids: dict[str, uuid.UUID]) -> None:
    dialog = _open_editor(qtbot, window, "petit")
    assert isinstance(dialog, PatientDialog)
    assert dialog.birth_name_field.text() == "Petit"
    dialog.birth_name_field.setText("Petitjean")
    with qtbot.waitSignal(window.model.resultShown, timeout=10_000):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.caseload.current_dialog is None)
    _type_search(qtbot, window, "petitjean")
    assert _names(window) == ["Petitjean"]
    assert window.current_patient_id() == patient_ids["claire"]


def test_an_invalid_ins_is_refused_in_the_dialog(qtbot: QtBot, db: Database,
                                                 window: MainWindow,
                                                 patient_ids: dict[str, uuid.UUID]) -> None:
    dialog = _open_editor(qtbot, window, "petit")
    assert isinstance(dialog, PatientDialog)
    saved: list[object] = []
    dialog.submitted.connect(saved.append)
    dialog.ins_field.setText("279113726145616")  # wrong control key
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert saved == []
    assert dialog.isVisible()
    assert dialog.field_error("ins")
    with db.session() as session:
        assert get_patient(session, patient_id=patient_ids["claire"]).ins == "279113726145615"


def test_a_refused_save_keeps_the_dialog_open_with_the_reason(
        qtbot: QtBot, db: Database, window: MainWindow,
        patient_ids: dict[str, uuid.UUID]) -> None:
    dialog = _open_editor(qtbot, window, "petit")
    with db.session() as session:
        form = patient_input_from(session, get_patient(session, patient_id=patient_ids["claire"]))
    taken = form.model_copy(update={"ins": "295109912611193", "birth_name": "Autre"})
    with qtbot.waitSignal(window.worker.idle, timeout=10_000):
        dialog.submitted.emit(taken)
    assert dialog.isVisible()
    assert "déjà celui d'un autre patient" in _shown_text(dialog)
    with db.session() as session:
        assert get_patient(session, patient_id=patient_ids["claire"]).birth_name == "Petit"


def test_a_new_patient_appears_and_waits_for_sync(qtbot: QtBot, db: Database,
                                                  window: MainWindow,
                                                  patient_ids: dict[str, uuid.UUID]) -> None:
    with db.session() as session:
        form = patient_input_from(session, get_patient(session, patient_id=patient_ids["paul"]))
    with qtbot.waitSignal(window.caseload.dialogOpened, timeout=10_000) as opened:
        qtbot.keyClick(window.caseload.search_field, Qt.Key.Key_N,
                       Qt.KeyboardModifier.ControlModifier)
    dialog = opened.args[0]
    with db.session() as session:
        before = pending_count(session)  # the patients, and the reminders computed at start
    new = form.model_copy(update={"ins": None, "identity_status": "provisional",
                                  "birth_name": "Nouveau", "given_names": "Léon"})
    with qtbot.waitSignal(window.statusUpdated, timeout=10_000):
        dialog.submitted.emit(new)
    qtbot.waitUntil(lambda: window.caseload.count_label.text() == "4 patients")
    assert "Nouveau" in _names(window)
    assert window.pending_label.text() == (f"{before + 1} modifications en attente de "
                                           "synchronisation")


def test_screenshot_writes_a_picture_of_the_window(tmp_path: Path, db: Database,
                                                   db_path: Path) -> None:
    add_patients(db)
    target = tmp_path / "main.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "ui.app", "--db", str(db_path), "--user", "alice",
         "--screenshot", str(target)], env=env, cwd=ROOT, capture_output=True, text=True,
        timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    image = QImage(str(target))
    assert image.width() > 800 and image.height() > 500
    colours = {image.pixel(x, y) for x in range(0, image.width(), 17)
               for y in range(0, image.height(), 13)}
    assert len(colours) > 10  # text, lines, the panel: not a blank picture


def test_screenshot_without_a_database_exits_1_with_a_message(tmp_path: Path) -> None:
    missing = tmp_path / "none.db"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "ui.app", "--db", str(missing), "--screenshot",
         str(tmp_path / "x.png")], env=env, cwd=ROOT, capture_output=True, text=True,
        timeout=120, check=False)
    assert result.returncode == 1
    assert "No database" in result.stderr
    assert not missing.exists() and not (tmp_path / "x.png").exists()


def test_a_page_added_by_a_screen_is_a_tab_reached_by_its_shortcut_and_ctrl_f_returns(
        qtbot: QtBot, window: MainWindow) -> None:
    page = QLabel("Ma page")
    page.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    window.add_page(page, "Ma page", "Ctrl+7")
    tabs = [window.pages.tabText(i) for i in range(window.pages.count())]
    assert (tabs[0], tabs[-1]) == ("Patients", "Ma page")  # other screens' pages between
    qtbot.keyClick(window.caseload.search_field, Qt.Key.Key_7, Qt.KeyboardModifier.ControlModifier)
    assert window.pages.currentWidget() is page
    assert "Ma page" in [a.text() for a in window.view_menu.actions()]
    qtbot.keyClick(page, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.pages.currentWidget() is window.caseload_page
    assert window.caseload.search_field.hasFocus()
