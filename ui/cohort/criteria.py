"""The criteria builder's widgets: one row per criterion, ET/OU groups with their NON box."""

from __future__ import annotations

from datetime import date
from typing import cast

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

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
)
from carehub.dates import add_months
from ui.widgets.date_entry import DateEntry

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
        # "depuis le 01/01/2025", "mars 2025", "il y a 6 mois": said in full on its right.
        self.since = DateEntry(lean="past", month="start", preview_below=False)
        self.since.setAccessibleName(self.tr("Depuis le"))
        self.since.set_value(add_months(date.today(), -12))
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
        self.since.valueChanged.connect(self._emit)
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
                self.since.set_value(row.since)
        finally:
            self._loading = False
        self._show_fields()

    def row(self) -> CriterionRow:
        kind = self.current_kind()
        mode = self.window_mode.currentData()
        since = self.since.last_value()
        return CriterionRow(
            kind=kind, negated=self.negated.isChecked(), codes=self.codes.currentText(),
            low=None if self.low.value() == NO_BOUND else self.low.value(),
            high=None if self.high.value() == NO_BOUND else self.high.value(),
            sex=self.sex.currentData(), cmp=self.cmp.currentData(), level=self.level.value(),
            count_cmp=self.count_cmp.currentData(), count_n=self.count_n.value(),
            within=(self.window_amount.value(), self.window_unit.currentData())
            if mode == "within" else None,
            since=since if mode == "since" else None,
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
