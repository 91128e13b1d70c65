"""The caseload table: a model over the ordered ids of the matching patients.

Filtering and sorting happen in SQL (`search_patient_ids`); the model holds only the
ids and fetches the visible lines in pages on the worker (`patient_rows`). A row not
yet loaded shows a placeholder until its page arrives (then dataChanged). A new search
is debounced and numbered: the results of an older search are dropped.
"""

from __future__ import annotations

import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QCoreApplication,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from sqlmodel import Session

from carehub.caseload.services import PatientRow, patient_rows, search_patient_ids
from carehub.phones import format_phone
from ui.worker import DatabaseWorker

log = logging.getLogger(__name__)

PAGE_SIZE = 200
MAX_CACHED_PAGES = 64  # ~13,000 lines in memory at most, whatever the caseload size
DEBOUNCE_MS = 150
PLACEHOLDER = "…"

_CONTEXT = "CaseloadModel"


def QT_TRANSLATE_NOOP(context: str, text: str) -> str:
    """Marks text for pyside6-lupdate; translated where it is shown."""
    return text


def _tr(text: str) -> str:
    return QCoreApplication.translate(_CONTEXT, text)


HEADERS = (
    QT_TRANSLATE_NOOP("CaseloadModel", "Nom"),
    QT_TRANSLATE_NOOP("CaseloadModel", "Prénom(s)"),
    QT_TRANSLATE_NOOP("CaseloadModel", "Naissance"),
    QT_TRANSLATE_NOOP("CaseloadModel", "Âge"),
    QT_TRANSLATE_NOOP("CaseloadModel", "Commune"),
    QT_TRANSLATE_NOOP("CaseloadModel", "Téléphone"),
    QT_TRANSLATE_NOOP("CaseloadModel", "INS"),
    QT_TRANSLATE_NOOP("CaseloadModel", "Statut"),
    QT_TRANSLATE_NOOP("CaseloadModel", "Fragilité"),
    QT_TRANSLATE_NOOP("CaseloadModel", "IDE coordinatrice"),
)
(COL_NAME, COL_GIVEN, COL_BIRTH, COL_AGE, COL_COMMUNE, COL_PHONE, COL_INS, COL_STATUS,
 COL_FRAGILITY, COL_MANAGER) = range(len(HEADERS))

STATUS_LABELS = {
    "active": QT_TRANSLATE_NOOP("CaseloadModel", "Suivi actif"),
    "paused": QT_TRANSLATE_NOOP("CaseloadModel", "En pause"),
    "closed": QT_TRANSLATE_NOOP("CaseloadModel", "Clôturé"),
    "deceased": QT_TRANSLATE_NOOP("CaseloadModel", "Décédé"),
}
FRAGILITY_LABELS = {
    0: QT_TRANSLATE_NOOP("CaseloadModel", "0 – robuste"),
    1: QT_TRANSLATE_NOOP("CaseloadModel", "1 – pré-fragile"),
    2: QT_TRANSLATE_NOOP("CaseloadModel", "2 – fragile"),
    3: QT_TRANSLATE_NOOP("CaseloadModel", "3 – très fragile"),
}


def status_label(status: str) -> str:
    return _tr(STATUS_LABELS[status]) if status in STATUS_LABELS else status


def fragility_label(level: int | None) -> str:
    return _tr(FRAGILITY_LABELS[level]) if level in FRAGILITY_LABELS else ""


