"""Cohort search screen: a criteria builder and the query text, kept in step; the patients found.

The builder shows the query as rows of criteria in ET/OU groups, each row or group with
its NON box; the text field below shows the same query in the language of DESIGN.md.
Changing a row rewrites the text; editing the text rebuilds the rows whenever it parses,
else the error says in French at which column and what was expected. The count and the
table (the caseload's SQL-backed model over the ids found) follow after a short pause,
computed on the worker thread. Searches can be saved under a name and exported to CSV
for a French spreadsheet (UTF-8 with BOM, `;`, dates dd/mm/yyyy). "Créer une campagne
d'appels" gives every patient found a reminder with the campaign's reason
(carehub.prevention's create_campaign), which then shows on the day's call list.
"""

from __future__ import annotations

import logging
import uuid
from datetime import date
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)
from sqlmodel import Session

from carehub.caseload.summary import patient_summary, patient_timeline
from carehub.cohort.builder import (
    rows_of,
    text_of,
)
from carehub.cohort.parser import parse_query
from carehub.cohort.saved import (
    SavedSearchRow,
    delete_saved_search,
    list_saved_searches,
    save_search,
)
from carehub.errors import CareHubError
from carehub.prevention.services import create_campaign
from ui.cohort.criteria import GroupWidget
from ui.cohort.results import CampaignDialog, CohortResultModel, csv_bytes
from ui.context import AppContext
from ui.widgets.patient_panel import PatientPanel
from ui.worker import DatabaseWorker

log = logging.getLogger(__name__)
SELECTION_DELAY_MS = 80  # arrowing down the results does not load every patient passed


