"""« Semaines à venir » : the contact plan per day, its load against the capacity; moving a
patient to another day; the capacity itself (calls per day, working days).

The plan comes from carehub.prevention.plan on the worker (rebuilt as it is read); a move
and a new capacity are written there too, then the plan is read again.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from typing import cast

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDateEdit,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from sqlmodel import Session

from carehub.errors import CareHubError
from carehub.prevention.plan import (
    DAY_NAMES_FR,
    Capacity,
    ContactPlan,
    PlanDay,
    contact_plan,
    get_capacity,
    move_patient,
    set_capacity,
)
from carehub.prevention.rules import load_rules
from ui.formatting import format_date
from ui.my_day.texts import tr
from ui.widgets.patient_panel import MUTED
from ui.worker import DatabaseWorker

DAYS_SHOWN = 20  # four working weeks
OVER = QColor("#fdecea")
FULL = QColor("#eef6ee")
ERROR_STYLE = "QLabel { color: #8a1c14; }"


def day_label(day: date, today: date) -> str:
    name = tr(DAY_NAMES_FR[day.isoweekday() - 1])
    return f"{name} {format_date(day)}" + (tr(" (aujourd'hui)") if day == today else "")


def load_text(plan_day: PlanDay) -> str:
    return f"{plan_day.load} / {plan_day.capacity}"


def _item(text: str, *, data: object = None, muted: bool = False) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
    if data is not None:
        item.setData(Qt.ItemDataRole.UserRole, data)
    if muted:
        item.setForeground(QColor(MUTED))
    return item


def _table(headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels([tr(h) for h in headers])
    table.verticalHeader().setVisible(False)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setTabKeyNavigation(False)
    table.horizontalHeader().setStretchLastSection(True)
    return table


class WeeksDialog(QDialog):
    """The plan of `owner` day by day; `moved` once a patient was moved to another day."""

    planShown = Signal(object)  # ContactPlan
    moved = Signal(object)  # the patient's id
    capacityChanged = Signal(object)  # Capacity
    failed = Signal(str)

    def __init__(self, worker: DatabaseWorker, *, owner: str, actor: str,
                 today: Callable[[], date] = date.today,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.worker = worker
        self.owner = owner
        self.actor = actor
        self.today = today
        self.plan: ContactPlan | None = None
        self.setWindowTitle(tr("Semaines à venir"))
        self.resize(1100, 640)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.days = _table(["Jour", "Charge", "Urgents", "Reportés", "Faits"])
        self.days.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents)
        self.days.currentCellChanged.connect(lambda *_args: self._show_day())
        self.patients = _table(["Patient", "Motifs", ""])
        self.patients.setWordWrap(False)
        header = self.patients.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)
        self.labels = {code: rule.label for code, rule in load_rules().rules.items()}
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.days)
        splitter.addWidget(self.patients)
        splitter.setSizes([470, 630])
        self.move_to = QDateEdit()
        self.move_to.setDisplayFormat("dd/MM/yyyy")
        self.move_to.setCalendarPopup(True)
        self.move_button = QPushButton(tr("Déplacer le patient à cette date (Ctrl+D)"))
        self.move_button.clicked.connect(self.move_selected)
        self.capacity_button = QPushButton(tr("Ma capacité… (Ctrl+K)"))
        self.capacity_button.clicked.connect(self.edit_capacity)
        close = QPushButton(tr("Fermer (Échap)"))
        close.clicked.connect(self.reject)
        self.error = QLabel()
        self.error.setStyleSheet(ERROR_STYLE)
        bottom = QHBoxLayout()
        bottom.addWidget(QLabel(tr("Déplacer au")))
        bottom.addWidget(self.move_to)
        bottom.addWidget(self.move_button)
        bottom.addStretch(1)
        bottom.addWidget(self.capacity_button)
        bottom.addWidget(close)
        hint = QLabel(tr("↑↓ choisir un jour · Tab : ses patients · Ctrl+D déplacer le patient"
                         " choisi · Ctrl+K capacité · Échap fermer"))
        hint.setStyleSheet(f"color: {MUTED};")
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.error)
        layout.addLayout(bottom)
        layout.addWidget(hint)
        self.days.setFocus(Qt.FocusReason.OtherFocusReason)

    # -- loading --------------------------------------------------------------------------

    def load(self) -> None:
        owner, today = self.owner, self.today()
        rules = load_rules()

        def job(session: Session) -> ContactPlan:
            return contact_plan(session, user=owner, as_of=today, days=DAYS_SHOWN, rules=rules)

        self.worker.submit(job, write=True, on_success=self._show_plan,
                           on_error=self._show_error)

    def _show_plan(self, plan: ContactPlan) -> None:
        self.plan = plan
        today = self.today()
        capacity = plan.capacity
        days = ", ".join(tr(DAY_NAMES_FR[d - 1]) for d in capacity.days)
        self.summary.setText(
            tr("<b>Plan de contact</b> — %1 appels par jour (%2) · %3 patients planifiés"
               " · %4 après les %5 jours affichés")
            .replace("%1", str(capacity.per_day)).replace("%2", days)
            .replace("%3", str(plan.total)).replace("%4", str(plan.beyond))
            .replace("%5", str(len(plan.days))))
        row = max(self.days.currentRow(), 0)
        self.days.blockSignals(True)
        self.days.setRowCount(len(plan.days))
        for index, plan_day in enumerate(plan.days):
            cells = [_item(day_label(plan_day.day, today), data=plan_day.day.isoformat()),
                     _item(load_text(plan_day)), _item(str(plan_day.urgent), muted=True),
                     _item(str(plan_day.carried_over), muted=True),
                     _item(str(sum(1 for p in plan_day.patients if p.state == "done")),
                           muted=True)]
            over = plan_day.load > plan_day.capacity
            for column, cell in enumerate(cells):
                if over:
                    cell.setBackground(OVER)
                    cell.setToolTip(tr("Au-delà de la capacité : du travail urgent (rappels "
                                       "promis, sorties d'hospitalisation, échéances) ou "
                                       "déplacé à la main"))
                elif plan_day.load == plan_day.capacity:
                    cell.setBackground(FULL)
                self.days.setItem(index, column, cell)
        self.days.blockSignals(False)
        self.days.selectRow(min(row, len(plan.days) - 1))
        self._show_day()
        self.planShown.emit(plan)

    def selected_day(self) -> PlanDay | None:
        if self.plan is None or self.days.currentRow() < 0:
            return None
        return self.plan.days[self.days.currentRow()]

    def _show_day(self) -> None:
        plan_day = self.selected_day()
        self.patients.setRowCount(0)
        if plan_day is None:
            return
        self.patients.setRowCount(len(plan_day.patients))
        for index, entry in enumerate(plan_day.patients):
            flags = []
            if entry.state == "done":
                flags.append(tr("fait"))
            if entry.urgent:
                flags.append(tr("urgent"))
            if entry.pinned:
                flags.append(tr("déplacé"))
            if entry.carried_from is not None:
                flags.append(tr("reporté du %1").replace("%1", format_date(entry.carried_from)))
            self.patients.setItem(index, 0, _item(entry.name, data=str(entry.patient_id),
                                                  muted=entry.state == "done"))
            labels = [self.labels.get(code, code.removeprefix("campaign."))
                      for code in entry.reasons]
            reasons = _item(", ".join(labels))
            reasons.setToolTip("\n".join(labels))
            self.patients.setItem(index, 1, reasons)
            self.patients.setItem(index, 2, _item(" · ".join(flags), muted=True))
        if plan_day.patients:
            self.patients.selectRow(0)
        following = plan_day.day
        if self.plan is not None:
            later = [d.day for d in self.plan.days if d.day > plan_day.day]
            following = later[0] if later else plan_day.day
        today = self.today()
        self.move_to.setMinimumDate(QDate(today.year, today.month, today.day))
        self.move_to.setDate(QDate(following.year, following.month, following.day))

    def selected_patient(self) -> uuid.UUID | None:
        row = self.patients.currentRow()
        item = self.patients.item(row, 0) if row >= 0 else None
        return uuid.UUID(item.data(Qt.ItemDataRole.UserRole)) if item else None

    # -- actions --------------------------------------------------------------------------

    def move_selected(self) -> None:
        patient_id = self.selected_patient()
        if patient_id is None:
            self._show_message(tr("Choisissez d'abord un patient du jour."))
            return
        day = cast(date, self.move_to.date().toPython())
        owner, actor, today = self.owner, self.actor, self.today()

        def job(session: Session) -> uuid.UUID:
            move_patient(session, user=owner, patient_id=patient_id, day=day, actor=actor,
                         as_of=today)
            return patient_id

        def done(moved: uuid.UUID) -> None:
            self.error.clear()
            self.moved.emit(moved)
            self.load()

        self.worker.submit(job, write=True, on_success=done, on_error=self._show_error)

    def edit_capacity(self) -> None:
        capacity = self.plan.capacity if self.plan is not None else None
        dialog = CapacityDialog(self.worker, owner=self.owner, actor=self.actor,
                                current=capacity, parent=self)
        dialog.saved.connect(self.capacityChanged)
        dialog.saved.connect(lambda _capacity: self.load())
        dialog.open()
        self.capacity_dialog = dialog

    def _show_message(self, text: str) -> None:
        self.error.setText(text)
        self.failed.emit(text)

    def _show_error(self, exc: BaseException) -> None:
        self._show_message(exc.message_fr if isinstance(exc, CareHubError) else str(exc))

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.activateWindow()
        self.days.setFocus(Qt.FocusReason.OtherFocusReason)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        control = event.modifiers() == Qt.KeyboardModifier.ControlModifier
        if control and event.key() == Qt.Key.Key_D:
            self.move_selected()
        elif control and event.key() == Qt.Key.Key_K:
            self.edit_capacity()
        elif event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if self.focusWidget() is self.move_to:
                self.move_selected()
        else:
            super().keyPressEvent(event)
            return
        event.accept()


class CapacityDialog(QDialog):
    """Calls per working day and the working days of `owner`."""

    saved = Signal(object)  # Capacity
    failed = Signal(str)

    def __init__(self, worker: DatabaseWorker, *, owner: str, actor: str,
                 current: Capacity | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.worker = worker
        self.owner = owner
        self.actor = actor
        self.setWindowTitle(tr("Capacité d'appels"))
        self.per_day = QSpinBox()
        self.per_day.setRange(1, 500)
        self.per_day.setSuffix(tr(" appels par jour"))
        self.day_boxes = [QCheckBox(tr(name)) for name in DAY_NAMES_FR]
        days_row = QHBoxLayout()
        for box in self.day_boxes:
            days_row.addWidget(box)
        self.error = QLabel()
        self.error.setStyleSheet(ERROR_STYLE)
        form = QFormLayout()
        form.addRow(tr("Appels par jour travaillé"), self.per_day)
        form.addRow(tr("Jours travaillés"), days_row)
        ok = QPushButton(tr("Enregistrer (Entrée)"))
        ok.setDefault(True)
        ok.clicked.connect(self.save)
        cancel = QPushButton(tr("Annuler (Échap)"))
        cancel.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(ok)
        buttons.addWidget(cancel)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(tr("Le plan répartit les patients à contacter sur vos jours "
                                   "travaillés, sans dépasser ce nombre sauf urgence.")))
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addLayout(buttons)
        if current is not None:
            self._show(current)
        else:
            worker.submit(lambda s: get_capacity(s, user=owner), on_success=self._show)

    def _show(self, capacity: Capacity) -> None:
        self.per_day.setValue(capacity.per_day)
        for number, box in enumerate(self.day_boxes, start=1):
            box.setChecked(number in capacity.days)
        self.per_day.setFocus(Qt.FocusReason.OtherFocusReason)
        self.per_day.selectAll()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.activateWindow()
        self.per_day.setFocus(Qt.FocusReason.OtherFocusReason)
        self.per_day.selectAll()

    def save(self) -> None:
        days = [n for n, box in enumerate(self.day_boxes, start=1) if box.isChecked()]
        if not days:
            self.error.setText(tr("Cochez au moins un jour travaillé."))
            self.failed.emit(self.error.text())
            return
        per_day, owner, actor = self.per_day.value(), self.owner, self.actor

        def job(session: Session) -> Capacity:
            return set_capacity(session, user=owner, per_day=per_day, days=days, actor=actor)

        def refused(exc: BaseException) -> None:
            self.error.setText(exc.message_fr if isinstance(exc, CareHubError) else str(exc))
            self.failed.emit(self.error.text())

        def done(capacity: Capacity) -> None:
            self.saved.emit(capacity)
            self.accept()

        self.worker.submit(job, write=True, on_success=done, on_error=refused)
