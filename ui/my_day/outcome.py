"""What the nurse records about a call: the outcome keys, note, duration, next steps.

The form holds no database logic: it collects what was typed into an `OutcomeInput` and
the page sends that to `record_call_outcome` on the worker. The call timer starts when
the nurse dials and fills the duration each second until she edits it herself.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from PySide6.QtCore import QElapsedTimer, QTime, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from carehub.dates import Lean, add_months
from carehub.prevention.services import CallListItem
from ui.my_day.texts import tr
from ui.widgets.date_entry import DateEntry, DateTimeEntry, naive_local
from ui.widgets.patient_panel import MUTED

# key, outcome, label: the one-key outcomes, in the order of the keys.
OUTCOMES = (("1", "reached", "Joint(e)"), ("2", "no_answer", "Pas de réponse"),
            ("3", "voicemail", "Messagerie"), ("4", "wrong_number", "Faux numéro"),
            ("5", "refused", "Refus"), ("6", "callback", "Rappeler à…"))
# What becomes of each reason when the outcome is recorded.
SETTLEMENTS = (("Inchangé", None), ("Fait le", "done"), ("Refusé", "declined"),
               ("Reporté au", "postponed"))
DAY_START, DAY_END = time(9, 0), time(18, 0)
POSTPONE_DAYS = 30
BOX_STYLE = ("QFrame#outcome { background: palette(base); border: 1px solid #d9dee3;"
             " border-radius: 6px; }")


@dataclass(frozen=True)
class OutcomeInput:
    """One call's outcome as typed; the page adds the patient and the actor."""

    outcome: str
    channel: str  # "call" or "sms"
    note: str | None
    duration_s: int | None
    at: datetime | None  # set when entered afterwards (paper list), local aware
    callback_at: datetime | None = None
    done: dict[uuid.UUID, date] = field(default_factory=dict)
    declined: tuple[uuid.UUID, ...] = ()
    postpone_until: dict[uuid.UUID, date] = field(default_factory=dict)


def _aware(value: datetime) -> datetime:
    return value.replace(second=0, microsecond=0).astimezone()


def _local_now() -> datetime:
    return datetime.now().astimezone()


def default_callback(item: CallListItem | None, now: datetime) -> datetime:
    """In two hours at the next quarter, inside the patient's hours, else next morning."""
    start = (item.call_after if item and item.call_after else DAY_START)
    end = (item.call_before if item and item.call_before else DAY_END)
    at = (now + timedelta(hours=2)).replace(second=0, microsecond=0)
    at += timedelta(minutes=(-at.minute) % 15)
    if at.time() < start:
        at = at.replace(hour=start.hour, minute=start.minute)
    if at.time() > end or at.date() != now.date():
        at = (now + timedelta(days=1)).replace(hour=start.hour, minute=start.minute,
                                               second=0, microsecond=0)
    return at


class ReasonRow:
    """One reason's settlement: unchanged, done on a date, declined, postponed to a date."""

    def __init__(self, reminder_id: uuid.UUID, label: str, today: date,
                 clock: Callable[[], datetime] = _local_now) -> None:
        self.reminder_id = reminder_id
        self.label = QLabel(label)
        self.combo = QComboBox()
        for text, value in SETTLEMENTS:
            self.combo.addItem(tr(text), value)
        self.combo.setAccessibleName(tr("Suite pour : %1").replace("%1", label))
        # "Fait le 12/11", "en mars 2025", "il y a 3 semaines"; "reporté à dans 3 mois".
        self.date = DateEntry(clock=clock)
        self.date.setAccessibleName(tr("Date pour : %1").replace("%1", label))
        self.date.setVisible(False)  # shown for "done on" and "postponed to"
        self.today = today
        self.combo.currentIndexChanged.connect(self._changed)

    def _changed(self, _index: int) -> None:
        value = self.combo.currentData()
        self.date.setVisible(value in ("done", "postponed"))
        if value == "done":  # looks back; a month is enough ("mars 2025": its first day)
            self.date.lean, self.date.month = "past", "start"
            self.date.set_check(self._check_done)
            self.date.set_value(self.today)
        elif value == "postponed":
            self.date.lean, self.date.month = "future", None
            self.date.set_check(self._check_postponed)
            self.date.set_value(self.today + timedelta(days=POSTPONE_DAYS))

    def _check_done(self, day: date) -> str | None:
        if day > self.today:
            return tr("Ce jour est à venir : un acte fait a une date passée.")
        if day < add_months(self.today, -30 * 12):
            return tr("Plus de 30 ans : vérifiez la date.")
        return None

    def _check_postponed(self, day: date) -> str | None:
        if day <= self.today:
            return tr("Reporter à un jour à venir (demain au plus tôt).")
        if day > add_months(self.today, 10 * 12):
            return tr("Plus de 10 ans : vérifiez la date.")
        return None

    @property
    def settlement(self) -> str | None:
        value = self.combo.currentData()
        return value if isinstance(value, str) else None

    @property
    def on(self) -> date | None:
        """The date typed for "done on" / "postponed to", None while it cannot be taken."""
        return self.date.value()

    def widgets(self) -> tuple[QWidget, QWidget, QWidget]:
        return self.label, self.combo, self.date