class CohortScreen(QWidget):
    """The search page: builder, text, count, saved searches, results and export."""

    queryChanged = Signal(str)  # the text shown changed (from the rows or typed)
    countShown = Signal(int)  # a count (and the table's rows) for the current query
    patientShown = Signal(object)  # the panel shows this patient (id)
    savedListed = Signal()  # the saved searches' list was (re)loaded
    exported = Signal(str, int)  # CSV written: path, patients
    campaignDialogOpened = Signal(object)  # the campaign dialog
    campaignCreated = Signal(object, int)  # campaign id, reminders created
    failed = Signal(str)  # a French message the screen shows

    def __init__(self, worker: DatabaseWorker, *, user: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.worker = worker
        self.user = user
        self._syncing = False
        self._saved: list[SavedSearchRow] = []
        self.model = CohortResultModel(worker, self)
        self._build()
        self.model.resultShown.connect(self._on_result)
        self.model.searchFailed.connect(self._on_search_failed)

    # -- construction

    def _build(self) -> None:
        self.saved_combo = QComboBox()
        self.saved_combo.setAccessibleName(self.tr("Recherches enregistrées"))
        self.saved_combo.setMinimumContentsLength(24)
        saved_label = QLabel(self.tr("&Recherches enregistrées :"))
        saved_label.setBuddy(self.saved_combo)
        self.name_field = QLineEdit()
        self.name_field.setPlaceholderText(self.tr("Nom de la recherche"))
        self.save_button = QPushButton(self.tr("&Enregistrer"))
        self.delete_button = QPushButton(self.tr("Supprimer"))
        self.delete_button.setToolTip(self.tr("Supprimer la recherche enregistrée choisie"))
        top = QHBoxLayout()
        top.addWidget(saved_label)
        top.addWidget(self.saved_combo, 2)
        top.addWidget(self.delete_button)
        top.addSpacing(24)
        top.addWidget(self.name_field, 2)
        top.addWidget(self.save_button)

        self.builder = GroupWidget(top=True)
        self.builder.add_row_button.setToolTip(self.tr("Ajouter un critère (Alt+C)"))
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        holder = QWidget()
        holder_layout = QVBoxLayout(holder)
        holder_layout.setContentsMargins(0, 0, 0, 0)
        holder_layout.addWidget(self.builder)
        holder_layout.addStretch(1)
        scroll.setWidget(holder)

        self.text_field = QLineEdit()
        self.text_field.setObjectName("query-text")
        self.text_field.setFont(self._monospace())
        self.text_field.setPlaceholderText(
            self.tr("ex. sex F and age 50..74 except act mammography within 2y"))
        text_label = QLabel(self.tr("Re&quête :"))
        text_label.setBuddy(self.text_field)
        self.error_label = QLabel()
        self.error_label.setObjectName("query-error")
        self.error_label.setStyleSheet("color: #b00020;")
        self.error_label.setWordWrap(True)
        self.info_label = QLabel()
        self.info_label.setObjectName("cohort-info")
        self.count_label = QLabel()
        self.count_label.setObjectName("cohort-count")
        font = self.count_label.font()
        font.setBold(True)
        self.count_label.setFont(font)
        self.mine = QCheckBox(self.tr("&Mes patients seulement"))
        self.export_button = QPushButton(self.tr("E&xporter en CSV…"))
        self.campaign_button = QPushButton(self.tr("Créer une campagne d'&appels…"))
        text_row = QHBoxLayout()
        text_row.addWidget(text_label)
        text_row.addWidget(self.text_field, 1)
        status_row = QHBoxLayout()
        status_row.addWidget(self.count_label)
        status_row.addWidget(self.error_label, 1)
        status_row.addWidget(self.info_label)
        status_row.addWidget(self.mine)
        status_row.addWidget(self.export_button)
        status_row.addWidget(self.campaign_button)

        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.table.horizontalHeader().setStretchLastSection(True)
        for column, width in enumerate((190, 150, 90, 50, 170, 120, 140, 100, 120)):
            self.table.setColumnWidth(column, width)

        upper = QWidget()
        upper_layout = QVBoxLayout(upper)
        upper_layout.setContentsMargins(0, 0, 0, 0)
        upper_layout.addWidget(scroll, 1)
        upper_layout.addLayout(text_row)
        upper_layout.addLayout(status_row)
        self.panel = PatientPanel()
        results = QSplitter(Qt.Orientation.Horizontal)
        results.addWidget(self.table)
        results.addWidget(self.panel)
        results.setStretchFactor(0, 3)
        results.setStretchFactor(1, 2)
        results.setSizes([1000, 520])
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(upper)
        splitter.addWidget(results)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([420, 480])
        scroll.setMinimumHeight(6 * (self.fontMetrics().height() + 14))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 4)
        layout.addLayout(top)
        layout.addWidget(splitter, 1)
        self.setFocusProxy(self.text_field)
        self.export_button.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)

        self._selection_timer = QTimer(self)
        self._selection_timer.setSingleShot(True)
        self._selection_timer.setInterval(SELECTION_DELAY_MS)
        self._selection_timer.timeout.connect(self._load_current_patient)
        self.table.selectionModel().currentRowChanged.connect(
            lambda _current, _previous: self._selection_timer.start())
        self.builder.changed.connect(self._on_rows_changed)
        self.text_field.textEdited.connect(self._on_text_edited)
        self.mine.toggled.connect(lambda _on: self._run(self.text_field.text()))
        self.saved_combo.activated.connect(self._on_saved_chosen)
        self.save_button.clicked.connect(self.save_current)
        self.name_field.returnPressed.connect(self.save_current)
        self.delete_button.clicked.connect(self.delete_chosen)
        self.export_button.clicked.connect(self._ask_export)
        self.campaign_button.clicked.connect(self.open_campaign_dialog)
        self.campaign_dialog: CampaignDialog | None = None
        self._show_count(None)

    @staticmethod
    def _monospace() -> Any:
        from PySide6.QtGui import QFontDatabase

        return QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)

    def start(self) -> None:
        """Load the saved searches (called once the window is up)."""
        self.reload_saved()

    # -- the query, both ways

    def set_text(self, text: str) -> None:
        """Show `text` as if typed: the rows follow when it parses."""
        self.text_field.setText(text)
        self._on_text_edited(text)

    def _on_rows_changed(self) -> None:
        if self._syncing:
            return
        text = text_of(self.builder.group())
        self.text_field.setText(text)
        self._run(text)

    def _on_text_edited(self, text: str) -> None:
        tree = self._run(text)
        if tree is not None:
            self._syncing = True
            try:
                self.builder.set_group(rows_of(tree))
            finally:
                self._syncing = False

    def _run(self, text: str) -> Any:
        """Parse `text`; on success search (debounced) and return the tree, else say why."""
        self.queryChanged.emit(text)
        if not text.strip():
            self.error_label.clear()
            self.model.set_expr(None)
            self._show_count(None)
            return None
        try:
            tree = parse_query(text)
        except CareHubError as exc:
            self.error_label.setText(exc.message_fr)
            self.model.set_expr(None)
            self._show_count(None)
            return None
        self.error_label.clear()
        self.info_label.clear()
        self.count_label.setText(self.tr("Recherche…"))
        self.model.set_expr(text, care_manager=self.user if self.mine.isChecked() else None)
        return tree

    def _on_result(self, count: int) -> None:
        self._show_count(count if self.model.expr is not None else None)
        if count:
            self.table.selectRow(0)
        else:
            self.panel.clear()
        self.countShown.emit(count)

    # -- the patient selected in the results

    def current_patient_id(self) -> uuid.UUID | None:
        index = self.table.currentIndex()
        return self.model.patient_id(index.row()) if index.isValid() else None

    def _load_current_patient(self) -> None:
        patient_id = self.current_patient_id()
        if patient_id is None:
            self.panel.clear()
            return
        today = self.model.as_of

        def job(session: Session) -> tuple[Any, Any]:
            return (patient_summary(session, patient_id=patient_id, as_of=today),
                    patient_timeline(session, patient_id=patient_id))

        def loaded(result: tuple[Any, Any]) -> None:
            if self.current_patient_id() == patient_id:  # the user may have moved on
                self.panel.show_patient(*result)
                self.patientShown.emit(patient_id)

        self.worker.submit(job, on_success=loaded, on_error=self._report)

    def _show_count(self, count: int | None) -> None:
        if count is None:
            self.count_label.setText(self.tr("— patient"))
        else:
            self.count_label.setText(self.tr("%n patients", "", count) if count > 1
                                     else self.tr("%n patient", "", count))
        has_result = bool(count)
        self.export_button.setEnabled(has_result)
        self.campaign_button.setEnabled(has_result)

    def _on_search_failed(self, exc: BaseException) -> None:
        message = exc.message_fr if isinstance(exc, CareHubError) else str(exc)
        self.error_label.setText(message)
        self._show_count(None)

    # -- saved searches

    def reload_saved(self, select: str | None = None) -> None:
        self.worker.submit(list_saved_searches,
                           on_success=lambda rows: self._fill_saved(rows, select),
                           on_error=self._report)

    def _fill_saved(self, rows: list[SavedSearchRow], select: str | None) -> None:
        self._saved = rows
        self.saved_combo.clear()
        self.saved_combo.addItem(self.tr("(choisir…)"), None)
        for row in rows:
            self.saved_combo.addItem(row.name, row.id)
            self.saved_combo.setItemData(self.saved_combo.count() - 1, row.expr,
                                         Qt.ItemDataRole.ToolTipRole)
        found = self.saved_combo.findText(select) if select else 0
        self.saved_combo.setCurrentIndex(max(found, 0))
        self.delete_button.setEnabled(bool(rows))
        self.savedListed.emit()

    def _on_saved_chosen(self, index: int) -> None:
        search_id = self.saved_combo.itemData(index)
        chosen = next((s for s in self._saved if s.id == search_id), None)
        if chosen is not None:
            self.name_field.setText(chosen.name)
            self.set_text(chosen.expr)

    def choose_saved(self, name: str) -> None:
        """Open the saved search called `name` (as picking it in the list does)."""
        index = self.saved_combo.findText(name)
        if index > 0:
            self.saved_combo.setCurrentIndex(index)
            self._on_saved_chosen(index)

    def save_current(self) -> None:
        name, expr, user = self.name_field.text(), self.text_field.text(), self.user
        self.worker.submit(lambda s: save_search(s, name=name, expr=expr, actor=user),
                           write=True, on_success=lambda _id: self.reload_saved(
                               " ".join(name.split())),
                           on_error=self._report)

    def delete_chosen(self) -> None:
        search_id = self.saved_combo.currentData()
        if search_id is None:
            return
        user = self.user
        self.worker.submit(
            lambda s: delete_saved_search(s, search_id=search_id, actor=user), write=True,
            on_success=lambda _none: self.reload_saved(), on_error=self._report)

    # -- export

    def _ask_export(self) -> None:
        path, _filter = QFileDialog.getSaveFileName(
            self, self.tr("Exporter la liste"), str(Path.home() / "patients.csv"),
            self.tr("Tableur CSV (*.csv)"))
        if path:
            self.export_csv(Path(path))

    def export_csv(self, path: Path) -> None:
        """Write the patients found to `path` (on the worker); `exported` when done."""
        ids, today = list(self.model.ids()), self.model.as_of

        def job(session: Session) -> int:
            path.write_bytes(csv_bytes(session, ids=ids, today=today))
            return len(ids)

        self.worker.submit(job, on_success=lambda n: self._exported(path, n),
                           on_error=self._report)

    def _exported(self, path: Path, count: int) -> None:
        self.info_label.setText(self.tr("%1 patients exportés dans %2")
                                 .replace("%1", str(count)).replace("%2", str(path)))
        self.exported.emit(str(path), count)

    # -- call campaign

    def open_campaign_dialog(self) -> None:
        """Ask the campaign's name, reason and date, then make one reminder per patient."""
        ids = list(self.model.ids())
        if not ids or self.campaign_dialog is not None:
            return
        dialog = CampaignDialog(self, patients=len(ids), name=self.name_field.text())
        dialog.submitted.connect(lambda name, label, due: self._create_campaign(
            dialog, ids, name, label, due))
        dialog.finished.connect(lambda _result: self._campaign_dialog_closed(dialog))
        self.campaign_dialog = dialog
        dialog.open()
        self.campaignDialogOpened.emit(dialog)

    def _campaign_dialog_closed(self, dialog: CampaignDialog) -> None:
        if self.campaign_dialog is dialog:
            self.campaign_dialog = None
        dialog.deleteLater()

    def _create_campaign(self, dialog: CampaignDialog, ids: list[uuid.UUID], name: str,
                         label: str, due: date) -> None:
        user = self.user

        def job(session: Session) -> uuid.UUID:
            return create_campaign(session, name=name, label_fr=label, patient_ids=ids,
                                   due_date=due, actor=user)

        def failed(exc: BaseException) -> None:
            dialog.show_error(exc.message_fr if isinstance(exc, CareHubError) else str(exc))

        def created(campaign_id: uuid.UUID) -> None:
            dialog.accept()
            self.info_label.setText(
                self.tr("Campagne « %1 » : %2 rappels ajoutés aux listes d'appels")
                .replace("%1", " ".join(name.split())).replace("%2", str(len(ids))))
            self.campaignCreated.emit(campaign_id, len(ids))

        self.worker.submit(job, write=True, on_success=created, on_error=failed)

    # -- messages

    def _report(self, exc: BaseException) -> None:
        if isinstance(exc, CareHubError):
            message = exc.message_fr
        else:
            log.error("cohort screen job failed: %r", exc)
            message = self.tr("L'opération a échoué ; rien n'a été modifié. Détail : %1") \
                .replace("%1", str(exc))
        self.error_label.setText(message)
        self.failed.emit(message)


def install_cohort_screen(ctx: AppContext) -> CohortScreen:
    """The search page (Affichage menu, Ctrl+3)."""
    screen = CohortScreen(ctx.worker, user=ctx.user)
    action = ctx.add_page(screen, screen.tr("Recherche multicritère"), "Ctrl+3")
    action.setToolTip(screen.tr("Recherche multicritère (Ctrl+3)"))
    screen.start()
    return screen
