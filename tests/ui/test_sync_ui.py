"""Sync in the app: the Synchroniser button against a hub that is down and a real
PostgreSQL hub, the back-off, the status bar, the settings, the conflict review."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from sqlmodel import col, select

from carehub.coordination.services import list_actions, record_action
from carehub.db import Database
from carehub.sync import credentials
from carehub.sync.outbox import OutboxEntry, pending_count
from carehub.sync.service import action_delivery, list_conflicts, sync_status
from carehub.sync.settings import hub_settings, save_hub_settings
from tests.conftest import Hub
from tests.sync_helpers import edit_patient, make_ins, new_patient, patients, run_sync
from tests.ui import add_patients, grab
from ui.main_window import MainWindow
from ui.sync import controller as sync_ui
from ui.sync.conflict_dialog import ConflictDialog, ConflictLine, ConflictsModel, RefusedModel
from ui.sync.controller import HubSettingsDialog, backoff_delay

Workstation = Callable[[str], Database]
SYNC_KEYS = (Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier
             | Qt.KeyboardModifier.ShiftModifier)


@pytest.fixture(autouse=True)
def no_early_timed_sync(monkeypatch: pytest.MonkeyPatch) -> None:
    """The timed first sync would race the button the test presses."""
    monkeypatch.setattr(sync_ui, "FIRST_SYNC_DELAY_S", 3600.0)


@pytest.fixture
def open_window(qtbot: QtBot) -> Iterator[Callable[[Database], MainWindow]]:
    opened: list[MainWindow] = []

    def make(database: Database) -> MainWindow:
        window = MainWindow(database, user="alice")
        qtbot.addWidget(window)
        window.resize(1500, 850)
        with qtbot.waitSignals([window.sync_ctl.statusShown, window.actions_ctl.actionsShown],
                               timeout=10_000):
            window.show()
            window.start()
        qtbot.waitUntil(lambda: not window.worker.busy)
        window.activateWindow()
        qtbot.waitUntil(window.isActiveWindow)
        opened.append(window)
        return window

    yield make
    for window in opened:
        window.shutdown()


def configure(database: Database, url: str) -> None:
    with database.transaction() as session:
        save_hub_settings(session, url=url, actor="alice")


def press_sync(qtbot: QtBot, window: MainWindow, outcome: str) -> list[object]:
    with qtbot.waitSignal(getattr(window.sync_ctl, outcome), timeout=30_000) as signal:
        qtbot.keyClick(window.table, *SYNC_KEYS)
    qtbot.waitUntil(lambda: not window.worker.busy)
    return list(signal.args)


def delivery_texts(window: MainWindow) -> list[str]:
    model = window.actions_ctl.page.model
    return [model.index(row, 5).data() for row in range(model.rowCount())]


def test_a_hub_that_is_down_is_one_calm_line_and_a_later_retry(
        qtbot: QtBot, db: Database, tmp_path: Path,
        open_window: Callable[[Database], MainWindow]) -> None:
    ids = add_patients(db)
    with db.transaction() as session:
        record_action(session, patient_ref=ids["jeanne"], action_type="call", actor="alice")
    configure(db, f"postgresql://alice@/hub?host={tmp_path / 'no-hub-here'}")
    window = open_window(db)
    with db.session() as session:
        before = pending_count(session)
    started = datetime.now().astimezone()
    [message] = press_sync(qtbot, window, "failed")
    assert message.startswith("Le hub est injoignable")
    bar = window.sync_ctl.bar
    qtbot.waitUntil(bar.error_label.isVisible)
    assert bar.error_label.text().startswith("Le hub est injoignable. Le travail continue "
                                             "hors ligne")
    assert "Nouvel essai à" in bar.error_label.text()
    assert QApplication.activeModalWidget() is None  # no dialog
    assert window.pending_label.text() == f"{before} modifications en attente de synchronisation"
    assert bar.last_sync_label.text() == "Jamais synchronisé"
    with db.session() as session:
        assert pending_count(session) == before  # nothing changed, nothing lost
        assert sync_status(session).last_error_fr is not None
    first_retry = window.scheduler.next_run(sync_ui.SYNC_JOB)
    assert first_retry is not None
    assert started < first_retry <= started + timedelta(seconds=backoff_delay(1) + 5)
    # It keeps failing: the next try waits twice as long.
    with qtbot.waitSignal(window.sync_ctl.statusShown, timeout=30_000,
                          check_params_cb=lambda: window.sync_ctl.failures == 2):
        window.sync_ctl.sync_now()
    assert bar.error_label.isVisible()
    second_retry = window.scheduler.next_run(sync_ui.SYNC_JOB)
    assert second_retry is not None and second_retry > first_retry
    assert [backoff_delay(n) for n in range(1, 9)] == [30, 60, 120, 240, 480, 960, 1800, 1800]
    grab(window, "sync-down")
    # Back from sleep: it tries at once rather than wait for the back-off.
    with qtbot.waitSignal(window.sync_ctl.started, timeout=5_000):
        window.scheduler.resumed.emit(3600.0)
    qtbot.waitUntil(lambda: window.sync_ctl.failures == 3, timeout=30_000)


def test_synchroniser_sends_the_action_and_the_hub_acknowledges_it(
        qtbot: QtBot, db: Database, hub: Hub,
        open_window: Callable[[Database], MainWindow]) -> None:
    hub.grant("alice", follows=["alice"])
    paul = add_patients(db, care_managers={"paul": "bob"})["paul"]  # in Bob's caseload
    configure(db, hub.url("alice"))
    window = open_window(db)
    patient_id = window.current_patient_id()
    assert patient_id is not None
    with db.transaction() as session:
        mine = record_action(session, patient_ref=patient_id, action_type="call",
                             actor="alice", note="Appel de suivi")
    with qtbot.waitSignal(window.actions_ctl.actionsShown, timeout=10_000):
        window.actions_ctl.reload()
    assert delivery_texts(window) == ["enregistrée ici"]
    with qtbot.waitSignal(window.actions_ctl.actionsShown, timeout=30_000):
        [report] = press_sync(qtbot, window, "synced")
    assert report.pushed >= 3 and report.refused >= 1
    with db.session() as session:  # Paul and his reminders are not hers to send
        refused = session.exec(select(OutboxEntry).where(
            col(OutboxEntry.refused_at).is_not(None))).all()
    assert {e.entity_id if e.entity == "patient" else e.payload.get("patient_id")
            for e in refused} == {str(paul)}
    assert delivery_texts(window) == ["reçue par le hub"]
    bar = window.sync_ctl.bar
    qtbot.waitUntil(lambda: bar.last_sync_label.text().startswith(
        "Dernière synchronisation à"))
    assert not bar.error_label.isVisible()
    assert bar.refused_label.text() == ("1 modification refusée par le hub" if len(refused) == 1
                                        else f"{len(refused)} modifications refusées par le hub")
    assert window.pending_label.text() == "Tout est synchronisé"
    assert hub.count("action") == 1
    with db.session() as session:
        assert action_delivery(session, action_ids=[mine]) == {mine: "acknowledged"}
    grab(window, "sync-ok")
    # The refusal is kept, marked and explained in the review dialog.
    dialog = window.sync_ctl.review_conflicts()
    assert isinstance(dialog, ConflictDialog)
    qtbot.waitUntil(lambda: dialog.refused_model.rowCount() == len(refused))
    reasons = {dialog.refused_model.index(row, 2).data() for row in range(len(refused))}
    assert "patient d'un portefeuille que vous ne suivez ni ne remplacez" in reasons
    assert dialog.tabs.tabText(1) == f"Refusées par le hub ({len(refused)})"
    dialog.close()


def test_an_action_on_a_patient_the_hub_refuses_shows_the_reason(
        qtbot: QtBot, db: Database, hub: Hub,
        open_window: Callable[[Database], MainWindow]) -> None:
    hub.grant("alice", follows=["alice"])
    ids = add_patients(db, care_managers={"jeanne": "bob", "paul": "bob", "claire": "bob"})
    with db.transaction() as session:
        record_action(session, patient_ref=ids["jeanne"], action_type="call", actor="alice")
    configure(db, hub.url("alice"))
    window = open_window(db)
    with qtbot.waitSignal(window.actions_ctl.actionsShown, timeout=30_000):
        press_sync(qtbot, window, "synced")
    [status] = delivery_texts(window)
    assert status.startswith("refusée : ")
    assert hub.count("action") == 0
    with db.session() as session:
        assert len(list_actions(session)) == 1  # kept here, never dropped


def test_the_conflict_dialog_brings_the_overwritten_value_back(
        qtbot: QtBot, db: Database, hub: Hub, workstation: Workstation,
        open_window: Callable[[Database], MainWindow]) -> None:
    hub.grant("alice", follows=["alice"], covers=["bob"])
    hub.grant("bob", follows=["bob"], covers=["alice"])
    bob = workstation("bob")
    patient = new_patient(db, "alice", "Moreau", ins=make_ins(7))
    run_sync(db, hub.url("alice"), "alice")
    run_sync(bob, hub.url("bob"), "bob")
    edit_patient(db, "alice", patient, used_name="Moreau-Blanc")
    edit_patient(bob, "bob", patient, used_name="Blanc")  # later: the hub keeps it
    run_sync(db, hub.url("alice"), "alice")
    run_sync(bob, hub.url("bob"), "bob")
    run_sync(db, hub.url("alice"), "alice")
    configure(db, hub.url("alice"))
    window = open_window(db)
    button = window.sync_ctl.bar.conflicts_button
    qtbot.waitUntil(button.isVisible)
    assert button.text() == "⚠ 1 conflit à examiner"
    grab(window, "conflict-indicator")
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    dialog = window.sync_ctl.conflict_dialog
    assert isinstance(dialog, ConflictDialog)
    qtbot.waitUntil(lambda: dialog.conflicts_model.rowCount() == 1)
    cells = [dialog.conflicts_model.index(0, c).data() for c in range(4)]
    assert cells == ["Blanc Jeanne", "Nom d'usage", "Blanc (bob)", "Moreau-Blanc (alice)"]
    grab(dialog, "conflict-dialog")
    with qtbot.waitSignal(dialog.loaded, timeout=10_000):
        qtbot.mouseClick(dialog.restore_button, Qt.MouseButton.LeftButton)
    assert dialog.conflicts_model.rowCount() == 0
    assert dialog.empty_label.isVisible()
    qtbot.waitUntil(lambda: not button.isVisible())
    assert patients(db)[patient]["used_name"] == "Moreau-Blanc"
    with db.session() as session:
        assert list_conflicts(session) == []
    dialog.close()


def test_hub_settings_keep_the_address_in_the_database_and_the_password_in_the_keyring(
        qtbot: QtBot, db: Database, open_window: Callable[[Database], MainWindow]) -> None:
    add_patients(db)
    window = open_window(db)
    assert window.sync_ctl.bar.last_sync_label.text() == "Pas de hub configuré"
    assert window.scheduler.next_run(sync_ui.SYNC_JOB) is None
    dialog = window.sync_ctl.open_settings()
    assert isinstance(dialog, HubSettingsDialog)
    qtbot.keyClicks(dialog.server_field, "postgresql://hub.exemple.fr:5432/equipe")
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert dialog.error_label.text() == "L'identifiant au hub est vide."
    qtbot.keyClicks(dialog.user_field, "alice")
    qtbot.keyClicks(dialog.password_field, "s3cret")
    grab(dialog, "hub-settings")
    with qtbot.waitSignal(window.sync_ctl.statusShown, timeout=10_000):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    url = "postgresql://alice@hub.exemple.fr:5432/equipe"
    with db.session() as session:
        settings = hub_settings(session)
    assert settings is not None and settings.url == url
    assert credentials.get_password(hub=url, user="alice") == "s3cret"
    assert "s3cret" not in db.path.with_name("carehub.db").read_bytes().decode("latin-1")
    assert window.sync_ctl.bar.last_sync_label.text() == "Jamais synchronisé"
    assert window.scheduler.next_run(sync_ui.SYNC_JOB) is not None  # timed sync is on
    again = window.sync_ctl.open_settings()
    assert (again.server_field.text(), again.user_field.text()) == (
        "postgresql://hub.exemple.fr:5432/equipe", "alice")
    with qtbot.waitSignal(window.sync_ctl.statusShown, timeout=10_000):
        qtbot.mouseClick(again.forget_button, Qt.MouseButton.LeftButton)
    with db.session() as session:
        assert hub_settings(session) is None
    assert credentials.get_password(hub=url, user="alice") is None
    assert window.scheduler.next_run(sync_ui.SYNC_JOB) is None
    assert window.sync_ctl.bar.last_sync_label.text() == "Pas de hub configuré"


def test_the_review_models_pass_the_model_tester(qtmodeltester: object) -> None:
    from carehub.sync.service import ConflictRow
    from ui.sync.conflict_dialog import RefusedLine

    conflict = ConflictRow(id=uuid.uuid4(), patient_id=uuid.uuid4(), field="email",
                           kept_value=None, overwritten_value="a@b.fr", kept_from="bob",
                           overwritten_from="alice", at=datetime.now().astimezone(),
                           resolved=False)
    conflicts = ConflictsModel()
    conflicts.set_rows([ConflictLine(conflict, "Durand Jeanne")])
    assert conflicts.index(0, 2).data() == "(vide) (bob)"
    qtmodeltester.check(conflicts)  # type: ignore[attr-defined]
    refused = RefusedModel()
    refused.set_rows([RefusedLine("action", str(uuid.uuid4()), "call", "raison", None)])
    qtmodeltester.check(refused)  # type: ignore[attr-defined]


def test_export_to_the_shared_record_marks_the_actions_exported(
        qtbot: QtBot, db: Database, open_window: Callable[[Database], MainWindow]) -> None:
    from tests.fhir_server import fhir_server
    from ui.sync.fhir_export_dialog import FhirExportDialog

    add_patients(db)
    window = open_window(db)
    patient_id = window.current_patient_id()
    with db.transaction() as session:
        record_action(session, patient_ref=patient_id, action_type="referral", actor="alice",
                      practitioner_id="810003456786", practitioner_name="Dr Anne Leroy")
    with fhir_server() as (endpoint, store):
        dialog = sync_ui.open_fhir_export(window.ctx, window.sync_ctl)
        assert isinstance(dialog, FhirExportDialog)
        qtbot.keyClicks(dialog.endpoint_field, "ftp://nowhere")
        qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(dialog.error_label.isVisible)
        assert dialog.error_label.text().startswith("« ftp://nowhere » n'est pas l'adresse")
        dialog.endpoint_field.setText(endpoint)
        with qtbot.waitSignals([dialog.exported, window.actions_ctl.actionsShown],
                               timeout=20_000):
            qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
        assert dialog.result_label.text() == (
            "1 action envoyée au dossier partagé (nouvelles : 1, déjà présentes : 0).")
        assert [key.split("/")[0] for key in store.resources] == ["ServiceRequest"]
        assert delivery_texts(window) == ["exportée vers le dossier partagé"]
        grab(dialog, "fhir-export")
        qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)  # again
        qtbot.waitUntil(lambda: dialog.result_label.text() == "Rien de nouveau à exporter.")
        assert len(store.resources) == 1
        dialog.close()
    again = sync_ui.open_fhir_export(window.ctx, window.sync_ctl)
    assert isinstance(again, FhirExportDialog)
    qtbot.waitUntil(lambda: again.endpoint_field.text() == endpoint)  # remembered
    again.close()
