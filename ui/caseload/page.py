"""The caseload page: search, filters, the caseload table and the selected patient's panel.

Keyboard first: the search field has focus at start and every action has a shortcut (the
window's menus hold them). All database work goes through the worker; callbacks run on the
GUI thread.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QSplitter,
    QTableView,
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
from carehub.directory.models import Commune
from carehub.errors import CareHubError
from carehub.users.services import list_users
from ui.caseload.patient_dialog import PatientDialog
from ui.context import AppContext
from ui.widgets.patient_panel import PatientPanel
from ui.widgets.patient_table import (
    FRAGILITY_LABELS,
    HEADERS,
    CaseloadModel,
    CaseloadQuery,
    fragility_label,
    status_label,
)

log = logging.getLogger(__name__)

# Typical content of each column: its width fits these without clipping.
_COLUMN_SAMPLES = ("Arnaud (Guillaume)", "Chantal Madeleine", "00/00/0000", "100",
                   "Saint-Julien-de-Ch", "07 00 00 00 00", "254127511297015", "Suivi actif",
                   "1 – pré-fragile", "IDE coordinatrice")
_SELECTION_DELAY_MS = 80  # arrowing down the list does not load every patient passed


def _all_communes(session: Session) -> list[tuple[str, str]]:
    rows = session.execute(select(col(Commune.insee), col(Commune.name))
                           .order_by(col(Commune.normalized), col(Commune.insee)))
    return [(insee, f"{name} ({insee})") for insee, name in rows]


def _load_patient(session: Session, patient_id: uuid.UUID) -> tuple[Any, Any]:
    return (patient_summary(session, patient_id=patient_id, as_of=date.today()),
            patient_timeline(session, patient_id=patient_id))


def _load_form(session: Session, patient_id: uuid.UUID) -> PatientInput:
    return patient_input_from(session, get_patient(session, patient_id=patient_id))


def install_caseload(ctx: AppContext) -> CaseloadPage:
    """The caseload as the « Patients » tab (Ctrl+1)."""
    page = CaseloadPage(ctx)
    ctx.add_page(page, page.tr("Patients"), "Ctrl+1")
    return page


class CaseloadPage(QWidget):
    """The caseload of the acting user: find a patient, see and edit her record."""

    patientShown = Signal(object)  # the panel shows this patient id
    patientSaved = Signal(object)  # a new/edited patient was saved (its id)
    patientCreated = Signal(object)  # a new patient's id, once saved (her intake)
    dialogOpened = Signal(object)  # the new/edit dialog is open (the dialog)
    loadFailed = Signal(object, object)  # a patient's load failed: (its id, the exception)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self.worker = ctx.worker
        self.user = ctx.user
        self.model = CaseloadModel(self.worker, self)
        self.current_dialog: PatientDialog | None = None
        self._communes: list[tuple[str, str]] | None = None
        self._shown_patient: uuid.UUID | None = None
        self._select_after_refresh: uuid.UUID | None = None
        self._selection_timer = QTimer(self)
        self._selection_timer.setSingleShot(True)
        self._selection_timer.setInterval(_SELECTION_DELAY_MS)
        self._selection_timer.timeout.connect(self._load_current_patient)
        self._build()
        self.model.resultShown.connect(self._on_result_shown)

    def _build(self) -> None:
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

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 4)
        layout.addLayout(filters)
        layout.addWidget(self.splitter, 1)
        self.count_label = QLabel()  # shown in the window's status bar

    # -- start, refresh, stop -------------------------------------------------------------

    def start(self) -> None:
        """Load the caseload, then the care managers the filter offers."""
        self.model.set_query(self._current_query(), immediate=True)
        self._load_managers()

    def refresh(self) -> None:
        """The caseload, the status bar's figures and the shown patient read again."""
        self.model.set_query(self._current_query(), immediate=True)
        self._ctx.refresh_status()
        if self._shown_patient is not None:
            self.load_patient(self._shown_patient)

    def stop(self) -> None:
        self._selection_timer.stop()

    def _load_managers(self) -> None:
        self.worker.submit(lambda s: [u.name for u in list_users(s)],
                           on_success=self._fill_manager_filter)

    # -- search and filters ---------------------------------------------------------------

    def focus_search(self) -> None:
        self._ctx.open_on(self)
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
            self.load_patient(patient_id)

    def load_patient(self, patient_id: uuid.UUID) -> None:
        self.worker.submit(lambda s: _load_patient(s, patient_id),
                           on_success=lambda loaded: self._show_patient(patient_id, loaded),
                           on_error=lambda exc: self.loadFailed.emit(patient_id, exc))

    def show_restricted(self, restricted: QWidget) -> None:
        """Access to the selected patient was refused: the panel says so, nothing else."""
        self._show_nothing()
        self.panel.stack.setCurrentWidget(restricted)

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
            on_error=self._ctx.report_error)

    def _with_communes(self, then: Callable[[list[tuple[str, str]]], None]) -> None:
        """The communes list for the forms, loaded once."""
        if self._communes is not None:
            then(self._communes)
            return

        def loaded(communes: list[tuple[str, str]]) -> None:
            self._communes = communes
            then(communes)

        self.worker.submit(_all_communes, on_success=loaded, on_error=self._ctx.report_error)

    def _open_dialog(self, patient_id: uuid.UUID | None, form: PatientInput | None,
                     communes: list[tuple[str, str]]) -> None:
        if self.current_dialog is not None:
            return
        dialog = PatientDialog(self._ctx.window, initial=form, communes=communes)
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

        def saved(pid: uuid.UUID) -> None:
            self._saved(dialog, pid)
            if patient_id is None:
                self.patientCreated.emit(pid)

        self.worker.submit(job, write=True, on_success=saved, on_error=failed)

    def _saved(self, dialog: PatientDialog, patient_id: uuid.UUID) -> None:
        dialog.accept()
        self._select_after_refresh = patient_id
        self._shown_patient = None  # reload the panel with the saved values
        self.model.refresh()
        self._ctx.refresh_status()
        self._load_managers()
        self.patientSaved.emit(patient_id)
