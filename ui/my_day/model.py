"""The day's call list as a table model: one line per patient, in the core's order.

The list comes whole from carehub.prevention.services.call_list (ordered by priority, a
few hundred lines at most for one nurse), loaded on the worker; the model only shows it.
Lines whose planned call-back has come are highlighted until they are dealt with.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QCoreApplication,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QBrush, QColor, QFont

from carehub.prevention.services import CallListItem
from ui.formatting import age_text, format_date
from ui.my_day.texts import (
    channel_text,
    escalation_text,
    followup_text,
    hours_text,
    reasons_short,
    since_text,
    tr,
    when_text,
)

# What a nurse reads first on the left; age and delay are in the card too.
HEADERS = ("Heure", "Patient", "Motifs", "Canal", "Suivi", "Retard", "Âge")
COL_WHEN, COL_NAME, COL_REASONS, COL_CHANNEL, COL_FOLLOWUP, COL_SINCE, COL_AGE = range(7)
PATIENT_ID_ROLE = Qt.ItemDataRole.UserRole
ITEM_ROLE = Qt.ItemDataRole.UserRole + 1
HIGHLIGHT = QColor("#fff1c2")  # a call-back whose hour has come
ESCALATED = QColor("#9a3412")  # unreachable: someone else must be told
NOT_PHONED = QColor("#1d4ed8")  # SMS, e-mail, letter
_ROOT = QModelIndex()


class CallListModel(QAbstractTableModel):
    """The lines of `call_list`, most urgent first."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._items: list[CallListItem] = []
        self._highlighted: set[uuid.UUID] = set()
        self.today = date.today()
        self._bold = QFont()
        self._bold.setBold(True)

    # -- content --------------------------------------------------------------------------

    def set_items(self, items: Sequence[CallListItem], *, today: date) -> None:
        self.beginResetModel()
        self._items = list(items)
        self.today = today
        present = {item.patient_id for item in self._items}
        self._highlighted &= present
        self.endResetModel()

    @property
    def items(self) -> list[CallListItem]:
        return list(self._items)

    def item(self, row: int) -> CallListItem | None:
        return self._items[row] if 0 <= row < len(self._items) else None

    def row_of(self, patient_id: uuid.UUID | None) -> int | None:
        for row, item in enumerate(self._items):
            if item.patient_id == patient_id:
                return row
        return None

    def highlight(self, patient_id: uuid.UUID, on: bool = True) -> None:
        if on:
            self._highlighted.add(patient_id)
        else:
            self._highlighted.discard(patient_id)
        row = self.row_of(patient_id)
        if row is not None:
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(HEADERS) - 1))

    def is_highlighted(self, patient_id: uuid.UUID) -> bool:
        return patient_id in self._highlighted

    # -- QAbstractTableModel --------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._items)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if (role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal
                and 0 <= section < len(HEADERS)):
            return QCoreApplication.translate("CallListModel", HEADERS[section])
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._items):
            return None
        item = self._items[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(item, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(item, column)
        if role == Qt.ItemDataRole.BackgroundRole:
            return QBrush(HIGHLIGHT) if item.patient_id in self._highlighted else None
        if role == Qt.ItemDataRole.ForegroundRole:
            if column == COL_FOLLOWUP and item.escalation:
                return QBrush(ESCALATED)
            if column == COL_CHANNEL and item.channel != "phone":
                return QBrush(NOT_PHONED)
            return None
        if role == Qt.ItemDataRole.FontRole:
            if (column == COL_WHEN and item.planned_at is not None) or column == COL_NAME:
                return self._bold
            return None
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (COL_AGE, COL_SINCE):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == PATIENT_ID_ROLE:
            return item.patient_id
        if role == ITEM_ROLE:
            return item
        return None

    def _display(self, item: CallListItem, column: int) -> str:
        if column == COL_WHEN:
            return when_text(item, today=self.today)
        if column == COL_NAME:
            return item.name
        if column == COL_AGE:
            return age_text(item.age)
        if column == COL_REASONS:
            return reasons_short(item)
        if column == COL_CHANNEL:
            return channel_text(item.channel)
        if column == COL_SINCE:
            return since_text(item, today=self.today)
        return followup_text(item)

    def _tooltip(self, item: CallListItem, column: int) -> str | None:
        if column == COL_REASONS:
            return "\n".join(f"{r.label_fr} : {r.explanation_fr}" for r in item.reasons)
        if column == COL_CHANNEL:
            return item.channel_reason_fr
        if column == COL_WHEN and item.planned_at is not None:
            return hours_text(item) or None
        if column == COL_SINCE:
            return tr("Motif le plus ancien : depuis le %1").replace(
                "%1", format_date(item.due_date))
        if column == COL_FOLLOWUP and item.escalation:
            return escalation_text(item.escalation)
        return None
