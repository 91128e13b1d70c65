"""Ma journée's list: its loading, the lists covered, the start of day, the card, the notices.

DayListPage is the page's lower half of behaviour: it builds every widget of the page and
keeps the list, the selected line's card and the messages up to date; the call and its
outcome (ui.my_day.calling) and the keys, paper and dialogs (ui.my_day.page) build on it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import date, datetime

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)
from sqlmodel import Session

from carehub.coordination.services import ActionRow, list_actions
from carehub.errors import CareHubError
from carehub.prevention.plan import carried_over
from carehub.prevention.services import CallListItem, call_list
from carehub.users.access import covered_caseloads
from ui.my_day.card import MAX_CONTACTS, PatientCard
from ui.my_day.jobs import Callback, CallbackNotifier, DayJobs, callback_message
from ui.my_day.model import COL_NAME, COL_REASONS, HEADERS, CallListModel
from ui.my_day.outcome import OutcomeForm
from ui.my_day.preparing import PreparingPanel
from ui.my_day.texts import long_date, tr
from ui.scheduler import AppScheduler
from ui.tables import row_table
from ui.widgets.patient_panel import MUTED
from ui.worker import DatabaseWorker

log = logging.getLogger(__name__)

NOTICE_STYLE = ("QLabel { background: #fff1c2; color: #5b4300; border: 1px solid #e9c46a;"
                " border-radius: 6px; padding: 6px 10px; font-weight: bold; }")
MESSAGE_STYLE = f"QLabel {{ color: {MUTED}; padding: 2px 4px; }}"
ERROR_STYLE = ("QLabel { background: #fdecea; color: #8a1c14; border: 1px solid #f0b4ae;"
               " border-radius: 6px; padding: 4px 8px; }")
CARD_DELAY_MS = 60  # arrowing down the list does not load every patient passed
_COLUMN_SAMPLES = ("Rappel 14 h 30", "BEAUMONT née LEFÈVRE Marie", "Repérage de la fragilité (+4)",
                   "Téléphone", "3 essais · médecin", "aujourd'hui", "100 ans")


def _local_now() -> datetime:
    return datetime.now().astimezone()


class DayListPage(QWidget):
    """The day's list for `user` and the card of its current line; database work on
    `worker`, timed jobs on `scheduler`."""

    listShown = Signal(int)  # the list was (re)loaded with this many lines
    cardShown = Signal(object)  # the card shows this patient (id)
    contactsShown = Signal(object)  # the card's last contacts arrived for this patient
    callbackNotified = Signal(object)  # a Callback whose hour came
    messageShown = Signal(str)  # a result or an error shown in the page
    statusMessage = Signal(str)  # for the main window's status bar
    dayReady = Signal(int)  # the start of day is computed and its list shown (its length)

    def __init__(self, worker: DatabaseWorker, *, user: str, scheduler: AppScheduler,
                 today: Callable[[], date] = date.today,
                 now: Callable[[], datetime] = _local_now,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.worker = worker
        self.user = user
        self.owner = user  # whose list is shown: hers, or a colleague's she covers today
        self._offered: set[str] | None = None  # colleagues offered so far (None: not yet)
        self.today = today
        self.now = now
        self.model = CallListModel(self)
        self.jobs = DayJobs(scheduler, worker, user=user, today=today, now=now, parent=self)
        self.jobs.recomputeStarted.connect(self._preparing_started)
        self.jobs.recomputed.connect(lambda _report: self._preparing_step(2))
        self.jobs.recomputed.connect(lambda _report: self.reload())
        self.jobs.recomputed.connect(lambda _report: self.load_covered())
        self.jobs.refreshDue.connect(self.reload)
        self.jobs.refreshDue.connect(self.load_covered)
        self.jobs.recomputeFailed.connect(self._recompute_failed)
        self.jobs.callbackDue.connect(self._callback_due)
        self.notifier = CallbackNotifier(self)
        self.notifier.messageClicked.connect(self._notice_clicked)
        self._generation = 0
        self._select_after: uuid.UUID | None = None
        self._phone_index = 0
        self._dialed: str | None = None  # the number of the call in progress
        self._contacts_for: uuid.UUID | None = None  # whose last contacts the card shows
        self._last_notice: Callback | None = None
        self._preparing = False  # the start of day is being computed
        self._ready_on: date | None = None  # the day whose start was computed and shown
        self.carried = 0  # today's patients carried over from an earlier day
        self._card_timer = QTimer(self)
        self._card_timer.setSingleShot(True)
        self._card_timer.setInterval(CARD_DELAY_MS)
        self._card_timer.timeout.connect(self._show_current)
        self._build()
        self._wire()

    # -- construction ---------------------------------------------------------------------

    def _build(self) -> None:
        """The header, the notices, the list beside the card and the form, the messages."""
        self.title_label = QLabel()
        font = self.title_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        self.title_label.setFont(font)
        self.count_label = QLabel()
        self.count_label.setStyleSheet(f"color: {MUTED};")
        self.print_button = QPushButton(tr("Imprimer la liste… (Ctrl+P)"))
        self.pdf_button = QPushButton(tr("PDF… (Ctrl+Maj+P)"))
        self.weeks_button = QPushButton(tr("Semaines à venir… (W)"))
        for button in (self.print_button, self.pdf_button, self.weeks_button):
            button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        # Covering for an absent colleague, she works that colleague's list too.
        self.owner_box = QComboBox()
        self.owner_box.addItem(tr("Ma liste"), self.user)
        self.owner_box.setToolTip(tr("Les listes des collègues que vous remplacez "
                                     "aujourd'hui"))
        self.owner_box.setVisible(False)
        self.owner_box.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.owner_box.currentIndexChanged.connect(self._owner_chosen)
        header = QHBoxLayout()
        header.addWidget(self.title_label)
        header.addWidget(self.owner_box)
        header.addWidget(self.count_label, 1)
        header.addWidget(self.weeks_button)
        header.addWidget(self.print_button)
        header.addWidget(self.pdf_button)

        self.preparing_panel = PreparingPanel()
        self.preparing_panel.setVisible(False)

        self.notice_label = QLabel()
        self.notice_label.setStyleSheet(NOTICE_STYLE)
        self.notice_label.setWordWrap(True)
        self.notice_label.setVisible(False)

        self.table = row_table(self.model)
        self.table.setWordWrap(False)
        self.table.setTabKeyNavigation(False)
        rows = self.table.verticalHeader()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setDefaultSectionSize(self.fontMetrics().height() + 10)
        columns = self.table.horizontalHeader()
        columns.setHighlightSections(False)
        metrics = self.table.fontMetrics()
        for column, sample in enumerate(_COLUMN_SAMPLES):
            width = max(metrics.horizontalAdvance(sample), metrics.horizontalAdvance(
                HEADERS[column])) + 18
            self.table.setColumnWidth(column, width)
        self._reasons_width = self.table.columnWidth(COL_REASONS)  # at least this
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.selectionModel().currentRowChanged.connect(self._on_row_changed)
        self.table.installEventFilter(self)

        self.card = PatientCard(sender=self.user)
        self.form = OutcomeForm(clock=self.now)
        self.form.setEnabled(False)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.setSpacing(6)
        right_layout.addWidget(self.card, 1)
        right_layout.addWidget(self.form)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 5)
        self.splitter.setStretchFactor(1, 4)
        self.splitter.setSizes([980, 700])

        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setStyleSheet(MESSAGE_STYLE)
        self.hint_label = QLabel()  # the keys, said by the page
        self.hint_label.setWordWrap(True)
        self.hint_label.setTextFormat(Qt.TextFormat.RichText)
        self.hint_label.setStyleSheet(f"QLabel {{ color: {MUTED}; padding: 2px 4px; }}")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 4)
        layout.setSpacing(6)
        layout.addLayout(header)
        layout.addWidget(self.notice_label)
        layout.addWidget(self.preparing_panel)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self.message_label)
        layout.addWidget(self.hint_label)
        self.setFocusProxy(self.table)
        self._set_title()

    def _wire(self) -> None:
        """What each layer of the page does with the widgets built: the list's own are
        connected in _build; the layers above extend this."""

    def _set_title(self) -> None:
        self.title_label.setText(tr("Ma journée — %1").replace("%1", long_date(self.today())))

    # -- the list -------------------------------------------------------------------------

    def reload(self) -> None:
        """Load today's share of the plan on the worker (the plan is rebuilt and kept: a
        write); the current line stays selected."""
        self._generation += 1
        generation, owner, today, now = self._generation, self.owner, self.today(), self.now()

        def job(session: Session) -> tuple[list[CallListItem], int]:
            items = call_list(session, user=owner, as_of=today, now=now)
            return items, carried_over(session, user=owner, day=today)

        def shown(result: tuple[list[CallListItem], int]) -> None:
            self.carried = result[1]
            self._show_list(generation, result[0])

        self.worker.submit(job, write=True, on_success=shown, on_error=self._show_error)

    def load_covered(self) -> None:
        """Offer the lists of the colleagues she covers today (read on the worker)."""
        user, today = self.user, self.today()

        def job(session: Session) -> list[tuple[str, str]]:
            return covered_caseloads(session, user=user, on=today)

        self.worker.submit(job, on_success=self._offer_covered, on_error=self._show_error)

    def _offer_covered(self, colleagues: list[tuple[str, str]]) -> None:
        self.owner_box.blockSignals(True)
        while self.owner_box.count() > 1:
            self.owner_box.removeItem(1)
        for name, display in colleagues:
            self.owner_box.addItem(tr("Liste de %1 (remplacement)").replace("%1", display),
                                   name)
        chosen = self.owner_box.findData(self.owner)
        self.owner_box.setCurrentIndex(max(chosen, 0))
        self.owner_box.blockSignals(False)
        self.owner_box.setVisible(bool(colleagues))
        if chosen < 0 and self.owner != self.user:
            self._owner_chosen(0)  # the coverage ended: back to her own list
        names = {name for name, _ in colleagues}
        if self._offered is not None and names - self._offered:
            # A coverage that began since the day's recompute (which computed the lists
            # covered then): the new colleague's reminders, then the list again.
            self.jobs.recompute()
        self._offered = names

    def _owner_chosen(self, index: int) -> None:
        self.owner = self.owner_box.itemData(index) or self.user
        self._select_after = None
        self.reload()

    def _show_list(self, generation: int, items: list[CallListItem]) -> None:
        if generation != self._generation:
            return  # a newer load is on its way
        wanted = self._select_after or self.current_patient_id()
        self._select_after = None
        old_row = self.table.currentIndex().row()
        self.model.set_items(items, today=self.today())
        self._set_title()
        count = len(items)
        text = (tr("%1 personnes à contacter aujourd'hui") if count > 1
                else tr("%1 personne à contacter aujourd'hui")).replace("%1", str(count))
        if self.carried:
            text += tr(" · dont %1 reporté(es) d'un jour précédent").replace(
                "%1", str(self.carried))
        self.count_label.setText(tr("Préparation de la journée…") if self._preparing else text)
        row = self.model.row_of(wanted)
        if row is None and count:
            row = min(max(old_row, 0), count - 1)
        if row is not None:
            self.table.selectRow(row)
            self.table.scrollTo(self.model.index(row, COL_NAME))
            if self.current_patient_id() != wanted:
                # Another patient now sits on the same row (another list, or hers left
                # it): the row did not change, her card must.
                self._card_timer.start()
        else:
            self.card.clear()
            self.form.reset(None, now=self.now())
        if self.isVisible() and self.focusWidget() is None:
            self.table.setFocus(Qt.FocusReason.OtherFocusReason)
        self.listShown.emit(count)
        if self._preparing and self._ready_on == self.today():
            self._preparing = False
            self.count_label.setText(text)
            self.preparing_panel.setVisible(False)
            self.card.placeholder.setText(tr("Personne à appeler pour l'instant."))
            self.dayReady.emit(count)

    # -- the start of day -----------------------------------------------------------------

    def _preparing_started(self) -> None:
        """The day's first recompute: say so until its list is shown."""
        if self._ready_on == self.today() or self._preparing:
            return
        self._preparing = True
        self.preparing_panel.setVisible(True)
        self.card.placeholder.setText(tr("Préparation de la journée…"))
        self.count_label.setText(tr("Préparation de la journée…"))
        self._preparing_step(1)

    def _preparing_step(self, step: int) -> None:
        if not self._preparing:
            return
        if step >= 2:
            self._ready_on = self.today()  # the next list shown is the day's
        self.preparing_panel.show_step(step)

    @property
    def preparing(self) -> bool:
        return self._preparing

    def current_item(self) -> CallListItem | None:
        index = self.table.currentIndex()
        return self.model.item(index.row()) if index.isValid() else None

    def current_patient_id(self) -> uuid.UUID | None:
        item = self.current_item()
        return item.patient_id if item else None

    def _on_row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self._card_timer.start()
        else:
            self.card.clear()

    def _show_current(self) -> None:
        item = self.current_item()
        if item is None:
            return
        shown = self.card.item
        same = shown is not None and shown.patient_id == item.patient_id
        patient_id = item.patient_id
        fresh_contacts = same and self._contacts_for == patient_id
        self.card.show_item(item, today=self.today(), keep_contacts=fresh_contacts)
        if not same:  # a new patient: a blank form; a reload keeps what was typed
            self.form.reset(item, now=self.now())
            self._phone_index = 0
            self._dialed = None
        if fresh_contacts:  # the list was reloaded around her: her contacts are shown
            self.cardShown.emit(patient_id)
            return
        self._contacts_for = None

        def job(session: Session) -> list[ActionRow]:
            return list_actions(session, patient_ref=patient_id, limit=MAX_CONTACTS)

        self.worker.submit(job, on_success=lambda rows: self._show_contacts(patient_id, rows),
                           on_error=self._show_error)
        self.cardShown.emit(patient_id)

    def _show_contacts(self, patient_id: uuid.UUID, rows: list[ActionRow]) -> None:
        if self.card.item is not None and self.card.item.patient_id == patient_id:
            self.card.show_contacts(rows)
            self._contacts_for = patient_id
            self.contactsShown.emit(patient_id)

    # -- call-backs -----------------------------------------------------------------------

    def _callback_due(self, callback: Callback) -> None:
        title, text = callback_message(callback, today=self.today())
        self.model.highlight(callback.patient_id)
        self._last_notice = callback
        self.notice_label.setText(text)
        self.notice_label.setVisible(True)
        self.reload()  # its hour has come: the line moves to the top
        if not self.notifier.notify(title, text):
            self.statusMessage.emit(text)
        self.callbackNotified.emit(callback)

    def _notice_clicked(self) -> None:
        if self._last_notice is not None:
            self.select_patient(self._last_notice.patient_id)

    def select_patient(self, patient_id: uuid.UUID) -> bool:
        row = self.model.row_of(patient_id)
        if row is None:
            return False
        self.table.selectRow(row)
        self.table.setFocus(Qt.FocusReason.OtherFocusReason)
        return True

    # -- messages -------------------------------------------------------------------------

    def show_message(self, text: str, *, error: bool = False) -> None:
        self.message_label.setStyleSheet(ERROR_STYLE if error else MESSAGE_STYLE)
        self.message_label.setText(text)
        self.messageShown.emit(text)

    def _show_error(self, exc: BaseException) -> None:
        if isinstance(exc, CareHubError):
            self.show_message(exc.message_fr, error=True)
        else:
            log.error("Ma journée: a database job failed: %r", exc)
            self.show_message(tr("L'opération a échoué ; rien n'a été modifié. (%1)")
                              .replace("%1", str(exc)), error=True)

    def _recompute_failed(self, exc: BaseException) -> None:
        self._show_error(exc)
        self._preparing_step(2)
        self.reload()  # the stored reminders are still worth showing

    def _fit_reasons(self) -> None:
        """The reasons take the room left, never less than their sample's width."""
        others = sum(self.table.columnWidth(c) for c in range(len(HEADERS)) if c != COL_REASONS)
        free = self.table.viewport().width() - others
        self.table.setColumnWidth(COL_REASONS, max(self._reasons_width, free))
