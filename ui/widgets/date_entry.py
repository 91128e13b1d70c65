"""A date (or date and time) field that takes dates as people say them.

The nurse types "09/12 10h", "demain 14h", "lundi", "+3j", "dans 2 semaines", "mars 2025"…
(read by carehub.dates against the app's clock); under the field she sees the value in
full ("mercredi 9 décembre 2026 à 10:00") before it is taken, or why it cannot be (a
date that does not exist, a call-back in the past), in red. The calendar stays at hand:
the ▾ button, Alt+Bas or F4. Haut/Bas move the date by a day. Entrée or leaving the field
takes the value: the text becomes "09/12/2026 10:00" and `valueChanged` is emitted with
the new `date` (`DateEntry`) or naive local `datetime` (`DateTimeEntry`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Generic, TypeVar

from PySide6.QtCore import QDate, QEvent, QLocale, QObject, QPoint, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QBoxLayout,
    QCalendarWidget,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from carehub.dates import (
    DateInputError,
    Lean,
    MonthDay,
    date_fr,
    datetime_fr,
    read_date,
    read_datetime,
    short_date,
    short_datetime,
)

V = TypeVar("V", date, datetime)
PREVIEW_STYLE = "QLabel { color: #555; }"
ERROR_STYLE = "QLabel { color: #b00020; }"


def _local_now() -> datetime:
    return datetime.now()


def naive_local(moment: datetime) -> datetime:
    """The workstation's wall-clock time of `moment` (aware or naive local)."""
    return moment.astimezone().replace(tzinfo=None) if moment.tzinfo else moment


_FIELD_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Up, Qt.Key.Key_Down,
               Qt.Key.Key_F4)
_PLAIN = Qt.KeyboardModifier.KeypadModifier | Qt.KeyboardModifier.AltModifier


class _CalendarPopup(QFrame):
    """The calendar under the field: Entrée or a click picks the day, Échap closes."""

    picked = Signal(object)  # a date

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent, Qt.WindowType.Popup)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.calendar = QCalendarWidget()
        self.calendar.setLocale(QLocale(QLocale.Language.French, QLocale.Country.France))
        self.calendar.setGridVisible(True)
        self.calendar.setFirstDayOfWeek(Qt.DayOfWeek.Monday)
        self.calendar.setVerticalHeaderFormat(
            QCalendarWidget.VerticalHeaderFormat.NoVerticalHeader)
        self.calendar.activated.connect(self._pick)
        self.calendar.clicked.connect(self._pick)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.calendar)

    def _pick(self, day: QDate) -> None:
        self.hide()
        self.picked.emit(date(day.year(), day.month(), day.day()))

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.hide()
            event.accept()
            return
        super().keyPressEvent(event)


