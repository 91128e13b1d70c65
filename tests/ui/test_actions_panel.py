"""Recording coordination actions from the patient panel, through the real widgets."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from carehub.coordination.services import list_actions, record_action
from carehub.db import Database
from carehub.sync.outbox import pending_count
from tests.ui import add_patients, grab
from ui.caseload.action_dialog import ActionDialog, idnps_of
from ui.caseload.actions_panel import ActionLine, ActionsModel
from ui.main_window import MainWindow

RPPS = "10003456786"  # passes the Luhn check


@pytest.fixture
def patient_ids(db: Database) -> dict[str, uuid.UUID]:
    return add_patients(db)


@pytest.fixture
def window(qtbot: QtBot, db: Database, patient_ids: dict[str, uuid.UUID]
           ) -> Iterator[MainWindow]:
    window = MainWindow(db, user="alice")
    qtbot.addWidget(window)
    window.resize(1500, 850)
    with qtbot.waitSignal(window.actions_ctl.actionsShown, timeout=10_000):
        window.show()
        window.start()  # the first patient is selected and shown, then its actions
    window.show_page(window.caseload_page)  # the app opens on Ma journée
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    yield window
    window.shutdown()


def _open_dialog(qtbot: QtBot, window: MainWindow, key: Qt.Key) -> ActionDialog:
    with qtbot.waitSignal(window.actions_ctl.dialogOpened, timeout=10_000) as opened:
        qtbot.keyClick(window.table, key, Qt.KeyboardModifier.ControlModifier
                       | Qt.KeyboardModifier.ShiftModifier)
    dialog = opened.args[0]
    assert isinstance(dialog, ActionDialog)
    qtbot.waitExposed(dialog)
    qtbot.waitUntil(lambda: dialog.isActiveWindow() and dialog.focusWidget() is not None)
    return dialog


def _rows(window: MainWindow) -> list[list[str]]:
    model = window.actions_ctl.page.model
    return [[model.index(row, column).data() for column in range(model.columnCount())]
            for row in range(model.rowCount())]


def _save(qtbot: QtBot, window: MainWindow, dialog: ActionDialog) -> None:
    with qtbot.waitSignal(window.actions_ctl.actionsShown, timeout=10_000):
        qtbot.keyClick(dialog.note_field, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert window.actions_ctl.current_dialog is None  # accepted and closed


def test_an_action_typed_in_the_panel_is_listed_as_recorded_here(
        qtbot: QtBot, db: Database, window: MainWindow) -> None:
    shown = window.panel.shown_patient()
    assert shown is not None
    window.panel.tabs.setCurrentWidget(window.actions_ctl.page)
    assert window.actions_ctl.page.empty_label.isVisible()
    dialog = _open_dialog(qtbot, window, Qt.Key.Key_N)
    assert dialog.windowTitle() == "Nouvelle action"
    assert dialog.type_box.hasFocus()
    assert abs(dialog.at_field.dateTime().toPython() - datetime.now()) < timedelta(minutes=2)
    qtbot.keyClick(dialog.type_box, Qt.Key.Key_Tab)  # "Appel", the first type
    assert dialog.at_field.hasFocus()
    qtbot.keyClick(dialog.at_field, Qt.Key.Key_U, Qt.KeyboardModifier.AltModifier)  # D&urée
    assert dialog.duration_box.hasFocus()
    qtbot.keyClicks(dialog.duration_box, "12")
    qtbot.keyClick(dialog.duration_box, Qt.Key.Key_Tab)
    dialog.outcome_box.setCurrentIndex(dialog.outcome_box.findData("reached"))
    qtbot.keyClicks(dialog.practitioner_field, "Dr Anne Leroy")
    qtbot.keyClicks(dialog.rpps_field, RPPS)
    qtbot.keyClicks(dialog.note_field, "Rappeler sa fille jeudi")
    qtbot.waitUntil(lambda: not window.worker.busy)  # start-up reminders are queued too
    with db.session() as session:
        pending_before = pending_count(session)
    with qtbot.waitSignal(window.statusUpdated, timeout=10_000):
        _save(qtbot, window, dialog)
    [row] = _rows(window)
    assert row[1:] == ["Appel", "Dr Anne Leroy", "Rappeler sa fille jeudi", "alice",
                       "enregistrée ici"]
    assert not window.actions_ctl.page.empty_label.isVisible()
    with db.session() as session:
        [action] = list_actions(session, patient_ref=window.current_patient_id())
    assert (action.type, action.duration_s, action.outcome, action.practitioner_id,
            action.author) == ("call", 720, "reached", "8" + RPPS, "alice")
    assert window.pending_label.text() == (
        f"{pending_before + 1} modifications en attente de synchronisation")
    grab(window, "actions-panel")
    # The Chronologie tab shows it too, among the clinical facts.
    timeline = window.panel.timeline_model
    [entry] = [timeline.entry(r) for r in range(timeline.rowCount())
               if timeline.entry(r).kind == "action"]
    assert (entry.kind_label, entry.detail) == ("Appel", "enregistrée ici")
    assert entry.text.endswith("Dr Anne Leroy · Rappeler sa fille jeudi")
    window.panel.tabs.setCurrentIndex(1)
    grab(window, "timeline-with-action")


def test_corriger_adds_an_amending_action_and_keeps_the_first(
        qtbot: QtBot, db: Database, window: MainWindow,
        patient_ids: dict[str, uuid.UUID]) -> None:
    patient_id = window.current_patient_id()
    assert patient_id is not None
    with db.transaction() as session:
        first = record_action(session, patient_ref=patient_id, action_type="referral",
                              actor="alice", at=datetime(2026, 11, 30, 9, 0, tzinfo=UTC),
                              practitioner_name="Dr Martin", note="Cardiologue")
    with qtbot.waitSignal(window.actions_ctl.actionsShown, timeout=10_000):
        window.actions_ctl.reload()
    window.panel.tabs.setCurrentWidget(window.actions_ctl.page)
    window.actions_ctl.page.view.selectRow(0)
    dialog = _open_dialog(qtbot, window, Qt.Key.Key_E)
    assert dialog.windowTitle() == "Corriger l'action"
    assert "reste dans l'historique" in dialog.heading.text()
    assert dialog.practitioner_field.text() == "Dr Martin"
    assert dialog.action_type() == "referral"
    dialog.practitioner_field.clear()
    qtbot.keyClicks(dialog.practitioner_field, "Dr Mercier")
    _save(qtbot, window, dialog)
    rows = _rows(window)
    assert [r[1] for r in rows] == ["Orientation vers un professionnel (correction)",
                                    "Orientation vers un professionnel — corrigée"]
    assert rows[0][2] == "Dr Mercier" and rows[1][2] == "Dr Martin"
    with db.session() as session:
        actions = list_actions(session, patient_ref=patient_id)
    assert len(actions) == 2
    assert {a.amends_id for a in actions} == {None, first}


def test_the_form_refuses_what_makes_no_sense(qtbot: QtBot) -> None:
    now = datetime(2026, 12, 1, 10, 0).astimezone()
    dialog = ActionDialog(patient_name="Jeanne Durand", now=now)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow)
    dialog.type_box.setCurrentIndex(dialog.type_box.findData("referral"))
    with qtbot.assertNotEmitted(dialog.submitted):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert dialog.field_error("practitioner") == (
        "Indiquez le professionnel ou l'organisme concerné.")
    assert dialog.practitioner_field.hasFocus()
    qtbot.keyClicks(dialog.rpps_field, "12345678901")
    dialog.rpps_field.editingFinished.emit()
    assert dialog.field_error("rpps").startswith("Numéro RPPS invalide")
    dialog.rpps_field.clear()
    qtbot.keyClicks(dialog.rpps_field, RPPS)
    assert dialog.field_error("rpps") == ""
    assert dialog.field_error("practitioner") == ""  # the RPPS names the practitioner

    dialog.type_box.setCurrentIndex(dialog.type_box.findData("call"))
    dialog.at_field.setDateTime(dialog.at_field.dateTime().addDays(2))
    assert dialog.draft() is None
    assert "dans le futur" in dialog.field_error("at")
    dialog.type_box.setCurrentIndex(dialog.type_box.findData("appointment"))
    assert dialog.field_error("at") == ""  # an appointment may be booked ahead
    assert dialog.duration_box.value() == 30  # and has a length
    assert not dialog.outcome_box.isEnabled()
    with qtbot.waitSignal(dialog.submitted) as sent:
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    draft = sent.args[0]
    assert (draft.action_type, draft.duration_s, draft.practitioner_id, draft.outcome) == (
        "appointment", 1800, "8" + RPPS, None)
    assert draft.at - now > timedelta(days=1)


def test_idnps_from_what_a_nurse_types() -> None:
    assert idnps_of("100 0345 6786") == "8" + RPPS
    assert idnps_of("8" + RPPS) == "8" + RPPS
    assert idnps_of("10003456785") is None


def test_the_actions_model_passes_the_model_tester(qtmodeltester: object,
                                                   db: Database) -> None:
    ids = add_patients(db)
    with db.transaction() as session:
        record_action(session, patient_ref=ids["jeanne"], action_type="call", actor="alice")
    with db.session() as session:
        [action] = list_actions(session)
    model = ActionsModel()
    model.set_lines([ActionLine(action, "refused", "patient inconnu du hub"),
                     ActionLine(action, "acknowledged", corrected=True)])
    assert model.index(0, 5).data() == "refusée : patient inconnu du hub"
    assert model.index(1, 5).data() == "reçue par le hub"
    qtmodeltester.check(model)  # type: ignore[attr-defined]
