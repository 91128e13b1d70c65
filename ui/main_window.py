"""The main window: search, filters, the caseload table and the patient panel.

Keyboard first: the search field has focus at start and every action has a shortcut.
All database work goes through the worker; callbacks run on the GUI thread.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy import select
from sqlmodel import Session, col

from carehub.caseload.models import PATIENT_STATUSES
from carehub.caseload.services import (
    PatientInput,
    create_patient,
    get_patient,
    patient_input_from,
    update_patient,
)
from carehub.caseload.summary import patient_summary, patient_timeline
from carehub.db import Database
from carehub.directory.models import Commune
from carehub.errors import CareHubError
from carehub.users.services import list_users
from ui.access.controller import install_access
from ui.caseload.actions_panel import install_action_features
from ui.caseload.patient_dialog import PatientDialog
from ui.cohort.screen import install_cohort_screen
from ui.context import AppContext, Menu
from ui.dashboard.screen import install_dashboard
from ui.directory.screen import install_directory_actions
from ui.my_day import install_my_day
from ui.scheduler import AppScheduler
from ui.sync.controller import install_sync
from ui.widgets.patient_panel import PatientPanel
from ui.widgets.patient_table import (
    FRAGILITY_LABELS,
    HEADERS,
    CaseloadModel,
    CaseloadQuery,
    fragility_label,
    status_label,
)
from ui.worker import DatabaseWorker

log = logging.getLogger(__name__)

# Typical content of each column: its width fits these without clipping.
_COLUMN_SAMPLES = ("Arnaud (Guillaume)", "Chantal Madeleine", "00/00/0000", "100",
                   "Saint-Julien-de-Ch", "07 00 00 00 00", "254127511297015", "Suivi actif",
                   "1 – pré-fragile", "IDE coordinatrice")
_SELECTION_DELAY_MS = 80  # arrowing down the list does not load every patient passed


def _all_communes(session: Session) -> list[tuple[str, str]]:
    rows = session.execute(select(Commune.insee, Commune.name)
                           .order_by(col(Commune.normalized), col(Commune.insee)))
    return [(insee, f"{name} ({insee})") for insee, name in rows]


def _load_patient(session: Session, patient_id: uuid.UUID) -> tuple[Any, Any]:
    return (patient_summary(session, patient_id=patient_id, as_of=date.today()),
            patient_timeline(session, patient_id=patient_id))


def _load_form(session: Session, patient_id: uuid.UUID) -> PatientInput:
    return patient_input_from(session, get_patient(session, patient_id=patient_id))


class MainWindow(QMainWindow):
    """CareHub's main window over one open database, acting as `user`."""

    patientShown = Signal(object)  # the panel shows this patient id
    patientSaved = Signal(object)  # a new/edited patient was saved (its id)
    dialogOpened = Signal(object)  # the new/edit dialog is open (the dialog)
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
        self.model = CaseloadModel(self.worker, self)
        self.current_dialog: PatientDialog | None = None
        self._communes: list[tuple[str, str]] | None = None
        self._shown_patient: uuid.UUID | None = None
        self._select_after_refresh: uuid.UUID | None = None
        self._selection_timer = QTimer(self)
        self._selection_timer.setSingleShot(True)
        self._selection_timer.setInterval(_SELECTION_DELAY_MS)
        self._selection_timer.timeout.connect(self._load_current_patient)

        self.setWindowTitle("CareHub")
        self.resize(1680, 900)
        self._build_widgets()
        self._build_actions()
        self.model.resultShown.connect(self._on_result_shown)
        self.search_field.setFocus(Qt.FocusReason.OtherFocusReason)

    # -- construction ---------------------------------------------------------------------

    def _build_widgets(self) -> None:
        self.search_field = QLineEdit()
        self.search_field.setPlaceholderText(self.tr("Rechercher : nom, INS, téléphone, commune…"))
        self.search_field.setClearButtonEnabled(True)
        self.search_field.textChanged.connect(self._on_filters_changed)

        self.status_filter = QComboBox()
        self.status_filter.addItem(self.tr("Tous les statuts"), None)
        for status in PATIENT_STATUSES:
            self.status_filter.addItem(status_label(status), status)
        self.fragility_filter = QComboBox()
        self.fragility_filter.addItem(self.tr("Toutes fragilités"), None)
        for level in FRAGILITY_LABELS:
            self.fragility_filter.addItem(fragility_label(level), level)
        self.manager_filter = QComboBox()
        self.manager_filter.addItem(self.tr("Toutes les IDE coordinatrices"), None)
        for combo, label in ((self.status_filter, self.tr("Statut")),
                             (self.fragility_filter, self.tr("Fragilité")),
                             (self.manager_filter, self.tr("IDE coordinatrice"))):
            combo.setAccessibleName(label)
            combo.currentIndexChanged.connect(self._on_filters_changed)

        filters = QHBoxLayout()
        filters.addWidget(self.search_field, 3)
        filters.addWidget(self.status_filter, 1)
        filters.addWidget(self.fragility_filter, 1)
        filters.addWidget(self.manager_filter, 1)

        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        rows = self.table.verticalHeader()
        rows.setVisible(False)
        # Uniform row heights: the view never measures 50,000 rows to scroll.
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setDefaultSectionSize(self.fontMetrics().height() + 8)
        columns = self.table.horizontalHeader()
        columns.setHighlightSections(False)
        columns.setStretchLastSection(True)
        metrics = self.table.fontMetrics()
        for column, sample in enumerate(_COLUMN_SAMPLES[:len(HEADERS)]):
            header = self.model.headerData(column, Qt.Orientation.Horizontal)
            self.table.setColumnWidth(column, max(metrics.horizontalAdvance(sample),
                                                  metrics.horizontalAdvance(header)) + 16)
        self.table.selectionModel().currentRowChanged.connect(self._on_current_row_changed)
        self.table.doubleClicked.connect(lambda _index: self.edit_current())

        self.panel = PatientPanel()
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.panel)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setSizes([1100, 580])

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(8, 8, 8, 4)
        layout.addLayout(filters)
        layout.addWidget(self.splitter, 1)
        # Screens of a whole page (the day's calls, cohort search...) are tabs beside the
        # caseload; add_page() is how their modules plug in.
        self.pages = QTabWidget()
        self.pages.setDocumentMode(True)
        self.pages.addTab(central, self.tr("Patients"))
        self.caseload_page = central
        self.setCentralWidget(self.pages)

        self.count_label = QLabel()
        self.statusBar().addWidget(self.count_label, 1)

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
        self.find_action = self._action(self.tr("Rechercher"), ["Ctrl+F"], self.focus_search)
        self.new_action = self._action(self.tr("Nouveau patient"), ["Ctrl+N"], self.new_patient)
        self.edit_action = self._action(self.tr("Ouvrir / modifier le patient"),
                                        ["Ctrl+E", "Return", "Enter"], self.edit_current)
        self.clear_action = self._action(self.tr("Effacer la recherche"), ["Esc"],
                                         self.clear_search)
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
        view_menu.addAction(self._action(self.tr("Patients"), ["Ctrl+1"],
                                         lambda: self.show_page(self.caseload_page)))
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
        self.actions_ctl = install_action_features(self.ctx, self.panel)
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
        self.panel.stack.addWidget(self.access_ctl.restricted)
        self.access_ctl.refused.connect(self._show_restricted)
        self.pending_label = self.sync_ctl.bar.pending_label
        self.sync_ctl.synced.connect(lambda _report: self.ctx.actionsChanged.emit())
        self.ctx.actionsChanged.connect(self.actions_ctl.reload)

    # -- start, refresh, close ------------------------------------------------------------

    def start(self) -> None:
        """Load the caseload, then the lists the filters and forms need."""
        self.model.set_query(self._current_query(), immediate=True)
        self.worker.submit(lambda s: [u.name for u in list_users(s)],
                           on_success=self._fill_manager_filter)
        self.sync_ctl.load_settings()
        self.scheduler.start()

    def refresh(self) -> None:
        self.model.set_query(self._current_query(), immediate=True)
        self._refresh_pending()
        if self._shown_patient is not None:
            self._load_patient(self._shown_patient)

    def shutdown(self) -> None:
        """Stop the worker (idempotent); the caller closes the database afterwards."""
        self._selection_timer.stop()
        self.scheduler.shutdown()
        self.sync_ctl.shutdown()
        self.worker.shutdown()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)

    # -- search and filters ---------------------------------------------------------------

    def focus_search(self) -> None:
        self.pages.setCurrentWidget(self.caseload_page)
        self.search_field.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search_field.selectAll()

    def clear_search(self) -> None:
        self.search_field.clear()
        self.search_field.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def _current_query(self) -> CaseloadQuery:
        status = self.status_filter.currentData()
        level = self.fragility_filter.currentData()
        return CaseloadQuery(text=self.search_field.text(),
                             statuses=() if status is None else (status,),
                             fragility_levels=() if level is None else (level,),
                             care_manager=self.manager_filter.currentData())

    def _on_filters_changed(self, *_args: object) -> None:
        self.model.set_query(self._current_query())

    def _fill_manager_filter(self, names: list[str]) -> None:
        current = self.manager_filter.currentData()
        self.manager_filter.blockSignals(True)
        while self.manager_filter.count() > 1:
            self.manager_filter.removeItem(1)
        for name in names:
            self.manager_filter.addItem(name, name)
        found = self.manager_filter.findData(current) if current else 0
        self.manager_filter.setCurrentIndex(max(found, 0))
        self.manager_filter.blockSignals(False)

    def _on_result_shown(self, count: int) -> None:
        # French plural: 0 and 1 are singular.
        self.count_label.setText(self.tr("%n patients", "", count) if count > 1
                                 else self.tr("%n patient", "", count))
        wanted = self._select_after_refresh or self._shown_patient
        self._select_after_refresh = None
        row = self.model.row_of(wanted) if wanted is not None else None
        if row is None and count:
            row = 0  # type a name, press Return: the first match opens
        if row is not None:
            self.table.selectRow(row)
            self.table.scrollTo(self.model.index(row, 0))
        else:
            self._show_nothing()

    # -- the patient panel ----------------------------------------------------------------

    def current_patient_id(self) -> uuid.UUID | None:
        index = self.table.currentIndex()
        return self.model.patient_id(index.row()) if index.isValid() else None

    def _on_current_row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self._selection_timer.start()
        else:
            self._show_nothing()

    def _load_current_patient(self) -> None:
        patient_id = self.current_patient_id()
        if patient_id is not None and patient_id != self._shown_patient:
            self._load_patient(patient_id)

    def _load_patient(self, patient_id: uuid.UUID) -> None:
        self.worker.submit(lambda s: _load_patient(s, patient_id),
                           on_success=lambda loaded: self._show_patient(patient_id, loaded),
                           on_error=lambda exc: self.access_ctl.load_failed(patient_id, exc))

    def _show_restricted(self, _patient_id: uuid.UUID) -> None:
        """Access to the selected patient was refused: the panel says so, nothing else."""
        self._show_nothing()
        self.panel.stack.setCurrentWidget(self.access_ctl.restricted)

    def _show_patient(self, patient_id: uuid.UUID, loaded: tuple[Any, Any]) -> None:
        if self.current_patient_id() != patient_id:
            return  # the user moved on while it loaded
        summary, timeline = loaded
        self.panel.show_patient(summary, timeline)
        self._shown_patient = patient_id
        self.patientShown.emit(patient_id)

    def _show_nothing(self) -> None:
        self._shown_patient = None
        self.panel.clear()

    # -- new / edit -----------------------------------------------------------------------

    def new_patient(self) -> None:
        self._with_communes(lambda communes: self._open_dialog(None, None, communes))

    def edit_current(self) -> None:
        patient_id = self.current_patient_id()
        if patient_id is None or self.current_dialog is not None:
            return
        self.worker.submit(
            lambda s: _load_form(s, patient_id),
            on_success=lambda form: self._with_communes(
                lambda communes: self._open_dialog(patient_id, form, communes)),
            on_error=self._report_error)

    def _with_communes(self, then: Callable[[list[tuple[str, str]]], None]) -> None:
        """The communes list for the forms, loaded once."""
        if self._communes is not None:
            then(self._communes)
            return

        def loaded(communes: list[tuple[str, str]]) -> None:
            self._communes = communes
            then(communes)

        self.worker.submit(_all_communes, on_success=loaded, on_error=self._report_error)

    def _open_dialog(self, patient_id: uuid.UUID | None, form: PatientInput | None,
                     communes: list[tuple[str, str]]) -> None:
        if self.current_dialog is not None:
            return
        dialog = PatientDialog(self, initial=form, communes=communes)
        dialog.submitted.connect(lambda data: self._save(dialog, patient_id, data))
        dialog.finished.connect(lambda _result: self._dialog_closed(dialog))
        self.current_dialog = dialog
        dialog.open()
        self.dialogOpened.emit(dialog)

    def _dialog_closed(self, dialog: PatientDialog) -> None:
        if self.current_dialog is dialog:
            self.current_dialog = None
        dialog.deleteLater()
        self.table.setFocus(Qt.FocusReason.OtherFocusReason)

    def _save(self, dialog: PatientDialog, patient_id: uuid.UUID | None,
              data: PatientInput) -> None:
        user = self.user

        def job(session: Session) -> uuid.UUID:
            if patient_id is None:
                return create_patient(session, data=data, actor=user)
            update_patient(session, patient_id=patient_id, data=data, actor=user)
            return patient_id

        def failed(exc: BaseException) -> None:
            if isinstance(exc, CareHubError):
                dialog.show_save_error(exc.message_fr)
            else:
                log.exception("saving a patient failed", exc_info=exc)
                dialog.show_save_error(self.tr(
                    "L'enregistrement a échoué ; rien n'a été modifié. Détail : %1")
                    .replace("%1", str(exc)))

        self.worker.submit(job, write=True, on_success=lambda pid: self._saved(dialog, pid),
                           on_error=failed)

    def _saved(self, dialog: PatientDialog, patient_id: uuid.UUID) -> None:
        dialog.accept()
        self._select_after_refresh = patient_id
        self._shown_patient = None  # reload the panel with the saved values
        self.model.refresh()
        self._refresh_pending()
        self.worker.submit(lambda s: [u.name for u in list_users(s)],
                           on_success=self._fill_manager_filter)
        self.patientSaved.emit(patient_id)

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

    def reload_patient(self, patient_id: uuid.UUID) -> None:
        self._load_patient(patient_id)

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