def age_on(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


@dataclass(frozen=True)
class CaseloadQuery:
    """What the search field and the filters ask for."""

    text: str = ""
    statuses: tuple[str, ...] = ()
    fragility_levels: tuple[int, ...] = ()
    care_manager: str | None = None


Finder = Callable[[Session], Sequence[uuid.UUID]]  # a search: the ids it finds, in order


@dataclass(frozen=True)
class _SearchResult:
    ids: Sequence[uuid.UUID]
    first_page: list[PatientRow]


def _search(session: Session, find: Finder) -> _SearchResult:
    ids = find(session)
    return _SearchResult(ids, patient_rows(session, ids=ids[:PAGE_SIZE]))


def cell_text(row: PatientRow, column: int, today: date) -> str:
    """What the table (and an export) shows in `column` for the patient's line."""
    match column:
        case 0:
            if row.used_name and row.used_name != row.birth_name:
                return f"{row.used_name} ({row.birth_name})"
            return row.birth_name
        case 1:
            return row.given_names
        case 2:
            return row.birth_date.strftime("%d/%m/%Y")
        case 3:
            return str(age_on(row.birth_date, today))
        case 4:
            return row.commune_name or ""
        case 5:
            return format_phone(row.phone_e164) if row.phone_e164 else ""
        case 6:
            return row.ins or ""
        case 7:
            return status_label(row.status)
        case 8:
            return fragility_label(row.fragility_level)
        case 9:
            return row.care_manager or ""
    return ""


class CaseloadModel(QAbstractTableModel):
    """Rows = the matching patients in name order; lines fetched in pages on the worker."""

    resultShown = Signal(int)  # a new search's ids and first page are shown; the row count
    searchFailed = Signal(object)  # the current search raised this exception
    pageLoaded = Signal(int)  # a page (by number) arrived and was shown

    def __init__(self, worker: DatabaseWorker, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._worker = worker
        self._query = CaseloadQuery()
        self._ids: Sequence[uuid.UUID] = []
        self._pages: OrderedDict[int, list[PatientRow]] = OrderedDict()
        self._pending_pages: set[int] = set()
        self._generation = 0
        self._today = date.today()
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self.refresh)

    # -- what the window asks -------------------------------------------------------------

    @property
    def query(self) -> CaseloadQuery:
        return self._query

    def set_query(self, query: CaseloadQuery, *, immediate: bool = False) -> None:
        """A new search: run after a short pause in typing (or now)."""
        self._query = query
        self._schedule(immediate=immediate)

    def _schedule(self, *, immediate: bool) -> None:
        if immediate:
            self._debounce.stop()
            self.refresh()
        else:
            self._debounce.start()

    def refresh(self) -> None:
        """Run the current search again (after a save, F5, a sync)."""
        self._debounce.stop()
        self._generation += 1
        generation = self._generation
        find = self._finder()
        self._worker.submit(lambda session: _search(session, find),
                            on_success=lambda result: self._show_result(generation, result),
                            on_error=lambda exc: self._search_failed(generation, exc))

    def _finder(self) -> Finder:
        """The search the rows come from (subclasses search otherwise)."""
        query = self._query
        return lambda session: search_patient_ids(
            session, text=query.text, statuses=query.statuses,
            fragility_levels=query.fragility_levels, care_manager=query.care_manager)

    def _search_failed(self, generation: int, exc: BaseException) -> None:
        if generation == self._generation:
            log.error("search failed: %r", exc)
            self.searchFailed.emit(exc)

    def patient_id(self, row: int) -> uuid.UUID | None:
        return self._ids[row] if 0 <= row < len(self._ids) else None

    def row_of(self, patient_id: uuid.UUID) -> int | None:
        try:
            return self._ids.index(patient_id)
        except ValueError:
            return None

    def patient_row(self, row: int) -> PatientRow | None:
        """The loaded line of `row`, or None while its page is on its way."""
        page = self._pages.get(row // PAGE_SIZE)
        offset = row % PAGE_SIZE
        return page[offset] if page is not None and offset < len(page) else None

    # -- results from the worker ----------------------------------------------------------

    def _show_result(self, generation: int, result: _SearchResult) -> None:
        if generation != self._generation:
            return  # an older search finished late: its answer is stale
        self.beginResetModel()
        self._ids = result.ids
        self._pages.clear()
        self._pending_pages.clear()
        self._today = date.today()
        if result.ids:
            self._pages[0] = result.first_page
        self.endResetModel()
        self.resultShown.emit(len(self._ids))

    def _request_page(self, page: int) -> None:
        if page in self._pending_pages:
            return
        self._pending_pages.add(page)
        generation = self._generation
        ids = self._ids[page * PAGE_SIZE:(page + 1) * PAGE_SIZE]
        self._worker.submit(lambda session: patient_rows(session, ids=ids),
                            on_success=lambda rows: self._show_page(generation, page, rows))

    def _show_page(self, generation: int, page: int, rows: list[PatientRow]) -> None:
        if generation != self._generation:
            return
        self._pending_pages.discard(page)
        expected = self._ids[page * PAGE_SIZE:(page + 1) * PAGE_SIZE]
        by_id = {row.id: row for row in rows}
        if any(i not in by_id for i in expected):
            # A patient vanished between the search and this page: search again.
            self.refresh()
            return
        self._pages[page] = [by_id[i] for i in expected]
        while len(self._pages) > MAX_CACHED_PAGES:
            self._pages.popitem(last=False)
        first = page * PAGE_SIZE
        last = first + len(expected) - 1
        self.dataChanged.emit(self.index(first, 0), self.index(last, len(HEADERS) - 1))
        self.pageLoaded.emit(page)

    # -- QAbstractTableModel ----------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._ids)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole \
                and 0 <= section < len(HEADERS):
            return _tr(HEADERS[section])
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._ids):
            return None
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() == COL_AGE:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        page = index.row() // PAGE_SIZE
        row = self.patient_row(index.row())
        if row is None:
            self._request_page(page)
            return PLACEHOLDER if role == Qt.ItemDataRole.DisplayRole else None
        self._pages.move_to_end(page)
        return cell_text(row, index.column(), self._today)

    def visible_rows(self) -> Sequence[int]:
        """Rows whose line is loaded (for tests and the benchmarks)."""
        return [page * PAGE_SIZE + i for page, rows in self._pages.items()
                for i in range(len(rows))]
