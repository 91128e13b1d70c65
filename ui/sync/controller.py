"""Offline first: the team hub in the app (settings, "Synchroniser", timed sync, status bar).

- Menu Synchronisation: "Synchroniser" (Ctrl+Shift+S, also on the toolbar), "Paramètres du
  hub…" (the hub's address and the care manager's login; the password goes to the OS
  keyring through carehub.sync.credentials, never to a file), "Conflits et refus…".
- A sync runs on its own thread, `sync(ctx.worker.database, ...)`: it takes the Database
  and opens its own short transactions, so it never blocks the GUI nor holds the
  DatabaseWorker's connection; SQLite's busy timeout serialises the two writers.
- The scheduler's job "sync" fires every SYNC_INTERVAL_S once a hub is configured. A
  failure is one calm line in the status bar (no dialog) and the next try backs off
  exponentially (BACKOFF_BASE_S doubling up to BACKOFF_MAX_S); the first success goes
  back to the normal interval; a resume from sleep retries at once.
- The status bar: pending changes, the last successful sync, the last error, changes the
  hub refused and a "conflits à examiner" button that opens the review dialog.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from PySide6.QtCore import QObject, QThread, Signal, Slot
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from sqlmodel import Session

from carehub.db import Database
from carehub.errors import CareHubError
from carehub.sync import credentials
from carehub.sync.fhir_export import ExportResult, push_bundle
from carehub.sync.hub import parse_hub_url
from carehub.sync.service import SyncReport, SyncStatus, list_conflicts, sync, sync_status
from carehub.sync.settings import HubSettings, compose_hub_url, hub_settings, save_hub_settings
from ui.context import AppContext
from ui.widgets.styles import BANNER_STYLE

log = logging.getLogger(__name__)

SYNC_JOB = "sync"
SYNC_INTERVAL_S = 300.0
FIRST_SYNC_DELAY_S = 5.0
BACKOFF_BASE_S = 30.0
BACKOFF_MAX_S = 1800.0
CALM_STYLE = "color: #8a5a00;"
REFUSED_STYLE = "color: #8a1c14;"
CONFLICT_STYLE = ("QToolButton { background: #fff4cc; border: 1px solid #e6c65c;"
                  " border-radius: 8px; padding: 1px 8px; }")


def backoff_delay(failures: int) -> float:
    """Seconds before the next try after `failures` failed syncs in a row (>= 1)."""
    return float(min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** max(failures - 1, 0)))


@dataclass(frozen=True)
class SyncOverview:
    """Everything the status bar shows, read in one job."""

    status: SyncStatus
    conflicts: int
    settings: HubSettings | None


def load_overview(session: Session) -> SyncOverview:
    return SyncOverview(status=sync_status(session),
                        conflicts=len(list_conflicts(session, unresolved_only=True)),
                        settings=hub_settings(session))


def when_text(moment: datetime, today: date | None = None) -> str:
    local = moment.astimezone()
    if local.date() == (today or date.today()):
        return f"à {local:%H:%M}"
    return f"le {local:%d/%m/%Y} à {local:%H:%M}"


class _SyncRunner(QObject):
    """Lives on the sync thread; one sync at a time."""

    succeeded = Signal(object)  # SyncReport
    failed = Signal(object)  # the exception
    pushed = Signal(object, object)  # ExportResult, PushResult
    pushFailed = Signal(object)  # the exception

    def __init__(self, database: Database) -> None:
        super().__init__()
        self._database = database

    @Slot(object, str)
    def push(self, result: ExportResult, endpoint: str) -> None:
        """Post a FHIR export (network only: the database is written by the caller)."""
        try:
            answer = push_bundle(result, endpoint=endpoint)
        except Exception as exc:  # shown in the export dialog
            log.info("FHIR push failed: %s", exc)
            self.pushFailed.emit(exc)
            return
        self.pushed.emit(result, answer)

    @Slot(str, str)
    def run(self, hub_url: str, user: str) -> None:
        try:
            report = sync(self._database, hub_url=hub_url, user=user)
        except Exception as exc:  # handed to the GUI thread, shown calmly
            log.info("sync failed: %s", exc)
            self.failed.emit(exc)
            return
        self.succeeded.emit(report)


class SyncStatusBar(QWidget):
    """The right-hand side of the status bar."""

    conflictsClicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.error_label = QLabel()
        self.error_label.setObjectName("syncError")
        self.error_label.setStyleSheet(CALM_STYLE)
        self.error_label.hide()
        self.refused_label = QLabel()
        self.refused_label.setStyleSheet(REFUSED_STYLE)
        self.refused_label.hide()
        self.conflicts_button = QToolButton()
        self.conflicts_button.setStyleSheet(CONFLICT_STYLE)
        self.conflicts_button.setAutoRaise(True)
        self.conflicts_button.clicked.connect(self.conflictsClicked)
        self.conflicts_button.hide()
        self.pending_label = QLabel()
        self.last_sync_label = QLabel()
        self.last_sync_label.setStyleSheet("color: #5f6b76;")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(12)
        for widget in (self.error_label, self.refused_label, self.conflicts_button,
                       self.pending_label, self.last_sync_label):
            layout.addWidget(widget)

    def show_overview(self, overview: SyncOverview, *, running: bool,
                      next_try: datetime | None) -> None:
        status = overview.status
        count = status.pending
        if count:
            self.pending_label.setText(
                self.tr("%n modifications en attente de synchronisation", "", count)
                if count > 1 else self.tr("%n modification en attente de synchronisation",
                                          "", count))
        else:
            self.pending_label.setText(self.tr("Tout est synchronisé"))
        if running:
            self.last_sync_label.setText(self.tr("Synchronisation en cours…"))
        elif overview.settings is None:
            self.last_sync_label.setText(self.tr("Pas de hub configuré"))
        elif status.last_success_at is None:
            self.last_sync_label.setText(self.tr("Jamais synchronisé"))
        else:
            self.last_sync_label.setText(self.tr("Dernière synchronisation %1")
                                         .replace("%1", when_text(status.last_success_at)))
        if status.last_error_fr and overview.settings is not None and not running:
            line = status.last_error_fr
            if next_try is not None:
                line += " " + self.tr("Nouvel essai %1.").replace("%1", when_text(next_try))
            self.error_label.setText(line)
            self.error_label.setToolTip(status.last_error or line)
            self.error_label.show()
        else:
            self.error_label.hide()
        self.refused_label.setVisible(status.refused > 0)
        self.refused_label.setText(
            self.tr("%n modifications refusées par le hub", "", status.refused)
            if status.refused > 1 else self.tr("%n modification refusée par le hub", "",
                                               status.refused))
        self.conflicts_button.setVisible(overview.conflicts > 0)
        self.conflicts_button.setText(
            "⚠ " + (self.tr("%n conflits à examiner", "", overview.conflicts)
                    if overview.conflicts > 1
                    else self.tr("%n conflit à examiner", "", overview.conflicts)))


class HubSettingsDialog(QDialog):
    """The hub's address, the care manager's login and (optionally) her hub password."""

    submitted = Signal(str, str)  # the composed hub URL, the password ('' = unchanged)

    def __init__(self, parent: QWidget | None, settings: HubSettings | None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Paramètres du hub de l'équipe"))
        self.server_field = QLineEdit(settings.server if settings else "")
        self.server_field.setPlaceholderText("postgresql://hub.exemple.fr:5432/equipe")
        self.user_field = QLineEdit(settings.user if settings else "")
        self.password_field = QLineEdit()
        self.password_field.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_field.setPlaceholderText(
            self.tr("inchangé") if settings else self.tr("gardé dans le trousseau du système"))
        self.error_label = QLabel()
        self.error_label.setStyleSheet(BANNER_STYLE)
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        form = QFormLayout()
        form.addRow(self.tr("&Adresse du hub"), self.server_field)
        form.addRow(self.tr("&Identifiant"), self.user_field)
        form.addRow(self.tr("&Mot de passe"), self.password_field)
        note = QLabel(self.tr("Le mot de passe est gardé dans le trousseau du système, jamais "
                              "dans un fichier. La synchronisation a lieu toutes les %1 "
                              "minutes quand le hub répond.")
                      .replace("%1", str(round(SYNC_INTERVAL_S / 60))))
        note.setWordWrap(True)
        note.setStyleSheet("color: #5f6b76;")
        self.save_button = QPushButton(self.tr("Enregistrer"))
        self.forget_button = QPushButton(self.tr("Ne plus synchroniser"))
        self.forget_button.setEnabled(settings is not None)
        cancel = QPushButton(self.tr("Annuler"))
        buttons = QDialogButtonBox()
        buttons.addButton(self.save_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(self.forget_button, QDialogButtonBox.ButtonRole.DestructiveRole)
        buttons.addButton(cancel, QDialogButtonBox.ButtonRole.RejectRole)
        self.save_button.clicked.connect(self._save)
        self.forget_button.clicked.connect(lambda: self.submitted.emit("", ""))
        cancel.clicked.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.error_label)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(buttons)
        self.setMinimumWidth(520)
        self.server_field.setFocus()

    def _save(self) -> None:
        try:
            url = compose_hub_url(self.server_field.text(), self.user_field.text())
        except CareHubError as exc:
            self.show_error(exc.message_fr)
            return
        self.submitted.emit(url, self.password_field.text())

    def show_error(self, message_fr: str) -> None:
        self.error_label.setText(message_fr)
        self.error_label.show()


class SyncController(QObject):
    """Runs syncs off the GUI thread, schedules them, and keeps the status bar true."""

    started = Signal()
    synced = Signal(object)  # SyncReport
    failed = Signal(str)  # the French message shown
    statusShown = Signal()
    _requested = Signal(str, str)
    push_requested = Signal(object, str)  # ExportResult, endpoint: posted on the sync thread

    def __init__(self, ctx: AppContext) -> None:
        super().__init__(ctx)
        self.ctx = ctx
        self.settings: HubSettings | None = None
        self.running = False
        self.failures = 0
        self.next_try: datetime | None = None
        self.bar = SyncStatusBar()
        self.bar.conflictsClicked.connect(self.review_conflicts)
        self._overview: SyncOverview | None = None
        self._thread = QThread()
        self._thread.setObjectName("carehub-sync")
        self._runner = _SyncRunner(ctx.worker.database)
        self._runner.moveToThread(self._thread)
        self._runner.succeeded.connect(self._succeeded)
        self._runner.failed.connect(self._failed)
        self._requested.connect(self._runner.run)
        self.push_requested.connect(self._runner.push)
        self.pushed = self._runner.pushed
        self.pushFailed = self._runner.pushFailed
        self._thread.start()
        self.sync_action = ctx.add_action(None, self.tr("Synchroniser"), ["Ctrl+Shift+S"],
                                          self.sync_now)
        ctx.scheduler.on(SYNC_JOB, lambda: self.sync_now(manual=False))
        ctx.scheduler.resumed.connect(lambda _gap: self.sync_now(manual=False))
        self.conflict_dialog: QDialog | None = None

    # -- settings -------------------------------------------------------------------------

    def load_settings(self) -> None:
        """Read the hub from the database; schedule the timed sync if there is one."""
        self.ctx.worker.submit(hub_settings, on_success=self._settings_loaded,
                               on_error=self.ctx.report_error)

    def _settings_loaded(self, settings: HubSettings | None) -> None:
        self.settings = settings
        if settings is None:
            self.ctx.scheduler.cancel(SYNC_JOB)
            self.next_try = None
        elif not self.running:
            self._schedule(datetime.now().astimezone() + timedelta(seconds=FIRST_SYNC_DELAY_S))
        self.refresh_status()

    def _schedule(self, first_at: datetime) -> None:
        self.ctx.scheduler.every(SYNC_JOB, seconds=SYNC_INTERVAL_S, first_at=first_at)
        self.next_try = first_at

    def open_settings(self) -> HubSettingsDialog:
        dialog = HubSettingsDialog(self.ctx.window, self.settings)
        dialog.submitted.connect(lambda url, password: self._save_settings(dialog, url,
                                                                           password))
        dialog.finished.connect(lambda _r: dialog.deleteLater())
        dialog.open()
        return dialog

    def _save_settings(self, dialog: HubSettingsDialog, url: str, password: str) -> None:
        actor = self.ctx.user
        if url and password:
            try:
                address = parse_hub_url(url)
                credentials.store_password(hub=address.key, user=address.user,
                                           password=password)
            except CareHubError as exc:
                dialog.show_error(exc.message_fr)
                return
        if not url and self.settings is not None:  # "Ne plus synchroniser"
            credentials.forget_password(hub=self.settings.url, user=self.settings.user)

        def saved(settings: HubSettings | None) -> None:
            dialog.accept()
            self.failures = 0
            self._settings_loaded(settings)

        self.ctx.worker.submit(
            lambda s: save_hub_settings(s, url=url or None, actor=actor), write=True,
            on_success=saved, on_error=lambda exc: dialog.show_error(
                exc.message_fr if isinstance(exc, CareHubError) else str(exc)))

    # -- syncing --------------------------------------------------------------------------

    def sync_now(self, *, manual: bool = True) -> None:
        if self.running:
            return
        if self.settings is None:
            if manual:
                self.ctx.show_message(self.tr(
                    "Aucun hub n'est configuré : Synchronisation > Paramètres du hub…"), 8_000)
            return
        self.running = True
        self.sync_action.setEnabled(False)
        self.started.emit()
        self._show(self._overview)
        self._requested.emit(self.settings.url, self.ctx.user)  # queued to the thread

    def _succeeded(self, report: SyncReport) -> None:
        self.running = False
        self.sync_action.setEnabled(True)
        self.failures = 0
        if self.settings is not None:
            self._schedule(datetime.now().astimezone() + timedelta(seconds=SYNC_INTERVAL_S))
        if report.pulled:
            self.ctx.refresh()  # what colleagues changed shows at once
        else:
            self.refresh_status()
        self.synced.emit(report)

    def _failed(self, exc: BaseException) -> None:
        self.running = False
        self.sync_action.setEnabled(True)
        self.failures += 1
        delay = backoff_delay(self.failures)
        self.next_try = datetime.now().astimezone() + timedelta(seconds=delay)
        if self.settings is not None:
            self.ctx.scheduler.once(SYNC_JOB, at=self.next_try)
        message = exc.message_fr if isinstance(exc, CareHubError) else self.tr(
            "La synchronisation a échoué ; le travail continue hors ligne.")
        if not isinstance(exc, CareHubError):
            log.error("sync failed unexpectedly: %r", exc)
        self.refresh_status()
        self.failed.emit(message)

    # -- status ---------------------------------------------------------------------------

    def refresh_status(self) -> None:
        self.ctx.worker.submit(load_overview, on_success=self._show,
                               on_error=self.ctx.report_error)

    def _show(self, overview: SyncOverview | None) -> None:
        if overview is None:
            return
        self._overview = overview
        self.bar.show_overview(overview, running=self.running, next_try=self.next_try)
        self.statusShown.emit()
        self.ctx.statusUpdated.emit()

    def review_conflicts(self) -> QDialog:
        from ui.sync.conflict_dialog import ConflictDialog

        if self.conflict_dialog is None:
            dialog = ConflictDialog(self.ctx.window, worker=self.ctx.worker,
                                    actor=self.ctx.user)
            dialog.changed.connect(self._after_resolution)
            dialog.finished.connect(lambda _r: self._conflict_dialog_closed(dialog))
            self.conflict_dialog = dialog
            dialog.open()
        return self.conflict_dialog

    def _conflict_dialog_closed(self, dialog: QDialog) -> None:
        self.conflict_dialog = None
        dialog.deleteLater()

    def _after_resolution(self) -> None:
        self.refresh_status()
        self.ctx.refresh()

    def shutdown(self) -> None:
        """Let a running sync finish its batch (each is a transaction), stop the thread."""
        self._thread.quit()
        self._thread.wait()


def open_fhir_export(ctx: AppContext, controller: SyncController) -> QDialog:
    from ui.sync.fhir_export_dialog import FhirExportDialog

    dialog = FhirExportDialog(ctx, controller)
    dialog.finished.connect(lambda _r: dialog.deleteLater())
    dialog.open()
    return dialog


def install_sync(ctx: AppContext) -> SyncController:
    """The Synchronisation menu, the toolbar button and the status bar's indicators."""
    controller = SyncController(ctx)
    ctx.add_status_widget(controller.bar)
    ctx.add_menu_action("sync", controller.sync_action)
    controller.sync_action.setToolTip(
        f"{controller.sync_action.text()} ({QKeySequence('Ctrl+Shift+S').toString()})")
    ctx.add_action("sync", controller.tr("Paramètres du hub…"), [], controller.open_settings)
    ctx.add_action("sync", controller.tr("Conflits à examiner…"), [],
                   controller.review_conflicts)
    ctx.add_action("sync", controller.tr("Exporter vers le dossier partagé (FHIR)…"), [],
                   lambda: open_fhir_export(ctx, controller))
    ctx.add_to_toolbar(controller.sync_action)
    return controller
