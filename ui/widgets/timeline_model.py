"""The patient's timeline as a table: Date, Type, Libellé, Détail (newest first)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QCoreApplication,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)

from carehub.caseload.summary import TimelineEntry
from ui.formatting import format_date

AnyIndex = QModelIndex | QPersistentModelIndex

# Sortable key of the date column: ISO text, undated rows last in descending order.
SORT_ROLE = Qt.ItemDataRole.UserRole + 1


def _tr(text: str) -> str:
    return QCoreApplication.translate("TimelineModel", text)


class TimelineModel(QAbstractTableModel):
    COLUMNS = ("Date", "Type", "Libellé", "Détail")

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._entries: list[TimelineEntry] = []

    def set_entries(self, entries: Sequence[TimelineEntry]) -> None:
        self.beginResetModel()
        self._entries = list(entries)
        self.endResetModel()

    def entry(self, row: int) -> TimelineEntry:
        return self._entries[row]

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._entries)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.COLUMNS)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._entries):
            return None
        entry = self._entries[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (format_date(entry.on, empty=""), entry.kind_label, entry.text,
                    entry.detail)[column]
        if role == Qt.ItemDataRole.ToolTipRole and column in (2, 3):
            return "\n".join(t for t in (entry.text if column == 2 else entry.detail,
                                         entry.codes if column == 2 else "") if t) or None
        if role == SORT_ROLE:
            return (entry.on.isoformat() if entry.on else "", entry.kind_label, entry.text,
                    entry.detail)[column]
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if (role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal
                and 0 <= section < len(self.COLUMNS)):
            return _tr(self.COLUMNS[section])
        return None
