"""What the nurse records about a call: the outcome keys, note, duration, next steps.

The form holds no database logic: it collects what was typed into an `OutcomeInput` and
the page sends that to `record_call_outcome` on the worker. The call timer starts when
the nurse dials and fills the duration each second until she edits it herself.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from PySide6.QtCore import QDate, QDateTime, QElapsedTimer, QTime, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDateTimeEdit,
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

from carehub.prevention.services import CallListItem
from ui.my_day.texts import tr
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


def _aware(value: QDateTime) -> datetime:
    return value.toPython().replace(second=0, microsecond=0).astimezone()  # type: ignore[no-any-return]


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

    def __init__(self, reminder_id: uuid.UUID, label: str, today: date) -> None:
        self.reminder_id = reminder_id
        self.label = QLabel(label)
        self.combo = QComboBox()
        for text, value in SETTLEMENTS:
            self.combo.addItem(tr(text), value)
        self.combo.setAccessibleName(tr("Suite pour : %1").replace("%1", label))
        self.date = QDateEdit(QDate(today))
        self.date.setDisplayFormat("dd/MM/yyyy")
        self.date.setCalendarPopup(True)
        self.date.setAccessibleName(tr("Date pour : %1").replace("%1", label))
        self.date.setVisible(False)  # shown for "done on" and "postponed to"
        self.today = today
        self.combo.currentIndexChanged.connect(self._changed)

    def _changed(self, _index: int) -> None:
        value = self.combo.currentData()
        self.date.setVisible(value in ("done", "postponed"))
        if value == "done":
            self.date.setMaximumDate(QDate(self.today))
            self.date.setMinimumDate(QDate(self.today.year - 30, 1, 1))
            self.date.setDate(QDate(self.today))
        elif value == "postponed":
            self.date.setMaximumDate(QDate(self.today.year + 10, 12, 31))
            self.date.setMinimumDate(QDate(self.today + timedelta(days=1)))
            self.date.setDate(QDate(self.today + timedelta(days=POSTPONE_DAYS)))

    @property
    def settlement(self) -> str | None:
        value = self.combo.currentData()
        return value if isinstance(value, str) else None

    @property
    def on(self) -> date:
        return self.date.date().toPython()  # type: ignore[no-any-return]

    def widgets(self) -> tuple[QWidget, QWidget, QWidget]:
        return self.label, self.combo, self.date


class OutcomeForm(QFrame):
    """Buttons 1–6, note, duration (call timer), channel, next steps, per-reason settlement."""

    outcomeChosen = Signal(str)  # an outcome key or button (the page records it)
    dialRequested = Signal()  # "Appeler"
    appointmentRequested = Signal()  # "Rendez-vous pris" (Entrée in its date field)
    referralRequested = Signal()  # "Orienter vers…"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
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
        self.callback_at = self._datetime_edit(tr("Date et heure du rappel"))
        self.appointment_at = self._datetime_edit(tr("Date et heure du rendez-vous"))
        self.appointment_button = QPushButton(tr("Rendez-vous pris (R)"))
        self.appointment_button.clicked.connect(self.appointmentRequested)
        self.referral_button = QPushButton(tr("Orienter… (O)"))
        self.referral_button.setToolTip(tr("Orienter vers un professionnel de santé proche : "
                                           "l'annuaire, pour ce patient"))
        self.referral_button.clicked.connect(self.referralRequested)
        self.deferred = QCheckBox(tr("Saisie après coup (D) :"))
        self.deferred.setToolTip(tr("Pour reporter la liste papier : l'heure réelle de "
                                    "l'appel"))
        self.deferred_at = self._datetime_edit(tr("Heure réelle de l'appel"))
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

    def _datetime_edit(self, name: str) -> QDateTimeEdit:
        edit = QDateTimeEdit()
        edit.setDisplayFormat("dd/MM/yyyy HH:mm")
        edit.setCalendarPopup(True)
        edit.setAccessibleName(name)
        return edit

    # -- one patient after the other ------------------------------------------------------

    def reset(self, item: CallListItem | None, *, now: datetime) -> None:
        """A blank form for `item` (kept: the deferred entry's choice and its day)."""
        self.stop_timer()
        self.call_started_at = None
        self._set_duration(0)
        self.note.clear()
        self.channel.setCurrentIndex(1 if item is not None and item.channel == "sms" else 0)
        self.callback_at.setDateTime(QDateTime(default_callback(item, now).replace(tzinfo=None)))
        tomorrow = (now + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
        self.appointment_at.setDateTime(QDateTime(tomorrow.replace(tzinfo=None)))
        self.deferred_at.setMaximumDateTime(QDateTime(now.replace(tzinfo=None)))
        if not self.deferred.isChecked():
            self.deferred_at.setDateTime(QDateTime(now.replace(second=0, microsecond=0,
                                                               tzinfo=None)))
        self._set_reasons(item, now.date())
        self.setEnabled(item is not None)

    def _set_reasons(self, item: CallListItem | None, today: date) -> None:
        for row in self.reason_rows:
            for widget in row.widgets():
                self.reasons_grid.removeWidget(widget)
                widget.deleteLater()
        self.reason_rows = []
        for index, reason in enumerate(item.reasons if item else ()):
            row = ReasonRow(reason.reminder_id, reason.label_fr, today)
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
        for row in self.reason_rows:
            if row.settlement == "done":
                done[row.reminder_id] = row.on
            elif row.settlement == "postponed":
                postponed[row.reminder_id] = row.on
            elif row.settlement == "declined":
                declined.append(row.reminder_id)
        if outcome == "refused" and not (done or postponed or declined):
            declined = [row.reminder_id for row in self.reason_rows]  # refuses them all
        return OutcomeInput(
            outcome=outcome, channel=str(self.channel.currentData()),
            note=self.note.text().strip() or None, duration_s=self.duration_s(),
            at=_aware(self.deferred_at.dateTime()) if self.deferred.isChecked() else None,
            callback_at=_aware(self.callback_at.dateTime()) if outcome == "callback" else None,
            done=done, declined=tuple(declined), postpone_until=postponed)

    def appointment_time(self) -> datetime:
        return _aware(self.appointment_at.dateTime())
