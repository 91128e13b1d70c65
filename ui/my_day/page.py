"""Ma journée: whom to call today and why, the call, its outcome, then the next person.

The page the app opens on (Ctrl+J). On the left the day's call list (carehub.prevention
call_list, loaded on the worker); on the right the card of the selected patient and the
outcome form. Keyboard first, the keys are shown in the hint line at the bottom:

  ↑ ↓ choose · Entrée call (Maj+Entrée the next number) · 1 joint(e) · 2 pas de réponse
  · 3 messagerie · 4 faux numéro · 5 refus · 6 rappeler à… then Entrée · N note
  · R rendez-vous then Entrée · O orienter · F suite des motifs · D saisie après coup
  · S copier le SMS · Échap back to the list · Ctrl+P print · Ctrl+Maj+P PDF

Every outcome goes to `record_call_outcome` on the worker (one transaction); the list
then reloads and the next line is selected. Errors are French sentences in the page.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

from PySide6.QtCore import QEvent, QModelIndex, QObject, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QKeyEvent, QKeySequence, QShortcut, QShowEvent
from PySide6.QtPrintSupport import QPrintDialog, QPrinter
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)
from sqlmodel import Session

from carehub.coordination.services import ActionRow, list_actions, record_action
from carehub.errors import CareHubError
from carehub.prevention.services import CallListItem, OutcomeResult, call_list, record_call_outcome
from carehub.users.access import covered_caseloads
from ui.context import AppContext
from ui.my_day.card import MAX_CONTACTS, OUTCOMES_FR, PatientCard
from ui.my_day.jobs import Callback, CallbackNotifier, DayJobs, callback_message
from ui.my_day.model import COL_NAME, COL_REASONS, HEADERS, CallListModel
from ui.my_day.outcome import OutcomeForm, OutcomeInput
from ui.my_day.sheet import SheetRelay, print_sheet, render_in_background, write_sheet_pdf
from ui.my_day.texts import (
    callable_phones,
    channel_text,
    escalation_text,
    long_date,
    moment_text,
    textable_phones,
    tr,
)
from ui.paper import a4_layout
from ui.scheduler import AppScheduler
from ui.tables import row_table
from ui.widgets.patient_panel import MUTED
from ui.worker import DatabaseWorker

log = logging.getLogger(__name__)

HINT = ("↑↓ choisir · <b>Entrée</b> appeler (Maj+Entrée : numéro suivant) · <b>1</b> joint(e) · "
        "<b>2</b> pas de réponse · <b>3</b> messagerie · <b>4</b> faux numéro · <b>5</b> refus"
        " · <b>6</b> rappeler à… puis Entrée · <b>N</b> note · <b>R</b> rendez-vous puis "
        "Entrée · <b>O</b> orienter · <b>F</b> suite des motifs · <b>D</b> saisie après coup"
        " · <b>S</b> copier le SMS · <b>Échap</b> retour à la liste · <b>Ctrl+P</b> imprimer"
        " · <b>Ctrl+Maj+P</b> PDF")
NOTICE_STYLE = ("QLabel { background: #fff1c2; color: #5b4300; border: 1px solid #e9c46a;"
                " border-radius: 6px; padding: 6px 10px; font-weight: bold; }")
MESSAGE_STYLE = f"QLabel {{ color: {MUTED}; padding: 2px 4px; }}"
ERROR_STYLE = ("QLabel { background: #fdecea; color: #8a1c14; border: 1px solid #f0b4ae;"
               " border-radius: 6px; padding: 4px 8px; }")
CARD_DELAY_MS = 60  # arrowing down the list does not load every patient passed
_COLUMN_SAMPLES = ("Rappel 14 h 30", "BEAUMONT née LEFÈVRE Marie", "Repérage de la fragilité (+4)",
                   "Téléphone", "3 essais · médecin", "aujourd'hui", "100 ans")
_ENTER_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter)


def _local_now() -> datetime:
    return datetime.now().astimezone()


class MyDayPage(QWidget):
    """The day's calls for `user`; database work on `worker`, timed jobs on `scheduler`."""

    listShown = Signal(int)  # the list was (re)loaded with this many lines
    cardShown = Signal(object)  # the card shows this patient (id)
    contactsShown = Signal(object)  # the card's last contacts arrived for this patient
    outcomeRecorded = Signal(object)  # OutcomeResult
    appointmentRecorded = Signal(object)  # the appointment action's id
    callbackNotified = Signal(object)  # a Callback whose hour came
    dialed = Signal(str)  # the tel: URI opened
    messageShown = Signal(str)  # a result or an error shown in the page
    directoryRequested = Signal(object)  # open the directory for this patient (id)
    statusMessage = Signal(str)  # for the main window's status bar
    sheetWritten = Signal(object)  # the paper list is done: its PDF's Path, or None

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
        self.jobs.recomputed.connect(lambda _report: self.reload())
        self.jobs.recomputed.connect(lambda _report: self.load_covered())
        self.jobs.refreshDue.connect(self.reload)
        self.jobs.refreshDue.connect(self.load_covered)
        self.jobs.recomputeFailed.connect(self._recompute_failed)
        self.jobs.callbackDue.connect(self._callback_due)
        self.notifier = CallbackNotifier(self)
        self.notifier.messageClicked.connect(self._notice_clicked)
        self._generation = 0
        self._recording = False
        self._select_after: uuid.UUID | None = None
        self._phone_index = 0
        self._dialed: str | None = None  # the number of the call in progress
        self._contacts_for: uuid.UUID | None = None  # whose last contacts the card shows
        self._last_notice: Callback | None = None
        self._shown_once = False
        self._sheet_relay: SheetRelay | None = None  # a sheet being laid out
        self._printer: QPrinter | None = None
        self._card_timer = QTimer(self)
        self._card_timer.setSingleShot(True)
        self._card_timer.setInterval(CARD_DELAY_MS)
        self._card_timer.timeout.connect(self._show_current)
        self._build()
        self._build_keys()

    # -- construction ---------------------------------------------------------------------

    def _build(self) -> None:
        self.title_label = QLabel()
        font = self.title_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        self.title_label.setFont(font)
        self.count_label = QLabel()
        self.count_label.setStyleSheet(f"color: {MUTED};")
        self.print_button = QPushButton(tr("Imprimer la liste… (Ctrl+P)"))
        self.print_button.clicked.connect(self.print_list)
        self.pdf_button = QPushButton(tr("PDF… (Ctrl+Maj+P)"))
        self.pdf_button.clicked.connect(lambda _checked=False: self.save_pdf())
        for button in (self.print_button, self.pdf_button):
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
        header.addWidget(self.print_button)
        header.addWidget(self.pdf_button)

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
        self.card.phoneActivated.connect(self.dial)
        self.form = OutcomeForm()
        self.form.outcomeChosen.connect(self.record_outcome)
        self.form.dialRequested.connect(lambda: self.dial())
        self.form.appointmentRequested.connect(self.record_appointment)
        self.form.referralRequested.connect(self.refer)
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
        self.hint_label = QLabel(tr(HINT))
        self.hint_label.setWordWrap(True)
        self.hint_label.setTextFormat(Qt.TextFormat.RichText)
        self.hint_label.setStyleSheet(f"QLabel {{ color: {MUTED}; padding: 2px 4px; }}")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 4)
        layout.setSpacing(6)
        layout.addLayout(header)
        layout.addWidget(self.notice_label)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self.message_label)
        layout.addWidget(self.hint_label)
        self.setFocusProxy(self.table)
        self._set_title()

    def _build_keys(self) -> None:
        """Plain keys while working the list; text fields keep them for typing."""
        bindings: list[tuple[str, Callable[[], None]]] = [
            *((key, lambda o=outcome: self.key_outcome(o)) for key, outcome in
              (("1", "reached"), ("2", "no_answer"), ("3", "voicemail"),
               ("4", "wrong_number"), ("5", "refused"), ("6", "callback"))),
            ("N", lambda: self._focus(self.form.note)),
            ("R", lambda: self._focus(self.form.appointment_at)),
            ("O", self.refer),
            ("F", self._focus_reasons),
            ("D", self._toggle_deferred),
            ("S", self.card.copy_sms),
            ("Shift+Return", self.dial_next),
            ("Shift+Enter", self.dial_next),
            ("Ctrl+P", self.print_list),
            ("Ctrl+Shift+P", lambda: self.save_pdf()),
        ]
        self.shortcuts: dict[str, QShortcut] = {}
        for key, slot in bindings:
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)
            self.shortcuts[key] = shortcut

    def _set_title(self) -> None:
        self.title_label.setText(tr("Ma journée — %1").replace("%1", long_date(self.today())))

    # -- the list -------------------------------------------------------------------------

    def reload(self) -> None:
        """Load today's call list on the worker; the current line stays selected."""
        self._generation += 1
        generation, owner, today, now = self._generation, self.owner, self.today(), self.now()

        def job(session: Session) -> list[CallListItem]:
            return call_list(session, user=owner, as_of=today, now=now)

        self.worker.submit(job, on_success=lambda items: self._show_list(generation, items),
                           on_error=self._show_error)

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
        self.count_label.setText(
            (tr("%1 personnes à contacter") if count > 1 else tr("%1 personne à contacter"))
            .replace("%1", str(count)))
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

    # -- the call -------------------------------------------------------------------------

    def dial(self, e164: str | None = None) -> None:
        """Open the tel: link (the softphone) and start the call timer."""
        item = self.current_item()
        if item is None:
            return
        phones = callable_phones(item)
        if e164 is None:
            if item.channel != "phone":  # a click on the number still dials it
                self.show_message(tr("Ne pas appeler : %1. %2").replace(
                    "%1", item.channel_reason_fr or channel_text(item.channel)).replace(
                    "%2", tr("SMS prêt à copier (S).") if textable_phones(item) else ""),
                    error=True)
                return
            if not phones:
                self.show_message(tr("Pas de numéro de téléphone pour %1.").replace(
                    "%1", item.name), error=True)
                return
            phone = phones[self._phone_index % len(phones)]
            e164 = phone.e164
        uri = f"tel:{e164}"
        self._dialed = e164
        QDesktopServices.openUrl(QUrl(uri))
        self.form.start_timer(self.now())
        formatted = next((p.formatted for p in phones if p.e164 == e164), e164)
        self.show_message(tr("Appel de %1 au %2…").replace("%1", item.name)
                          .replace("%2", formatted))
        self.dialed.emit(uri)

    def dial_next(self) -> None:
        item = self.current_item()
        if item is None or not item.phones:
            return
        self._phone_index += 1
        self.dial()

    # -- outcomes -------------------------------------------------------------------------

    def key_outcome(self, outcome: str) -> None:
        """A key 1–6: 6 goes to the call-back's date and time first (Entrée records)."""
        if outcome == "callback" and self.focusWidget() is not self.form.callback_at:
            self._focus(self.form.callback_at)
            return
        self.record_outcome(outcome)

    def record_outcome(self, outcome: str) -> None:
        item = self.current_item()
        if item is None:
            return
        if self._recording:
            self.show_message(tr("Enregistrement en cours…"))
            return
        entered = self.form.collect(outcome)
        if entered.at is not None and entered.at > self.now():
            self.show_message(tr("L'heure de l'appel ne peut pas être dans le futur."),
                              error=True)
            return
        if entered.callback_at is not None and entered.callback_at <= self.now():
            self.show_message(tr("Choisissez une heure de rappel à venir."), error=True)
            self._focus(self.form.callback_at)
            return
        self.form.stop_timer()
        self._recording = True
        self._select_after = self._next_patient(item.patient_id)
        patient_id, user, dialed = item.patient_id, self.user, self._dialed

        def job(session: Session) -> OutcomeResult:
            return _record(session, patient_id=patient_id, actor=user, entered=entered,
                           phone_e164=dialed)

        self.worker.submit(job, write=True,
                           on_success=lambda result: self._recorded(item, entered, result),
                           on_error=self._record_failed)

    def _next_patient(self, patient_id: uuid.UUID) -> uuid.UUID | None:
        row = self.model.row_of(patient_id)
        following = self.model.item(row + 1) if row is not None else None
        return following.patient_id if following else None

    def _recorded(self, item: CallListItem, entered: OutcomeInput,
                  result: OutcomeResult) -> None:
        self._recording = False
        self.model.highlight(item.patient_id, on=False)
        if self._last_notice is not None and self._last_notice.patient_id == item.patient_id:
            self.notice_label.setVisible(False)
        parts = [tr("%1 : %2, enregistré.").replace("%1", item.name)
                 .replace("%2", tr(OUTCOMES_FR.get(entered.outcome, entered.outcome)))]
        if entered.callback_at is not None:
            parts.append(tr("Rappel prévu %1.").replace(
                "%1", moment_text(entered.callback_at, today=self.today())))
        elif result.next_attempt_at is not None:
            parts.append(tr("Nouvel essai %1.").replace(
                "%1", moment_text(result.next_attempt_at, today=self.today())))
        if result.escalation:
            parts.append(tr("À faire : %1.").replace("%1", escalation_text(result.escalation)))
        self.show_message(" ".join(parts))
        self.card.item = None  # the next line gets a blank form
        following = self.model.row_of(self._select_after)
        if following is not None:  # on to her at once; the reloaded list keeps her selected
            self.table.selectRow(following)
        self.reload()
        self.jobs.rebuild_callbacks()
        self.table.setFocus(Qt.FocusReason.OtherFocusReason)
        self.outcomeRecorded.emit(result)

    def _record_failed(self, exc: BaseException) -> None:
        self._recording = False
        self._select_after = None
        self._show_error(exc)

    def record_appointment(self) -> None:
        """An 'appointment' action for the patient on the line (the call goes on)."""
        item = self.current_item()
        if item is None or self._recording:
            return
        at = self.form.appointment_time()
        when = (tr("Rendez-vous le %1 à %2").replace("%1", at.strftime("%d/%m/%Y"))
                .replace("%2", at.strftime("%H:%M")))
        note = self.form.note.text().strip()
        patient_id, user = item.patient_id, self.user

        def job(session: Session) -> uuid.UUID:
            return record_action(session, patient_ref=patient_id, action_type="appointment",
                                 actor=user, note=f"{when}. {note}" if note else when,
                                 details={"appointment_at": at.isoformat()})

        def done(action_id: uuid.UUID) -> None:
            self.show_message(tr("%1 : %2, enregistré.").replace("%1", item.name)
                              .replace("%2", when))
            self.table.setFocus(Qt.FocusReason.OtherFocusReason)
            self._contacts_for = None
            self._show_current()  # the new action in the last contacts
            self.appointmentRecorded.emit(action_id)

        self.worker.submit(job, write=True, on_success=done, on_error=self._show_error)

    def refer(self) -> None:
        item = self.current_item()
        if item is not None:
            self.directoryRequested.emit(item.patient_id)

    # -- paper ----------------------------------------------------------------------------

    def print_list(self) -> None:
        """The print dialog, then the sheet laid out on a pool thread (seconds for 300)."""
        if self._sheet_busy():
            return
        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        printer.setPageLayout(a4_layout(landscape=True, margins_mm=10))
        dialog = QPrintDialog(printer, self)
        dialog.setWindowTitle(tr("Imprimer la liste des appels"))
        if dialog.exec() != QPrintDialog.DialogCode.Accepted:
            return
        items, day, user, at = self.model.items, self.today(), self.user, self.now()
        self._printer = printer  # painted from the pool thread: alive until it is done

        def render() -> None:
            print_sheet(printer, items, day=day, user=user, printed_at=at)

        self._render_sheet(render, len(items))

    def save_pdf(self, path: Path | None = None) -> bool:
        """The sheet as a PDF (asks where without `path`); `sheetWritten` once written."""
        if self._sheet_busy():
            return False
        if path is None:
            name, _filter = QFileDialog.getSaveFileName(
                self, tr("Enregistrer la liste des appels"),
                f"appels-{self.today().isoformat()}.pdf", tr("PDF (*.pdf)"))
            if not name:
                return False
            path = Path(name)
        items, day, user, at, out = self.model.items, self.today(), self.user, self.now(), path

        def render() -> Path:
            return write_sheet_pdf(items, out, day=day, user=user, printed_at=at)

        self._render_sheet(render, len(items))
        return True

    def _sheet_busy(self) -> bool:
        if self._sheet_relay is not None:
            self.show_message(tr("La liste est en cours de mise en page…"))
            return True
        return False

    def _render_sheet(self, render: Callable[[], object], count: int) -> None:
        relay = SheetRelay(self)
        relay.finished.connect(self._sheet_done)
        relay.failed.connect(self._sheet_failed)
        self._sheet_relay = relay
        self.show_message(tr("Mise en page de la liste (%1 personnes)…").replace(
            "%1", str(count)))
        render_in_background(render, relay)

    def _sheet_done(self, result: object) -> None:
        self._end_sheet()
        if isinstance(result, Path):
            self.show_message(tr("Liste enregistrée dans %1.").replace("%1", str(result)))
        else:
            self.show_message(tr("Liste envoyée à l'imprimante."))
        self.sheetWritten.emit(result)

    def _sheet_failed(self, detail: str) -> None:
        self._end_sheet()
        self.show_message(tr("La liste n'a pas pu être imprimée ni enregistrée : %1")
                          .replace("%1", detail), error=True)
        self.sheetWritten.emit(None)

    def _end_sheet(self) -> None:
        if self._sheet_relay is not None:
            self._sheet_relay.deleteLater()
        self._sheet_relay = None
        self._printer = None

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
        self.reload()  # the stored reminders are still worth showing

    # -- keys -----------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._shown_once:  # the app opens here: the list has the keyboard
            self._shown_once = True
            self.table.setFocus(Qt.FocusReason.OtherFocusReason)

    def _focus(self, widget: QWidget) -> None:
        if self.current_item() is None:
            return
        widget.setFocus(Qt.FocusReason.ShortcutFocusReason)
        select_all = getattr(widget, "selectAll", None)
        if callable(select_all):
            select_all()

    def _focus_reasons(self) -> None:
        if self.form.reason_rows:
            self._focus(self.form.reason_rows[0].combo)

    def _toggle_deferred(self) -> None:
        self.form.deferred.toggle()
        if self.form.deferred.isChecked():
            self._focus(self.form.deferred_at)

    def back_to_list(self) -> None:
        self.table.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def event(self, event: QEvent) -> bool:
        # Entrée and Échap are the page's own here, not the main window's (open the
        # patient form, clear the search): take them before its shortcuts do.
        if (event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent)
                and event.key() in (*_ENTER_KEYS, Qt.Key.Key_Escape)
                and event.modifiers() in (Qt.KeyboardModifier.NoModifier,
                                          Qt.KeyboardModifier.KeypadModifier)):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        focused = self.focusWidget()
        if event.key() == Qt.Key.Key_Escape:
            self.back_to_list()
        elif event.key() in _ENTER_KEYS:
            if focused is self.form.callback_at:
                self.record_outcome("callback")
            elif focused is self.form.appointment_at:
                self.record_appointment()
            elif focused is self.table or focused is self:
                self.dial()
            else:
                self.back_to_list()  # a note typed, a date chosen: back to the outcome keys
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def _fit_reasons(self) -> None:
        """The reasons take the room left, never less than their sample's width."""
        others = sum(self.table.columnWidth(c) for c in range(len(HEADERS)) if c != COL_REASONS)
        free = self.table.viewport().width() - others
        self.table.setColumnWidth(COL_REASONS, max(self._reasons_width, free))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.table and event.type() == QEvent.Type.Resize:
            QTimer.singleShot(0, self._fit_reasons)  # once the viewport has its new size
        # The table takes Entrée for itself (item activation): hand it to the page.
        if (watched is self.table and event.type() == QEvent.Type.KeyPress
                and isinstance(event, QKeyEvent) and event.key() in _ENTER_KEYS
                and event.modifiers() in (Qt.KeyboardModifier.NoModifier,
                                          Qt.KeyboardModifier.KeypadModifier)):
            self.dial()
            return True
        return super().eventFilter(watched, event)


