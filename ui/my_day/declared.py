"""« Déjà fait ailleurs » : what the patient says was done outside CareHub, in a few keys.

Opened from Ma journée during a call (key E, the line's reasons with no history in CareHub
first) and after a new patient's intake. One act per entry: the reason (the act), done or
"ne sait pas", an approximate date (the month and the year are enough) and the source.
Entrée records it (carehub.prevention.declared on the worker, one transaction) and the
form is ready for the next one; Échap closes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import date
from typing import cast

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtGui import QKeyEvent, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from sqlmodel import Session

from carehub.errors import CareHubError
from carehub.prevention.declared import (
    SOURCE_LABELS_FR,
    DeclaredResult,
    approximate,
    approximate_date_fr,
    declarable_acts,
    record_declared_act,
)
from ui.my_day.texts import tr
from ui.widgets.patient_panel import MUTED
from ui.worker import DatabaseWorker

PRECISIONS_FR = (("month", "mois et année"), ("day", "jour précis"), ("year", "année seulement"))
ANSWERS_FR = (("done", "Fait"), ("unknown", "Ne sait pas"))
_FORMATS = {"day": "dd/MM/yyyy", "month": "MM/yyyy", "year": "yyyy"}
ERROR_STYLE = "QLabel { color: #8a1c14; }"


class DeclaredDialog(QDialog):
    """Acts done elsewhere for one patient; `recorded` after each one is saved."""

    recorded = Signal(object)  # DeclaredResult
    failed = Signal(str)  # the French message shown

    def __init__(self, worker: DatabaseWorker, *, patient_id: uuid.UUID, actor: str,
                 title: str, first: Sequence[str] = (), today: Callable[[], date] = date.today,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.worker = worker
        self.patient_id = patient_id
        self.actor = actor
        self.today = today
        self.saving = False
        self.done_texts: list[str] = []
        self.setWindowTitle(tr("Déjà fait ailleurs"))
        heading = QLabel(f"<b>{title}</b>")
        hint = QLabel(tr("Ce que le patient dit avoir fait hors CareHub (pharmacie, médecin,"
                         " hôpital) : le mois et l'année suffisent."))
        hint.setWordWrap(True)
        hint.setStyleSheet(f"color: {MUTED};")
        self.reason = QComboBox()
        acts = declarable_acts()
        order = {code: i for i, code in enumerate(first)}
        for act in sorted(acts, key=lambda a: (order.get(a.reason, len(order)),
                                                [x.reason for x in acts].index(a.reason))):
            self.reason.addItem(tr(act.label_fr), act.reason)
        self.answer = QComboBox()
        for key, label in ANSWERS_FR:
            self.answer.addItem(tr(label), key)
        self.answer.currentIndexChanged.connect(self._answer_changed)
        self.precision = QComboBox()
        for key, label in PRECISIONS_FR:
            self.precision.addItem(tr(label), key)
        self.precision.currentIndexChanged.connect(self._precision_changed)
        self.when = QDateEdit()
        day = today()
        self.when.setMaximumDate(QDate(day.year, day.month, day.day))
        self.when.setDate(QDate(day.year, day.month, day.day))
        self.source = QComboBox()
        for key, label in SOURCE_LABELS_FR.items():
            self.source.addItem(tr(label), key)
        self.error = QLabel()
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.setWordWrap(True)
        self.log = QLabel()
        self.log.setWordWrap(True)
        self.log.setStyleSheet(f"color: {MUTED};")
        form = QFormLayout()
        form.addRow(tr("Acte"), self.reason)
        form.addRow(tr("Réponse"), self.answer)
        when_row = QHBoxLayout()
        when_row.addWidget(self.when, 1)
        when_row.addWidget(self.precision)
        form.addRow(tr("Date"), when_row)
        form.addRow(tr("Source"), self.source)
        self.save_button = QPushButton(tr("Enregistrer (Entrée)"))
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self.save)
        close = QPushButton(tr("Fermer (Échap)"))
        close.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.save_button)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(hint)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.log)
        layout.addLayout(buttons)
        self._precision_changed()
        self.reason.setFocus(Qt.FocusReason.OtherFocusReason)

    def _answer_changed(self) -> None:
        known = self.answer.currentData() == "done"
        self.when.setEnabled(known)
        self.precision.setEnabled(known)

    def _precision_changed(self) -> None:
        self.when.setDisplayFormat(_FORMATS[self.precision.currentData()])

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.activateWindow()
        self.reason.setFocus(Qt.FocusReason.OtherFocusReason)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.save()
            event.accept()
            return
        super().keyPressEvent(event)

    def save(self) -> None:
        """Record the act shown on the worker; the form stays open for the next one."""
        if self.saving:
            return
        self.saving = True
        self.error.clear()
        reason = self.reason.currentData()
        known = self.answer.currentData() == "done"
        precision = self.precision.currentData()
        on = cast(date, self.when.date().toPython())
        source = self.source.currentData()
        patient_id, actor, today = self.patient_id, self.actor, self.today()
        label = self.reason.currentText()

        def job(session: Session) -> DeclaredResult:
            return record_declared_act(session, patient_id=patient_id, reason=reason,
                                       actor=actor, on=on if known else None,
                                       precision=precision, source=source, known=known,
                                       as_of=today)

        def saved(result: DeclaredResult) -> None:
            self.saving = False
            when = approximate_date_fr(approximate(on, precision), precision) if known \
                else tr("ne sait pas")
            self.done_texts.append(f"✓ {label} : {when} ({self.source.currentText()})")
            self.log.setText("<br>".join(self.done_texts))
            self.recorded.emit(result)
            next_index = (self.reason.currentIndex() + 1) % max(self.reason.count(), 1)
            self.reason.setCurrentIndex(next_index)
            self.reason.setFocus(Qt.FocusReason.OtherFocusReason)

        def refused(exc: BaseException) -> None:
            self.saving = False
            message = exc.message_fr if isinstance(exc, CareHubError) else str(exc)
            self.error.setText(message)
            self.failed.emit(message)

        self.worker.submit(job, write=True, on_success=saved, on_error=refused)
