"""The main window: composes the screens' pages as tabs, owns the menus, toolbar and status bar.

Keyboard first: the caseload's search field has focus at start and every action has a
shortcut. All database work goes through the worker; callbacks run on the GUI thread.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QTableView, QTabWidget, QWidget

from carehub.db import Database
from carehub.errors import CareHubError
from ui.access.controller import install_access
from ui.caseload.actions_panel import install_action_features
from ui.caseload.page import CaseloadPage, install_caseload
from ui.cohort.screen import install_cohort_screen
from ui.context import AppContext, Menu
from ui.dashboard.screen import install_dashboard
from ui.directory.screen import install_directory_actions
from ui.my_day import install_my_day
from ui.scheduler import AppScheduler
from ui.sync.controller import install_sync
from ui.widgets.patient_panel import PatientPanel
from ui.widgets.patient_table import CaseloadModel
from ui.worker import DatabaseWorker

log = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    """CareHub's main window over one open database, acting as `user`."""

    patientShown = Signal(object)  # the caseload's panel shows this patient id
    statusUpdated = Signal()  # the status bar's figures were refreshed

    def __init__(self, database: Database, *, user: str) -> None:
        super().__init__()
        self.user = user
        self.worker = DatabaseWorker(database, self)
        self.scheduler = AppScheduler(self)  # screens add their timed jobs to it
        # What the screens see of the app; this window is its shell (the Shell protocol).
        self.ctx = AppContext(worker=self.worker, scheduler=self.scheduler, user=user,
                              window=self, shell=self)
        self.patientShown.connect(self.ctx.patientShown)
        self.ctx.statusUpdated.connect(self.statusUpdated)

        self.setWindowTitle("CareHub")
        self.resize(1680, 900)
        self._build_widgets()
        self._build_actions()
        self.caseload.search_field.setFocus(Qt.FocusReason.OtherFocusReason)

    # -- construction ---------------------------------------------------------------------

    def _build_widgets(self) -> None:
        # Each screen of a whole page (the caseload, the day's calls, cohort search...) is
        # a tab; add_page() is how their modules plug in.
        self.pages = QTabWidget()
        self.pages.setDocumentMode(True)
        self.setCentralWidget(self.pages)

    def add_page(self, page: QWidget, title: str, shortcut: str | None = None) -> QAction:
        """A full-page screen as a tab, with an Affichage menu entry that shows it."""
        self.pages.addTab(page, title)
        action = self._action(title, [shortcut] if shortcut else [],
                              lambda: self.show_page(page))
        self.view_menu.insertAction(self.view_menu_pages_end, action)
        return action

    def show_page(self, page: QWidget) -> None:
        self.pages.setCurrentWidget(page)
        page.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def _action(self, text: str, shortcuts: Sequence[QKeySequence | QKeySequence.StandardKey
                                                      | str],
                slot: Callable[[], object]) -> QAction:
        action = QAction(text, self)
        action.setShortcuts([QKeySequence(s) for s in shortcuts])
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        # The caseload's actions: the page is installed below, once the menus exist.
        self.find_action = self._action(self.tr("Rechercher"), ["Ctrl+F"],
                                        lambda: self.caseload.focus_search())
        self.new_action = self._action(self.tr("Nouveau patient"), ["Ctrl+N"],
                                       lambda: self.caseload.new_patient())
        self.edit_action = self._action(self.tr("Ouvrir / modifier le patient"),
                                        ["Ctrl+E", "Return", "Enter"],
                                        lambda: self.caseload.edit_current())
        self.clear_action = self._action(self.tr("Effacer la recherche"), ["Esc"],
                                         lambda: self.caseload.clear_search())
        self.refresh_action = self._action(self.tr("Actualiser"), ["F5"], self.refresh)
        self.quit_action = self._action(self.tr("Quitter"), ["Ctrl+Q"], self.close)

        file_menu = self.menuBar().addMenu(self.tr("&Fichier"))
        file_menu.addAction(self.new_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        patient_menu = self.menuBar().addMenu(self.tr("&Patient"))
        patient_menu.addAction(self.edit_action)
        view_menu = self.menuBar().addMenu(self.tr("&Affichage"))
        self.view_menu = view_menu
        self.view_menu_pages_end = view_menu.addSeparator()  # add_page() inserts above
        for action in (self.find_action, self.clear_action, self.refresh_action):
            view_menu.addAction(action)
        # The window owns the menus; screens add their entries by name (AppContext).
        self.menus: dict[Menu, QMenu] = {
            "file": file_menu, "patient": patient_menu, "view": view_menu,
            "directory": self.menuBar().addMenu(self.tr("A&nnuaire")),
            "sync": self.menuBar().addMenu(self.tr("S&ynchronisation")),
            "admin": self.menuBar().addMenu(self.tr("&Administration"))}
        self.refresh_action.triggered.connect(lambda _c=False: self.ctx.refreshRequested.emit())
        toolbar = self.addToolBar(self.tr("Actions"))
        toolbar.setObjectName("main-toolbar")
        toolbar.setMovable(False)
        self.toolbar = toolbar
        self.caseload = install_caseload(self.ctx)  # the first tab, « Patients » (Ctrl+1)
        self.statusBar().addWidget(self.caseload.count_label, 1)
        self.caseload.patientShown.connect(self.patientShown)
        self.caseload.patientCreated.connect(self.ctx.patientCreated)
        self.actions_ctl = install_action_features(self.ctx, self.caseload.panel)
        self.directory = install_directory_actions(self.ctx)
        self.my_day = install_my_day(self.ctx)  # the page the app opens on (Ctrl+J)
        self.cohort_screen = install_cohort_screen(self.ctx)
        self.dashboard = install_dashboard(self.ctx)
        for action in (self.new_action, self.edit_action, self.refresh_action):
            toolbar.addAction(action)
        for action in (self.find_action, self.new_action, self.edit_action, self.refresh_action,
                       self.quit_action):
            shortcut = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            action.setToolTip(f"{action.text()} ({shortcut})")
        self.sync_ctl = install_sync(self.ctx)  # status bar: pending, last sync, conflicts
        self.access_ctl = install_access(self.ctx)  # lock, break glass, users
        self.caseload.panel.stack.addWidget(self.access_ctl.restricted)
        self.caseload.loadFailed.connect(self.access_ctl.load_failed)
        self.access_ctl.refused.connect(
            lambda _patient_id: self.caseload.show_restricted(self.access_ctl.restricted))
        self.pending_label = self.sync_ctl.bar.pending_label
        self.sync_ctl.synced.connect(lambda _report: self.ctx.actionsChanged.emit())
        self.ctx.actionsChanged.connect(self.actions_ctl.reload)

    # -- start, refresh, close ------------------------------------------------------------

    def start(self) -> None:
        """Load the caseload and the lists its filters need, then start the timed jobs."""
        self.caseload.start()
        self.sync_ctl.load_settings()
        self.scheduler.start()

    def refresh(self) -> None:
        self.caseload.refresh()

    def shutdown(self) -> None:
        """Stop the worker (idempotent); the caller closes the database afterwards."""
        self.caseload.stop()
        self.scheduler.shutdown()
        self.sync_ctl.shutdown()
        self.worker.shutdown()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)

    # -- status bar and errors ------------------------------------------------------------

    def _refresh_pending(self) -> None:
        self.sync_ctl.refresh_status()  # emits statusUpdated once shown

    def _report_error(self, exc: BaseException) -> None:
        message = exc.message_fr if isinstance(exc, CareHubError) else str(exc)
        log.error("database job failed: %r", exc)
        self.statusBar().showMessage(message, 10_000)

    # -- the shell: what the screens ask of the window through the context (ui/context.py)

    def add_action(self, menu: Menu | None, text: str, shortcuts: Sequence[str],
                   slot: Callable[[], object]) -> QAction:
        action = self._action(text, shortcuts, slot)
        if menu is not None:
            self.menus[menu].addAction(action)
        return action

    def add_menu_action(self, menu: Menu, action: QAction) -> None:
        self.menus[menu].addAction(action)

    def add_to_toolbar(self, action: QAction) -> None:
        self.toolbar.addAction(action)

    def open_on(self, page: QWidget) -> None:
        self.pages.setCurrentWidget(page)

    def bring_to_front(self) -> None:
        self.raise_()
        self.activateWindow()

    def current_patient_id(self) -> uuid.UUID | None:
        return self.caseload.current_patient_id()

    def reload_patient(self, patient_id: uuid.UUID) -> None:
        self.caseload.load_patient(patient_id)

    def open_directory(self, *, patient_id: uuid.UUID | None = None,
                       for_patient: bool = False) -> None:
        self.directory.open(patient_id=patient_id, for_patient=for_patient)

    def refresh_status(self) -> None:
        self._refresh_pending()

    def show_message(self, text: str, timeout_ms: int) -> None:
        self.statusBar().showMessage(text, timeout_ms)

    def add_status_widget(self, widget: QWidget) -> None:
        self.statusBar().addPermanentWidget(widget)

    def report_error(self, exc: BaseException) -> None:
        self._report_error(exc)

    # -- what scripts reach of the caseload page through the window

    @property
    def caseload_page(self) -> CaseloadPage:
        return self.caseload

    @property
    def model(self) -> CaseloadModel:
        return self.caseload.model

    @property
    def table(self) -> QTableView:
        return self.caseload.table

    @property
    def panel(self) -> PatientPanel:
        return self.caseload.panel