def _record(session: Session, *, patient_id: uuid.UUID, actor: str, entered: OutcomeInput,
            phone_e164: str | None) -> OutcomeResult:
    return record_call_outcome(
        session, patient_id=patient_id, outcome=entered.outcome,  # type: ignore[arg-type]
        actor=actor, at=entered.at, duration_s=entered.duration_s, note=entered.note,
        channel=entered.channel, callback_at=entered.callback_at, done=entered.done or None,
        declined=entered.declined, postpone_until=entered.postpone_until or None,
        phone_e164=phone_e164 if entered.outcome == "wrong_number" else None)


def install_my_day(ctx: AppContext) -> MyDayPage:
    """Ma journée as the app's first page (Ctrl+J), with its timed jobs."""
    page = MyDayPage(ctx.worker, user=ctx.user, scheduler=ctx.scheduler)
    ctx.add_page(page, tr("Ma journée"), "Ctrl+J")
    ctx.open_on(page)  # the app opens on the day's calls
    ctx.refreshRequested.connect(page.reload)  # F5 reloads the list too
    page.directoryRequested.connect(
        lambda patient_id: ctx.open_directory(patient_id=patient_id))
    page.statusMessage.connect(lambda text: ctx.show_message(text, 30_000))

    def bring_forward() -> None:  # the tray message was clicked: the day, that line
        ctx.show_page(page)
        ctx.bring_to_front()

    page.notifier.messageClicked.connect(bring_forward)
    page.jobs.install()
    page.reload()
    return page
