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
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any, cast

from PySide6.QtCore import QCoreApplication, QDate, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)
from sqlmodel import Session

from carehub.caseload.services import patient_rows
from carehub.caseload.summary import patient_summary, patient_timeline
from carehub.caseload.vocabulary import vocabulary
from carehub.cohort.builder import (
    CMPS,
    COUNTED_KINDS,
    FACT_ROW_KINDS,
    ROW_KINDS,
    CriterionRow,
    Group,
    Item,
    RowKind,
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
from carehub.cohort.service import run_query
from carehub.errors import CareHubError
from carehub.prevention.services import create_campaign
from ui.context import AppContext
from ui.formatting import french_csv
from ui.widgets.patient_panel import PatientPanel, format_ins
from ui.widgets.patient_table import COL_INS, HEADERS, CaseloadModel, Finder, cell_text
from ui.worker import DatabaseWorker

log = logging.getLogger(__name__)

KIND_LABELS: dict[str, str] = {
    "age": "Âge", "sex": "Sexe", "condition": "Pathologie", "medication": "Traitement",
    "lab": "Biologie", "act": "Acte ou examen", "vaccine": "Vaccin", "contact": "Consultation",
    "pregnant": "Grossesse en cours", "fragility": "Fragilité", "commune": "Commune",
}
# Which vocabulary concepts each kind offers in its list (any code can be typed as well).
KIND_CATEGORIES: dict[str, tuple[str, ...]] = {
    "condition": ("condition",), "medication": ("medication",), "lab": ("lab",),
    "act": ("screening", "procedure"), "vaccine": ("vaccine",),
    "contact": ("contact", "encounter"),
}
CODES_HINTS: dict[str, str] = {
    "condition": "CIM-10 : E11*, I50 ; CISP-2 : icpc2:T90 ; ou un concept",
    "medication": "ATC : A10A* ; ou un concept",
    "lab": "LOINC : 4548-4 ; ou un concept",
    "act": "un concept, ou snomed:…, ccam:…, loinc:…",
    "vaccine": "un concept, ou cvx:…, atc:J07BB*",
    "contact": "un concept, ou snomed:…",
}
CMP_LABELS = {">=": "≥", "<=": "≤", ">": ">", "<": "<", "=": "="}
UNITS = (("d", "jours"), ("m", "mois"), ("y", "ans"))
NO_BOUND = -1  # a spin box at its minimum shows "—": no bound
SELECTION_DELAY_MS = 80  # arrowing down the results does not load every patient passed


# ------------------------------------------------------------------------------ one row


def _spin(low: int, high: int, *, none_text: str | None = None) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(NO_BOUND if none_text else low, high)
    if none_text:
        spin.setSpecialValueText(none_text)
    spin.setAccelerated(True)
    return spin


def _cmp_combo(*, none_text: str | None = None) -> QComboBox:
    combo = QComboBox()
    if none_text:
        combo.addItem(none_text, None)
    for cmp in CMPS:
        combo.addItem(CMP_LABELS[cmp], cmp)
    return combo


class CriterionRowWidget(QFrame):
    """One criterion: NON, its kind, the fields of that kind, and a button to remove it."""

    changed = Signal()
    removeRequested = Signal(object)  # this row

    def __init__(self, row: CriterionRow | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("criterion-row")
        self._loading = False
        layout = QHBoxLayout(self)
        layout.setContentsMargins(2, 1, 2, 1)
        self.negated = QCheckBox(self.tr("NON"))
        self.negated.setToolTip(self.tr("Exclure les patients qui remplissent ce critère"))
        self.kind = QComboBox()
        self.kind.setAccessibleName(self.tr("Critère"))
        for kind in ROW_KINDS:
            self.kind.addItem(self.tr(KIND_LABELS[kind]), kind)

        # Every field exists once; those of the current kind are shown.
        self.codes = QComboBox()
        self.codes.setEditable(True)
        self.codes.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.codes.setMinimumContentsLength(28)
        self.codes.setAccessibleName(self.tr("Codes ou concept"))
        self.concept_label = QLabel()
        self.concept_label.setObjectName("concept-label")
        self.low = _spin(0, 130, none_text="—")
        self.high = _spin(0, 130, none_text="—")
        self.low.setAccessibleName(self.tr("Âge minimum"))
        self.high.setAccessibleName(self.tr("Âge maximum"))
        self.from_label, self.to_label = QLabel(self.tr("de")), QLabel(self.tr("à"))
        self.years_label = QLabel(self.tr("ans"))
        self.sex = QComboBox()
        self.sex.addItem(self.tr("Femme"), "F")
        self.sex.addItem(self.tr("Homme"), "M")
        self.cmp = _cmp_combo()
        self.level = _spin(0, 3)
        self.communes = QLineEdit()
        self.communes.setPlaceholderText(self.tr("codes INSEE : 41018, 45234"))
        self.count_cmp = _cmp_combo(none_text=self.tr("au moins une fois"))
        self.count_cmp.setAccessibleName(self.tr("Nombre"))
        self.count_n = _spin(0, 999)
        self.count_n.setValue(1)
        self.times_label = QLabel(self.tr("fois"))
        self.window_mode = QComboBox()
        self.window_mode.setAccessibleName(self.tr("Période"))
        self.window_amount = _spin(1, 999)
        self.window_unit = QComboBox()
        for unit, label in UNITS:
            self.window_unit.addItem(self.tr(label), unit)
        self.since = QDateEdit()
        self.since.setDisplayFormat("dd/MM/yyyy")
        self.since.setCalendarPopup(True)
        self.since.setDate(QDate.currentDate().addYears(-1))
        self.remove = QPushButton("✕")
        self.remove.setToolTip(self.tr("Retirer ce critère"))
        self.remove.setFixedWidth(self.remove.fontMetrics().horizontalAdvance("✕") + 18)

        self._fields: list[QWidget] = [
            self.codes, self.concept_label, self.from_label, self.low, self.to_label,
            self.high, self.years_label, self.sex, self.cmp, self.level, self.communes,
            self.count_cmp, self.count_n, self.times_label, self.window_mode,
            self.window_amount, self.window_unit, self.since]
        for widget in (self.negated, self.kind, *self._fields, self.remove):
            layout.addWidget(widget)
        layout.addStretch(1)

        self.negated.toggled.connect(self._emit)
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self.codes.editTextChanged.connect(self._emit)
        for spin in (self.low, self.high, self.level, self.count_n, self.window_amount):
            spin.valueChanged.connect(self._emit)
        for combo in (self.sex, self.cmp, self.count_cmp, self.window_mode, self.window_unit):
            combo.currentIndexChanged.connect(self._emit)
        self.communes.textChanged.connect(self._emit)
        self.since.dateChanged.connect(self._emit)
        self.remove.clicked.connect(lambda: self.removeRequested.emit(self))
        self.set_row(row or CriterionRow())

    # -- the row's value

    def current_kind(self) -> RowKind:
        return cast(RowKind, self.kind.currentData())

    def set_row(self, row: CriterionRow) -> None:
        self._loading = True
        try:
            self.negated.setChecked(row.negated)
            self.kind.setCurrentIndex(self.kind.findData(row.kind))
            self._fill_concepts(row.kind)
            self.codes.setEditText(row.codes)
            self.low.setValue(NO_BOUND if row.low is None else row.low)
            self.high.setValue(NO_BOUND if row.high is None else max(row.high, 0))
            self.sex.setCurrentIndex(self.sex.findData(row.sex))
            self.cmp.setCurrentIndex(self.cmp.findData(row.cmp))
            self.level.setValue(row.level)
            self.communes.setText(row.communes)
            self.count_cmp.setCurrentIndex(self.count_cmp.findData(row.count_cmp))
            self.count_n.setValue(row.count_n)
            self._fill_window_modes(row.kind)
            mode = "within" if row.within else "since" if row.since else None
            self.window_mode.setCurrentIndex(self.window_mode.findData(mode))
            if row.within:
                self.window_amount.setValue(row.within[0])
                self.window_unit.setCurrentIndex(self.window_unit.findData(row.within[1]))
            if row.since:
                self.since.setDate(QDate(row.since.year, row.since.month, row.since.day))
        finally:
            self._loading = False
        self._show_fields()

    def row(self) -> CriterionRow:
        kind = self.current_kind()
        mode = self.window_mode.currentData()
        since = self.since.date()
        return CriterionRow(
            kind=kind, negated=self.negated.isChecked(), codes=self.codes.currentText(),
            low=None if self.low.value() == NO_BOUND else self.low.value(),
            high=None if self.high.value() == NO_BOUND else self.high.value(),
            sex=self.sex.currentData(), cmp=self.cmp.currentData(), level=self.level.value(),
            count_cmp=self.count_cmp.currentData(), count_n=self.count_n.value(),
            within=(self.window_amount.value(), self.window_unit.currentData())
            if mode == "within" else None,
            since=date(since.year(), since.month(), since.day()) if mode == "since" else None,
            communes=self.communes.text())

    # -- reactions

    def _emit(self, *_args: object) -> None:
        if not self._loading:
            self._show_fields()
            self.changed.emit()

    def _kind_changed(self, *_args: object) -> None:
        if self._loading:
            return
        kind = self.current_kind()
        self._loading = True
        try:
            self._fill_concepts(kind)
            self.codes.setEditText("")
            self._fill_window_modes(kind)
        finally:
            self._loading = False
        self._emit()

    def _fill_concepts(self, kind: str) -> None:
        self.codes.clear()
        wanted = KIND_CATEGORIES.get(kind, ())
        for concept in vocabulary().concepts.values():
            if concept.category in wanted and concept.name != "pregnant":
                self.codes.addItem(concept.name)
                self.codes.setItemData(self.codes.count() - 1, concept.label,
                                       Qt.ItemDataRole.ToolTipRole)
        line = self.codes.lineEdit()
        if line is not None:
            line.setPlaceholderText(self.tr(CODES_HINTS.get(kind, "")))
        self.codes.setCurrentIndex(-1)

    def _fill_window_modes(self, kind: str) -> None:
        self.window_mode.clear()
        self.window_mode.addItem(self.tr("actif à ce jour") if kind in ("condition", "medication")
                                 else self.tr("à ce jour"), None)
        self.window_mode.addItem(self.tr("dans les derniers"), "within")
        self.window_mode.addItem(self.tr("depuis le"), "since")

    def _show_fields(self) -> None:
        kind = self.current_kind()
        facts = kind in FACT_ROW_KINDS
        mode = self.window_mode.currentData()
        counted = kind in COUNTED_KINDS
        shown = {
            self.codes: facts, self.concept_label: facts and bool(self._concept_labels()),
            self.from_label: kind == "age", self.low: kind == "age",
            self.to_label: kind == "age", self.high: kind == "age",
            self.years_label: kind == "age", self.sex: kind == "sex",
            self.cmp: kind == "fragility", self.level: kind == "fragility",
            self.communes: kind == "commune", self.count_cmp: counted,
            self.count_n: counted and self.count_cmp.currentData() is not None,
            self.times_label: counted and self.count_cmp.currentData() is not None,
            self.window_mode: facts, self.window_amount: facts and mode == "within",
            self.window_unit: facts and mode == "within", self.since: facts and mode == "since",
        }
        for widget, visible in shown.items():
            widget.setVisible(visible)
        self.concept_label.setText(self._concept_labels())

    def _concept_labels(self) -> str:
        concepts = vocabulary().concepts
        names = [part.strip().lower() for part in self.codes.currentText().split(",")]
        return ", ".join(concepts[n].label for n in names if n in concepts)


# ------------------------------------------------------------------------------ a group


class GroupWidget(QFrame):
    """Rows and sub-groups joined by ET or OU; NON and a remove button unless at the top."""

    changed = Signal()
    removeRequested = Signal(object)

    def __init__(self, group: Group | None = None, *, top: bool = False,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.top = top
        self._loading = False
        self.setObjectName("top-group" if top else "criteria-group")
        if not top:
            self.setFrameShape(QFrame.Shape.StyledPanel)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0 if top else 6, 2, 0 if top else 6, 4)
        header = QHBoxLayout()
        self.negated = QCheckBox(self.tr("NON"))
        self.negated.setToolTip(self.tr("Exclure les patients qui remplissent ce groupe"))
        self.negated.setVisible(not top)
        self.op = QComboBox()
        self.op.setAccessibleName(self.tr("Opérateur"))
        self.op.addItem(self.tr("ET : tous les critères"), "and")
        self.op.addItem(self.tr("OU : au moins un critère"), "or")
        self.add_row_button = QPushButton(self.tr("+ Critère") if not top
                                          else self.tr("+ &Critère"))
        self.add_group_button = QPushButton(self.tr("+ Groupe") if not top
                                            else self.tr("+ &Groupe"))
        self.add_group_button.setToolTip(self.tr("Un groupe de critères joints par ET ou OU"))
        self.remove = QPushButton("✕")
        self.remove.setToolTip(self.tr("Retirer ce groupe"))
        self.remove.setFixedWidth(self.remove.fontMetrics().horizontalAdvance("✕") + 18)
        self.remove.setVisible(not top)
        for widget in (self.negated, self.op, self.add_row_button, self.add_group_button,
                       self.remove):
            header.addWidget(widget)
        header.addStretch(1)
        outer.addLayout(header)
        self.body = QVBoxLayout()
        self.body.setSpacing(2)
        outer.addLayout(self.body)
        self.items: list[CriterionRowWidget | GroupWidget] = []

        self.negated.toggled.connect(self._emit)
        self.op.currentIndexChanged.connect(self._emit)
        self.add_row_button.clicked.connect(lambda: self.add_row())
        self.add_group_button.clicked.connect(lambda: self.add_group())
        self.remove.clicked.connect(lambda: self.removeRequested.emit(self))
        self.set_group(group or Group())

    def set_group(self, group: Group) -> None:
        self._loading = True
        try:
            self.negated.setChecked(group.negated)
            self.op.setCurrentIndex(self.op.findData(group.op))
            for widget in self.items:
                self.body.removeWidget(widget)
                widget.deleteLater()
            self.items = []
            for item in group.items:
                self._append(item)
        finally:
            self._loading = False

    def group(self) -> Group:
        items: list[Item] = [w.row() if isinstance(w, CriterionRowWidget) else w.group()
                             for w in self.items]
        return Group(self.op.currentData(), self.negated.isChecked(), items)

    def add_row(self, row: CriterionRow | None = None) -> CriterionRowWidget:
        widget = self._append(row or CriterionRow())
        assert isinstance(widget, CriterionRowWidget)
        widget.kind.setFocus(Qt.FocusReason.OtherFocusReason)
        self._emit()
        return widget

    def add_group(self) -> GroupWidget:
        widget = self._append(Group("or" if self.op.currentData() == "and" else "and",
                                    items=[CriterionRow()]))
        assert isinstance(widget, GroupWidget)
        self._emit()
        return widget

    def rows(self) -> list[CriterionRowWidget]:
        """Every row, in order, nested groups included."""
        found: list[CriterionRowWidget] = []
        for widget in self.items:
            found.extend([widget] if isinstance(widget, CriterionRowWidget) else widget.rows())
        return found

    def _append(self, item: Item) -> CriterionRowWidget | GroupWidget:
        widget: CriterionRowWidget | GroupWidget = (
            CriterionRowWidget(item) if isinstance(item, CriterionRow) else GroupWidget(item))
        widget.changed.connect(self._emit)
        widget.removeRequested.connect(self._remove)
        self.items.append(widget)
        self.body.addWidget(widget)
        return widget

    def _remove(self, widget: CriterionRowWidget | GroupWidget) -> None:
        if widget in self.items:
            self.items.remove(widget)
            self.body.removeWidget(widget)
            widget.deleteLater()
            self._emit()

    def _emit(self, *_args: object) -> None:
        if not self._loading:
            self.changed.emit()


# ------------------------------------------------------------------------------ the results


class CohortResultModel(CaseloadModel):
    """The caseload table's model over the patients a cohort query finds (name order)."""

    def __init__(self, worker: DatabaseWorker, parent: QObject | None = None) -> None:
        super().__init__(worker, parent)
        self._expr: str | None = None
        self._care_manager: str | None = None
        self.as_of = date.today()

    def set_expr(self, expr: str | None, *, care_manager: str | None = None,
                 immediate: bool = False) -> None:
        """Search for `expr` (None: nobody) after a short pause (or now)."""
        self._expr, self._care_manager = expr, care_manager
        self._schedule(immediate=immediate)

    @property
    def expr(self) -> str | None:
        return self._expr

    def ids(self) -> Sequence[uuid.UUID]:
        return self._ids

    def _finder(self) -> Finder:
        expr, manager, as_of = self._expr, self._care_manager, self.as_of
        if expr is None:
            return lambda _session: []
        return lambda session: run_query(session, expr=expr, as_of=as_of,
                                         care_manager=manager)


def csv_bytes(session: Session, *, ids: Sequence[uuid.UUID], today: date) -> bytes:
    """The patients as a French spreadsheet reads them: UTF-8 with BOM, `;`, dd/mm/yyyy.

    The columns of the table, plus sex; runs on the worker (translations are thread-safe).
    """
    headers = [QCoreApplication.translate("CaseloadModel", h) for h in HEADERS]
    rows: list[list[str]] = [[*headers[:2], "Sexe", *headers[2:]]]
    for row in patient_rows(session, ids=list(ids)):
        cells = [cell_text(row, c, today) for c in range(len(HEADERS))]
        # Grouped as on the carte Vitale: a spreadsheet keeps it as text, where the 15
        # bare digits became 2.95E+14.
        cells[COL_INS] = format_ins(cells[COL_INS])
        rows.append([*cells[:2], row.sex, *cells[2:]])
    return french_csv(rows)


# ------------------------------------------------------------------------------ a campaign


class CampaignDialog(QDialog):
    """Name, reason shown on the call list and due date of a call campaign."""

    submitted = Signal(str, str, object)  # name, label_fr, due date

    def __init__(self, parent: QWidget, *, patients: int, name: str) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Créer une campagne d'appels"))
        self.name = QLineEdit(name)
        self.label = QLineEdit()
        self.label.setPlaceholderText(self.tr("ex. Rappel vaccin grippe avant l'hiver"))
        self.due = QDateEdit(QDate.currentDate())
        self.due.setDisplayFormat("dd/MM/yyyy")
        self.due.setCalendarPopup(True)
        self.error = QLabel()
        self.error.setStyleSheet("color: #b00020;")
        self.error.setWordWrap(True)
        form = QFormLayout(self)
        form.addRow(QLabel(self.tr("Un rappel pour chacun des %n patients trouvés ; il paraît "
                                   "dans la liste d'appels du jour de son IDE coordinatrice.",
                                   "", patients)))
        form.addRow(self.tr("&Nom de la campagne :"), self.name)
        form.addRow(self.tr("&Motif affiché :"), self.label)
        form.addRow(self.tr("À appeler à partir du :"), self.due)
        form.addRow(self.error)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText(self.tr("Créer la campagne"))
        form.addRow(self.buttons)
        self.buttons.accepted.connect(self._submit)
        self.buttons.rejected.connect(self.reject)
        (self.label if name else self.name).setFocus()

    def _submit(self) -> None:
        day = self.due.date()
        self.submitted.emit(self.name.text(), self.label.text(),
                            date(day.year(), day.month(), day.day()))

    def show_error(self, message: str) -> None:
        self.error.setText(message)


# ------------------------------------------------------------------------------ the screen


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