class _DateField(QWidget, Generic[V]):
    """What the two fields share: the line, the calendar button, the value said in full."""

    valueChanged = Signal(object)  # the value taken: a date or a naive local datetime

    def __init__(self, parent: QWidget | None, *, lean: Lean,
                 clock: Callable[[], datetime] | None,
                 check: Callable[[V], str | None] | None, preview_below: bool,
                 placeholder: str) -> None:
        super().__init__(parent)
        self.lean = lean
        self.optional = False  # an empty field is then no date, and no error
        self._clock = clock or _local_now
        self._check: Callable[[V], str | None] | None = check
        self._last: V | None = None
        self.line = QLineEdit()
        self.line.setPlaceholderText(placeholder)
        self.line.setClearButtonEnabled(False)
        self.line.setMinimumWidth(self.line.fontMetrics().horizontalAdvance("00/00/0000 00:00")
                                  + 24)
        self.calendar_button = QToolButton()
        self.calendar_button.setArrowType(Qt.ArrowType.DownArrow)
        self.calendar_button.setToolTip(self.tr("Calendrier (Alt+Bas)"))
        self.calendar_button.setAccessibleName(self.tr("Calendrier"))
        self.calendar_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Alt+Bas from the field
        self.calendar_button.clicked.connect(self.show_calendar)
        self.preview = QLabel()
        self.preview.setWordWrap(preview_below)  # on the right: one line, its own width
        self.preview.setTextFormat(Qt.TextFormat.PlainText)
        self.preview.setStyleSheet(PREVIEW_STYLE)
        small = self.preview.font()
        small.setPointSizeF(max(small.pointSizeF() * 0.9, 7.0))
        self.preview.setFont(small)
        self.popup: _CalendarPopup | None = None

        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(2)
        row.addWidget(self.line, 1)
        row.addWidget(self.calendar_button)
        outer: QBoxLayout = QVBoxLayout(self) if preview_below else QHBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(1 if preview_below else 6)
        outer.addLayout(row)
        outer.addWidget(self.preview, 0 if preview_below else 1)
        self.setFocusProxy(self.line)
        self.line.textEdited.connect(lambda _t: self._show())
        self.line.editingFinished.connect(self.commit)
        self.line.installEventFilter(self)

    # -- what each mode says --------------------------------------------------------------

    def _read(self, text: str) -> V:
        raise NotImplementedError

    def _short(self, value: V) -> str:
        raise NotImplementedError

    def _full(self, value: V) -> str:
        raise NotImplementedError

    def _with_day(self, day: date) -> V:
        """The value for a day picked in the calendar or stepped to with Haut/Bas."""
        raise NotImplementedError

    def _day_of(self, value: V) -> date:
        raise NotImplementedError

    # -- the value ------------------------------------------------------------------------

    def now(self) -> datetime:
        """The reference clock, naive local (relative phrases are read from it)."""
        return naive_local(self._clock())

    def set_clock(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock

    def set_check(self, check: Callable[[V], str | None] | None) -> None:
        """A rule of the field (a call-back in the future…): its French message, or None."""
        self._check = check
        self._show()

    def _reading(self) -> tuple[V | None, str | None]:
        if self.optional and not self.line.text().strip():
            return None, None
        try:
            value = self._read(self.line.text())
        except DateInputError as error:
            return None, error.message_fr
        problem = self._check(value) if self._check is not None else None
        return (None, problem) if problem else (value, None)

    def value(self) -> V | None:
        """The value of the text as it stands, or None when it cannot be taken (or, in an
        optional field, when it is empty)."""
        return self._reading()[0]

    def error(self) -> str | None:
        """Why the text cannot be taken (French), or None."""
        return self._reading()[1]

    def last_value(self) -> V | None:
        """The last value taken (set, or typed and committed)."""
        return self._last

    def text(self) -> str:
        return self.line.text()

    def set_value(self, value: V) -> None:
        """Show `value` as the field's (emits `valueChanged` when it differs)."""
        self.line.setText(self._short(value))
        self._take(value)

    def commit(self) -> None:
        """Take what is typed, if it reads: its short form in the field, and the signal."""
        value = self.value()
        if value is not None:
            shortened = self._short(value)
            if self.line.text() != shortened:
                self.line.setText(shortened)
            self._take(value)
        else:
            self._show()

    def _take(self, value: V) -> None:
        self._show()
        if value != self._last:
            self._last = value
            self.valueChanged.emit(value)

    def _show(self) -> None:
        if not self.isEnabled() or (not self.line.text().strip()
                                    and (self._last is None or self.optional)):
            self.preview.clear()  # a field not in use says nothing
            return
        value, problem = self._reading()
        if value is not None:
            self.preview.setText(self._full(value))
            self.preview.setStyleSheet(PREVIEW_STYLE)
        else:
            self.preview.setText(problem or "")
            self.preview.setStyleSheet(ERROR_STYLE)
        self.line.setToolTip(self.preview.text())

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.EnabledChange:
            self._show()

    def recheck(self) -> None:
        """Say again what the text gives (the clock or a rule of the field has moved)."""
        self._show()

    # -- keys and the calendar ------------------------------------------------------------

    def selectAll(self) -> None:  # Qt's name: the page selects a field's text
        self.line.selectAll()

    def setAccessibleName(self, name: str) -> None:
        super().setAccessibleName(name)
        self.line.setAccessibleName(name)

    def step(self, days: int) -> None:
        base = self.value() or self._last
        start = self._day_of(base) if base is not None else self.now().date()
        self.set_value(self._with_day(start + timedelta(days=days)) if base is not None
                       else self._with_day(start))

    def show_calendar(self) -> None:
        if self.popup is None:
            self.popup = _CalendarPopup(self)
            self.popup.picked.connect(self._picked)
        base = self.value() or self._last
        shown = self._day_of(base) if base is not None else self.now().date()
        self.popup.calendar.setSelectedDate(QDate(shown.year, shown.month, shown.day))
        self.popup.adjustSize()
        self.popup.move(self.line.mapToGlobal(QPoint(0, self.line.height())))
        self.popup.show()
        self.popup.calendar.setFocus(Qt.FocusReason.PopupFocusReason)

    def _picked(self, day: date) -> None:
        self.set_value(self._with_day(day))
        self.line.setFocus(Qt.FocusReason.PopupFocusReason)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.line and event.type() == QEvent.Type.ShortcutOverride \
                and isinstance(event, QKeyEvent) and event.key() in _FIELD_KEYS \
                and not event.modifiers() & ~_PLAIN:
            # Entrée takes the date (then goes on to the dialog or page as usual), before
            # any window shortcut on the same key; Haut/Bas/F4 are the field's.
            event.accept()
            return True
        if watched is self.line and event.type() == QEvent.Type.KeyPress \
                and isinstance(event, QKeyEvent):
            key, mods = event.key(), event.modifiers()
            if key == Qt.Key.Key_F4 or (key == Qt.Key.Key_Down
                                        and mods & Qt.KeyboardModifier.AltModifier):
                self.show_calendar()
                return True
            if key in (Qt.Key.Key_Up, Qt.Key.Key_Down) and not (
                    mods & ~Qt.KeyboardModifier.KeypadModifier):
                self.step(1 if key == Qt.Key.Key_Up else -1)
                return True
        return super().eventFilter(watched, event)


class DateEntry(_DateField[date]):
    """A day: "09/12/2026", "demain", "lundi", "+3j", "dans 2 semaines", "mars 2025" (where
    `month` says whether a month alone stands for its first or its last day)."""

    def __init__(self, parent: QWidget | None = None, *, lean: Lean = "nearest",
                 month: MonthDay | None = None, clock: Callable[[], datetime] | None = None,
                 check: Callable[[date], str | None] | None = None,
                 preview_below: bool = True) -> None:
        self.month = month
        super().__init__(parent, lean=lean, clock=clock, check=check,
                         preview_below=preview_below,
                         placeholder="jj/mm/aaaa, demain, lundi, +3j…")

    def _read(self, text: str) -> date:
        return read_date(text, today=self.now().date(), lean=self.lean, month=self.month).day

    def _full(self, value: date) -> str:
        try:
            reading = read_date(self.line.text(), today=self.now().date(), lean=self.lean,
                                month=self.month)
        except DateInputError:
            reading = None
        if reading is not None and reading.day == value and reading.month_only:
            return reading.text_fr()  # "mars 2025 (samedi 1er mars 2025)"
        return date_fr(value)

    def _short(self, value: date) -> str:
        return short_date(value)

    def _with_day(self, day: date) -> date:
        return day

    def _day_of(self, value: date) -> date:
        return value


class DateTimeEntry(_DateField[datetime]):
    """A day and an hour: "09/12/2026 10:00", "demain 14h", "lundi 9h", "14h30", "dans 2
    heures". A day said without an hour takes `default_time`, or is refused without one."""

    def __init__(self, parent: QWidget | None = None, *, lean: Lean = "nearest",
                 default_time: time | None = None,
                 clock: Callable[[], datetime] | None = None,
                 check: Callable[[datetime], str | None] | None = None,
                 preview_below: bool = True) -> None:
        self.default_time = default_time
        super().__init__(parent, lean=lean, clock=clock, check=check,
                         preview_below=preview_below,
                         placeholder="jj/mm/aaaa hh:mm, demain 14h…")

    def _read(self, text: str) -> datetime:
        return read_datetime(text, now=self.now(), lean=self.lean,
                             default_time=self.default_time)

    def _full(self, value: datetime) -> str:
        return datetime_fr(value)

    def _short(self, value: datetime) -> str:
        return short_datetime(value)

    def _with_day(self, day: date) -> datetime:
        base = self.value() or self._last
        at = (base.time() if base is not None
              else self.default_time or self.now().time().replace(second=0, microsecond=0))
        return datetime.combine(day, at)

    def _day_of(self, value: datetime) -> date:
        return value.date()