class OutcomeForm(QFrame):
    """Buttons 1–6, note, duration (call timer), channel, next steps, per-reason settlement."""

    outcomeChosen = Signal(str)  # an outcome key or button (the page records it)
    dialRequested = Signal()  # "Appeler"
    appointmentRequested = Signal()  # "Rendez-vous pris" (Entrée in its date field)
    referralRequested = Signal()  # "Orienter vers…"
    declaredRequested = Signal()  # "Déjà fait ailleurs…" (acts done outside CareHub)

    def __init__(self, parent: QWidget | None = None, *,
                 clock: Callable[[], datetime] = _local_now) -> None:
        super().__init__(parent)
        self.clock = clock  # the page's: the dates typed are read from it
        self.setObjectName("outcome")
        self.setStyleSheet(BOX_STYLE)
        self.reason_rows: list[ReasonRow] = []
        self._elapsed = QElapsedTimer()
        self._ticking = False
        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._show_elapsed)
        self.call_started_at: datetime | None = None
        self._build()

    # -- construction ---------------------------------------------------------------------

    def _build(self) -> None:
        self.dial_button = QPushButton(tr("Appeler (Entrée)"))
        self.dial_button.clicked.connect(self.dialRequested)
        self.duration = QTimeEdit()
        self.duration.setDisplayFormat("mm:ss")
        self.duration.setAccessibleName(tr("Durée de l'appel"))
        self.duration.setToolTip(tr("Durée de l'appel : le chronomètre part quand vous "
                                    "appelez ; corrigez-la si besoin"))
        self.duration.timeChanged.connect(self._duration_edited)
        self.channel = QComboBox()
        self.channel.addItem(tr("Appel"), "call")
        self.channel.addItem(tr("SMS"), "sms")
        self.channel.setAccessibleName(tr("Canal"))
        top = QHBoxLayout()
        top.addWidget(self.dial_button)
        duration_label = QLabel(tr("D&urée :"))
        duration_label.setBuddy(self.duration)
        top.addWidget(duration_label)
        top.addWidget(self.duration)
        channel_label = QLabel(tr("Ca&nal :"))
        channel_label.setBuddy(self.channel)
        top.addWidget(channel_label)
        top.addWidget(self.channel)
        top.addStretch(1)

        self.outcome_buttons: dict[str, QPushButton] = {}
        buttons = QHBoxLayout()
        for key, outcome, label in OUTCOMES:
            button = QPushButton(f"&{key}  {tr(label)}")
            button.setToolTip(tr("Touche %1").replace("%1", key))
            button.clicked.connect(lambda _c=False, o=outcome: self.outcomeChosen.emit(o))
            button.setMinimumHeight(button.sizeHint().height() + 6)
            self.outcome_buttons[outcome] = button
            buttons.addWidget(button)

        self.note = QLineEdit()
        self.note.setPlaceholderText(tr("Note (N) : ce qui a été dit, ce qui est convenu…"))
        self.note.setClearButtonEnabled(True)
        self.callback_at = self._datetime_edit(tr("Date et heure du rappel"), lean="future")
        self.callback_at.set_check(self._check_callback)
        self.appointment_at = self._datetime_edit(tr("Date et heure du rendez-vous"),
                                                  lean="future")
        self.appointment_button = QPushButton(tr("Rendez-vous pris (R)"))
        self.appointment_button.clicked.connect(self.appointmentRequested)
        self.referral_button = QPushButton(tr("Orienter… (O)"))
        self.referral_button.setToolTip(tr("Orienter vers un professionnel de santé proche : "
                                           "l'annuaire, pour ce patient"))
        self.referral_button.clicked.connect(self.referralRequested)
        self.declared_button = QPushButton(tr("Déjà fait ailleurs… (E)"))
        self.declared_button.setToolTip(tr("Ce que le patient dit avoir fait hors CareHub : "
                                           "mammographie, vaccin à la pharmacie…"))
        self.declared_button.clicked.connect(self.declaredRequested)
        self.deferred = QCheckBox(tr("Saisie après coup (D) :"))
        self.deferred.setToolTip(tr("Pour reporter la liste papier : l'heure réelle de "
                                    "l'appel"))
        self.deferred_at = self._datetime_edit(tr("Heure réelle de l'appel"), lean="past",
                                               default_time=None)
        self.deferred_at.set_check(self._check_deferred)
        self.deferred_at.setEnabled(False)
        self.deferred.toggled.connect(self.deferred_at.setEnabled)

        form = QGridLayout()
        form.setHorizontalSpacing(8)
        form.setColumnStretch(1, 1)
        note_label = QLabel(tr("&Note :"))
        note_label.setBuddy(self.note)
        form.addWidget(note_label, 0, 0)
        form.addWidget(self.note, 0, 1, 1, 3)
        callback_label = QLabel(tr("Rappeler le (6) :"))
        form.addWidget(callback_label, 1, 0)
        form.addWidget(self.callback_at, 1, 1)
        form.addWidget(self.deferred, 1, 2)
        form.addWidget(self.deferred_at, 1, 3)
        form.addWidget(QLabel(tr("Rendez-vous le :")), 2, 0)
        form.addWidget(self.appointment_at, 2, 1)
        form.addWidget(self.appointment_button, 2, 2)
        form.addWidget(self.referral_button, 2, 3)
        form.addWidget(self.declared_button, 3, 3)

        self.reasons_title = QLabel(tr("Suite de chaque motif (F) :"))
        self.reasons_title.setStyleSheet(f"color: {MUTED};")
        self.reasons_grid = QGridLayout()
        self.reasons_grid.setHorizontalSpacing(8)
        self.reasons_grid.setColumnStretch(0, 1)
        self.reasons_grid.setColumnStretch(3, 1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(6)
        layout.addLayout(top)
        layout.addLayout(buttons)
        layout.addLayout(form)
        layout.addWidget(self.reasons_title)
        layout.addLayout(self.reasons_grid)

    def _datetime_edit(self, name: str, *, lean: Lean,
                       default_time: time | None = DAY_START) -> DateTimeEntry:
        edit = DateTimeEntry(lean=lean, default_time=default_time, clock=self.clock)
        edit.setAccessibleName(name)
        return edit

    def _check_callback(self, at: datetime) -> str | None:
        if at <= naive_local(self.clock()):
            return tr("Cette heure est passée : choisissez une heure de rappel à venir.")
        return None

    def _check_deferred(self, at: datetime) -> str | None:
        if at > naive_local(self.clock()):
            return tr("L'heure de l'appel ne peut pas être dans le futur.")
        return None

    def date_problem(self, outcome: str) -> tuple[QWidget, str] | None:
        """The first date field this outcome needs that cannot be taken, and why."""
        fields: list[DateEntry | DateTimeEntry] = []
        if outcome == "callback":
            fields.append(self.callback_at)
        if self.deferred.isChecked():
            fields.append(self.deferred_at)
        fields += [row.date for row in self.reason_rows
                   if row.settlement in ("done", "postponed")]
        for entry in fields:
            problem = entry.error()
            if problem:
                return entry, problem
        return None

    # -- one patient after the other ------------------------------------------------------

    def reset(self, item: CallListItem | None, *, now: datetime) -> None:
        """A blank form for `item` (kept: the deferred entry's choice and its day)."""
        self.stop_timer()
        self.call_started_at = None
        self._set_duration(0)
        self.note.clear()
        self.channel.setCurrentIndex(1 if item is not None and item.channel == "sms" else 0)
        # A day said without an hour ("demain", "lundi"): the start of the patient's hours.
        self.callback_at.default_time = (item.call_after if item and item.call_after
                                         else DAY_START)
        self.callback_at.set_value(naive_local(default_callback(item, now)))
        tomorrow = (now + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
        self.appointment_at.set_value(naive_local(tomorrow))
        if not self.deferred.isChecked():
            self.deferred_at.set_value(naive_local(now.replace(second=0, microsecond=0)))
        self.deferred_at.recheck()
        self._set_reasons(item, now.date())
        self.setEnabled(item is not None)

    def _set_reasons(self, item: CallListItem | None, today: date) -> None:
        for row in self.reason_rows:
            for widget in row.widgets():
                self.reasons_grid.removeWidget(widget)
                widget.deleteLater()
        self.reason_rows = []
        for index, reason in enumerate(item.reasons if item else ()):
            row = ReasonRow(reason.reminder_id, reason.label_fr, today, self.clock)
            line, half = divmod(index, 2)  # two reasons a line: the card keeps its room
            for column, widget in enumerate(row.widgets()):
                self.reasons_grid.addWidget(widget, line, half * 3 + column)
            self.reason_rows.append(row)
        self.reasons_title.setVisible(bool(self.reason_rows))

    # -- the call timer -------------------------------------------------------------------

    def start_timer(self, now: datetime) -> None:
        self.call_started_at = now
        self._elapsed.start()
        self._ticking = True
        self._set_duration(0)
        self._tick.start()

    def stop_timer(self) -> None:
        self._tick.stop()
        self._ticking = False

    @property
    def timer_running(self) -> bool:
        return self._ticking

    def _show_elapsed(self) -> None:
        self._set_duration(int(self._elapsed.elapsed() // 1000))

    def _set_duration(self, seconds: int) -> None:
        ticking, self._ticking = self._ticking, False  # not a user edit
        seconds = min(seconds, 59 * 60 + 59)
        self.duration.setTime(QTime(0, seconds // 60, seconds % 60))
        self._ticking = ticking

    def _duration_edited(self, _value: QTime) -> None:
        if self._ticking:  # the nurse typed a duration herself: the timer stops filling it
            self.stop_timer()

    def duration_s(self) -> int | None:
        if self._ticking:
            self._show_elapsed()
        value = self.duration.time()
        seconds = value.minute() * 60 + value.second()
        return seconds or None

    # -- reading it -----------------------------------------------------------------------

    def collect(self, outcome: str) -> OutcomeInput:
        done: dict[uuid.UUID, date] = {}
        postponed: dict[uuid.UUID, date] = {}
        declined: list[uuid.UUID] = []
        for row in self.reason_rows:  # date_problem() said every date can be taken
            if row.settlement == "done" and row.on is not None:
                done[row.reminder_id] = row.on
            elif row.settlement == "postponed" and row.on is not None:
                postponed[row.reminder_id] = row.on
            elif row.settlement == "declined":
                declined.append(row.reminder_id)
        if outcome == "refused" and not (done or postponed or declined):
            declined = [row.reminder_id for row in self.reason_rows]  # refuses them all
        deferred_at = self.deferred_at.value() if self.deferred.isChecked() else None
        callback_at = self.callback_at.value() if outcome == "callback" else None
        return OutcomeInput(
            outcome=outcome, channel=str(self.channel.currentData()),
            note=self.note.text().strip() or None, duration_s=self.duration_s(),
            at=_aware(deferred_at) if deferred_at is not None else None,
            callback_at=_aware(callback_at) if callback_at is not None else None,
            done=done, declined=tuple(declined), postpone_until=postponed)

    def appointment_time(self) -> datetime | None:
        """The appointment's date and time as typed, None while it cannot be taken."""
        at = self.appointment_at.value()
        return _aware(at) if at is not None else None
