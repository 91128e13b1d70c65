"""The patients a cohort search found: their table model, the CSV export, the campaign dialog."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

from PySide6.QtCore import QCoreApplication, QObject, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QWidget,
)
from sqlmodel import Session

from carehub.caseload.services import patient_rows
from carehub.cohort.service import run_query
from ui.formatting import french_csv
from ui.widgets.date_entry import DateEntry
from ui.widgets.patient_panel import format_ins
from ui.widgets.patient_table import COL_INS, HEADERS, CaseloadModel, Finder, cell_text
from ui.worker import DatabaseWorker


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


def _not_before_today(day: date) -> str | None:
    if day < date.today():
        return QCoreApplication.translate("CampaignDialog",
                                          "Ce jour est passé : à partir d'aujourd'hui au plus tôt.")
    return None


class CampaignDialog(QDialog):
    """Name, reason shown on the call list and due date of a call campaign."""

    submitted = Signal(str, str, object)  # name, label_fr, due date

    def __init__(self, parent: QWidget, *, patients: int, name: str) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Créer une campagne d'appels"))
        self.name = QLineEdit(name)
        self.label = QLineEdit()
        self.label.setPlaceholderText(self.tr("ex. Rappel vaccin grippe avant l'hiver"))
        self.due = DateEntry(lean="future", check=_not_before_today)
        self.due.setAccessibleName(self.tr("À appeler à partir du"))
        self.due.set_value(date.today())
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
        day = self.due.value()
        if day is None:
            self.show_error(self.due.error() or "")
            self.due.setFocus()
            return
        self.submitted.emit(self.name.text(), self.label.text(), day)

    def show_error(self, message: str) -> None:
        self.error.setText(message)
