"""Sign-in, the inactivity lock, break the glass, reassignment and user management,
driven through the real widgets offscreen."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot
from sqlmodel import select

from carehub.caseload.models import Patient
from carehub.coordination.audit import AuditEvent
from carehub.db import Database
from carehub.users.models import User
from carehub.users.services import add_user
from tests.ui import add_patients, grab
from ui.access.controller import AccessController, LockPage, SignInDialog
from ui.main_window import MainWindow
from ui.worker import DatabaseWorker

PASSWORD = "correct horse battery"


@pytest.fixture
def patient_ids(db: Database) -> dict[str, uuid.UUID]:
    with db.transaction() as session:
        add_user(session, name="adam", role="administrator")
        add_user(session, name="alice", role="care_manager", password=PASSWORD)
        add_user(session, name="bob", role="care_manager")
        add_user(session, name="sue", role="supervisor")
    return add_patients(db, care_managers={"paul": "bob"})


def open_window(qtbot: QtBot, db: Database, user: str) -> MainWindow:
    db.acting_user = user  # as ui/app.py does after sign-in
    window = MainWindow(db, user=user)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.model.resultShown, timeout=20_000):
        window.show()
        window.start()
    ctl: AccessController = window.access_ctl
    qtbot.waitUntil(lambda: ctl.role is not None and not window.worker.busy, timeout=10_000)
    return window


@pytest.fixture
def windows(qtbot: QtBot, db: Database, patient_ids: dict[str, uuid.UUID]
            ) -> Iterator[list[MainWindow]]:
    opened: list[MainWindow] = []
    yield opened
    for window in opened:
        window.shutdown()


def select_row_of(qtbot: QtBot, window: MainWindow, patient_id: uuid.UUID) -> None:
    row = next(r for r in range(window.model.rowCount())
               if window.model.patient_id(r) == patient_id)
    window.show_page(window.caseload_page)
    window.table.setFocus()
    window.table.setCurrentIndex(window.model.index(row, 0))


def test_sign_in_refuses_a_wrong_password_then_lets_the_right_one_in(
        qtbot: QtBot, db: Database, patient_ids: dict[str, uuid.UUID]) -> None:
    worker = DatabaseWorker(db)
    try:
        dialog = SignInDialog(worker, user="alice")
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.keyClicks(dialog.password_field, "not my password")
        qtbot.keyClick(dialog.password_field, Qt.Key.Key_Return)
        qtbot.waitUntil(dialog.error.isVisible, timeout=10_000)
        assert dialog.error.text() == "Identifiant ou mot de passe incorrect."
        assert dialog.signed_in_as is None and dialog.isVisible()
        grab(dialog, "sign-in-refused")
        qtbot.keyClicks(dialog.password_field, PASSWORD)
        with qtbot.waitSignal(dialog.accepted, timeout=10_000):
            qtbot.keyClick(dialog.password_field, Qt.Key.Key_Return)
        assert dialog.signed_in_as == "alice"
    finally:
        worker.shutdown()


def test_the_window_locks_after_inactivity_hides_patients_and_asks_the_password(
        qtbot: QtBot, db: Database, windows: list[MainWindow],
        patient_ids: dict[str, uuid.UUID]) -> None:
    window = open_window(qtbot, db, "alice")
    windows.append(window)
    lock = window.access_ctl.lock
    assert lock.enabled  # alice signs in with a password
    with qtbot.waitSignal(lock.locked, timeout=10_000):
        lock.set_timeout_ms(50)  # nobody touches anything
    page = window.centralWidget()
    assert isinstance(page, LockPage)
    assert not window.table.isVisible() and not window.panel.isVisible()
    shown = " ".join(label.text() for label in window.findChildren(QLabel)
                     if label.isVisible())
    assert "Durand" not in shown and "Lefebvre" not in shown
    assert not window.menuBar().isEnabled()
    grab(window, "locked")
    lock.set_timeout_ms(60_000)
    qtbot.keyClicks(page.password_field, "wrong one")
    qtbot.keyClick(page.password_field, Qt.Key.Key_Return)
    qtbot.waitUntil(page.error.isVisible, timeout=10_000)
    assert lock.is_locked
    qtbot.keyClicks(page.password_field, PASSWORD)
    with qtbot.waitSignal(lock.unlocked, timeout=10_000):
        qtbot.keyClick(page.password_field, Qt.Key.Key_Return)
    assert window.centralWidget() is window.pages and window.pages.isVisible()


def test_a_supervisor_breaks_the_glass_with_a_reason_then_sees_the_patient(
        qtbot: QtBot, db: Database, windows: list[MainWindow],
        patient_ids: dict[str, uuid.UUID]) -> None:
    window = open_window(qtbot, db, "sue")
    windows.append(window)
    ctl = window.access_ctl
    assert window.model.rowCount() == 3  # a supervisor sees every identity line
    select_row_of(qtbot, window, patient_ids["paul"])
    qtbot.waitUntil(lambda: ctl.restricted.isVisible()
                    and ctl._restricted_patient == patient_ids["paul"], timeout=10_000)
    assert "contenu clinique" in ctl.restricted.message.text()
    grab(window, "restricted")
    qtbot.mouseClick(ctl.restricted.open_button, Qt.MouseButton.LeftButton)
    dialog = ctl.break_glass_dialog
    assert not dialog.open_button.isEnabled()  # no reason, no opening
    qtbot.keyClicks(dialog.reason, "Bob absent, appel urgent de sa fille")
    grab(dialog, "break-glass")
    with qtbot.waitSignal(window.patientShown, timeout=10_000) as shown:
        qtbot.mouseClick(dialog.open_button, Qt.MouseButton.LeftButton)
    assert shown.args == [patient_ids["paul"]]
    assert window.panel.shown_patient() is not None
    with db.session() as session:
        [event] = session.exec(select(AuditEvent).where(AuditEvent.action == "break_glass"))
    assert (event.actor, event.details["reason"]) == ("sue",
                                                      "Bob absent, appel urgent de sa fille")


def test_a_supervisor_reassigns_the_selected_patient(
        qtbot: QtBot, db: Database, windows: list[MainWindow],
        patient_ids: dict[str, uuid.UUID]) -> None:
    window = open_window(qtbot, db, "sue")
    windows.append(window)
    ctl = window.access_ctl
    assert ctl.reassign_action.isVisible()
    select_row_of(qtbot, window, patient_ids["paul"])
    ctl.reassign_action.trigger()
    qtbot.waitUntil(lambda: hasattr(ctl, "reassign_dialog"), timeout=10_000)
    dialog = ctl.reassign_dialog
    dialog.combo.setCurrentIndex(dialog.combo.findData("alice"))
    with qtbot.waitSignal(window.model.resultShown, timeout=10_000):
        dialog.accept()
    with db.session() as session:
        paul = session.get(Patient, patient_ids["paul"])
        alice = session.exec(select(User).where(User.name == "alice")).one()
        assert paul is not None and paul.care_manager_id == alice.id
        assert session.exec(select(AuditEvent).where(
            AuditEvent.entity_id == str(paul.id), AuditEvent.actor == "sue")).one()


def test_a_care_manager_has_no_reassignment_nor_user_management(
        qtbot: QtBot, db: Database, windows: list[MainWindow]) -> None:
    window = open_window(qtbot, db, "alice")
    windows.append(window)
    ctl = window.access_ctl
    assert window.model.rowCount() == 2  # her own two; Paul is Bob's
    assert not ctl.reassign_action.isVisible() and not ctl.users_action.isVisible()


def test_the_administrator_adds_a_user_and_sets_her_role(
        qtbot: QtBot, db: Database, windows: list[MainWindow]) -> None:
    window = open_window(qtbot, db, "adam")
    windows.append(window)
    ctl = window.access_ctl
    assert ctl.users_action.isVisible()
    ctl.users_action.trigger()
    users = ctl.users_dialog
    assert users is not None
    qtbot.waitUntil(lambda: users.table.rowCount() == 4, timeout=10_000)
    grab(users, "users")
    qtbot.mouseClick(users.add_button, Qt.MouseButton.LeftButton)
    add = users.add_dialog
    qtbot.keyClicks(add.name, "eve")
    qtbot.keyClicks(add.display_name, "Ève Roux")
    qtbot.keyClicks(add.password, "un mot de passe")
    with qtbot.waitSignal(users.changed, timeout=10_000):
        add.accept()
    qtbot.waitUntil(lambda: users.table.rowCount() == 5, timeout=10_000)
    row = next(r for r in range(5) if users.table.item(r, 0).text() == "eve")
    users.table.selectRow(row)
    users.role_combo.setCurrentIndex(users.role_combo.findData("supervisor"))
    with qtbot.waitSignal(users.changed, timeout=10_000):
        qtbot.mouseClick(users.role_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: users.table.item(row, 2).text() == "Encadrante", timeout=10_000)
    with db.session() as session:
        eve = session.exec(select(User).where(User.name == "eve")).one()
        assert (eve.role, eve.display_name) == ("supervisor", "Ève Roux")
        assert eve.password_hash is not None
