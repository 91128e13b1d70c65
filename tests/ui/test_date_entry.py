"""The date fields (ui/date_entry.py) as a nurse uses them: typed, said back, refused, the
calendar at hand, with the keyboard only, on real widgets offscreen."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication, QLineEdit, QVBoxLayout, QWidget
from pytestqt.qtbot import QtBot

from tests.ui import grab
from ui.widgets.date_entry import DateEntry, DateTimeEntry

NOW = datetime(2026, 12, 7, 15, 20)  # a Monday afternoon: the app's clock in these tests
PAST = "Cette heure est passée : choisissez une heure de rappel à venir."


def _future(at: datetime) -> str | None:
    return PAST if at <= NOW else None


class Form(QWidget):
    """A call-back (ahead, 9:00 when no hour is said), a day done (back, a month will do),
    and a field after them for Tab to go to."""

    def __init__(self) -> None:
        super().__init__()
        self.callback = DateTimeEntry(lean="future", default_time=time(9, 0),
                                      clock=lambda: NOW, check=_future)
        self.callback.setAccessibleName("Date et heure du rappel")
        self.done = DateEntry(lean="past", month="start", clock=lambda: NOW)
        self.after = QLineEdit()
        layout = QVBoxLayout(self)
        for widget in (self.callback, self.done, self.after):
            layout.addWidget(widget)
        self.callback.set_value(datetime(2026, 12, 7, 17, 30))
        self.done.set_value(NOW.date())


@pytest.fixture
def form(qtbot: QtBot) -> Iterator[Form]:
    widget = Form()
    qtbot.addWidget(widget)
    widget.resize(420, 220)
    widget.show()
    qtbot.waitExposed(widget)
    widget.activateWindow()
    yield widget


def type_in(qtbot: QtBot, widget: QWidget, text: str) -> None:
    """Key presses, accented letters too (QTest's own key clicks know only ASCII)."""
    for char in text:
        if char.isascii():
            qtbot.keyClick(widget, char)
            continue
        for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            QApplication.sendEvent(widget, QKeyEvent(kind, 0, Qt.KeyboardModifier.NoModifier,
                                                     char))


def retype(qtbot: QtBot, field: DateEntry | DateTimeEntry, text: str) -> None:
    """Select the field as the keyboard would (its text all selected) and type over it."""
    field.setFocus()
    field.selectAll()
    type_in(qtbot, field.line, text)


def test_typing_a_full_date_and_time_over_the_selected_field_sets_it(
        qtbot: QtBot, form: Form) -> None:
    field = form.callback
    retype(qtbot, field, "09/12/2026 10:00")
    assert field.value() == datetime(2026, 12, 9, 10, 0)
    assert field.preview.text() == "mercredi 9 décembre 2026 à 10:00"  # before it is taken
    with qtbot.waitSignal(field.valueChanged) as changed:
        qtbot.keyClick(field.line, Qt.Key.Key_Return)
    assert changed.args == [datetime(2026, 12, 9, 10, 0)]
    assert field.text() == "09/12/2026 10:00" and field.last_value() == changed.args[0]
    grab(form, "date_entry")


@pytest.mark.parametrize(("said", "shown", "value"), [
    ("09/12 10h", "09/12/2026 10:00", datetime(2026, 12, 9, 10, 0)),
    ("9/12/26 10:00", "09/12/2026 10:00", datetime(2026, 12, 9, 10, 0)),
    ("demain 14h", "08/12/2026 14:00", datetime(2026, 12, 8, 14, 0)),
    ("après-demain", "09/12/2026 09:00", datetime(2026, 12, 9, 9, 0)),
    ("lundi", "14/12/2026 09:00", datetime(2026, 12, 14, 9, 0)),
    ("+3j", "10/12/2026 09:00", datetime(2026, 12, 10, 9, 0)),
    ("dans 2 semaines 11h", "21/12/2026 11:00", datetime(2026, 12, 21, 11, 0)),
    ("16h30", "07/12/2026 16:30", datetime(2026, 12, 7, 16, 30)),
    ("10:00", "08/12/2026 10:00", datetime(2026, 12, 8, 10, 0)),  # 10:00 has passed
    ("dans 2 heures", "07/12/2026 17:20", datetime(2026, 12, 7, 17, 20)),
])
def test_relative_phrases_in_the_call_back(qtbot: QtBot, form: Form, said: str, shown: str,
                                           value: datetime) -> None:
    field = form.callback
    retype(qtbot, field, said)
    assert field.error() is None and field.value() == value
    with qtbot.waitSignal(field.valueChanged) as changed:
        qtbot.keyClick(field.line, Qt.Key.Key_Tab)  # leaving the field takes it too
    assert changed.args == [value]
    assert field.text() == shown and form.done.hasFocus()


@pytest.mark.parametrize(("said", "message"), [
    ("hier 10h", PAST),
    ("07/12/2026 15:00", PAST),
    ("31/02/2027 10h", "Le 31/02/2027 n'existe pas."),
    ("25h", "L'heure 25:00 n'existe pas (de 0:00 à 23:59)."),
    ("bientôt", "« bientôt » n'est pas une date reconnue. Par exemple : 09/12/2026 10:00, "
                "demain 14h, lundi, +3j, dans 2 semaines."),
])
def test_an_invalid_or_past_call_back_is_said_next_to_the_field_and_not_taken(
        qtbot: QtBot, form: Form, said: str, message: str) -> None:
    field = form.callback
    with qtbot.assertNotEmitted(field.valueChanged):
        retype(qtbot, field, said)
        assert field.preview.text() == message
        assert field.preview.isVisible()
        qtbot.keyClick(field.line, Qt.Key.Key_Return)
    assert field.value() is None and field.error() == message
    assert field.text() == said  # kept as typed, to be corrected
    assert field.last_value() == datetime(2026, 12, 7, 17, 30)
    grab(form, "date_entry_refused")


def test_a_day_only_field_with_month_precision(qtbot: QtBot, form: Form) -> None:
    field = form.done
    retype(qtbot, field, "mars 2025")
    assert field.preview.text() == "mars 2025 (samedi 1er mars 2025)"
    with qtbot.waitSignal(field.valueChanged) as changed:
        qtbot.keyClick(field.line, Qt.Key.Key_Return)
    assert changed.args == [date(2025, 3, 1)] and field.text() == "01/03/2025"
    retype(qtbot, field, "il y a 3 semaines")
    assert field.preview.text() == "lundi 16 novembre 2026"
    retype(qtbot, field, "lundi")  # looks back: the last Monday
    assert field.value() == date(2026, 11, 30)
    retype(qtbot, field, "demain 14h")
    assert field.preview.text().startswith("Ici, une date sans heure")
    field.month = None  # a field where the day is needed
    retype(qtbot, field, "mars 2025")
    assert field.error() == ("Précisez le jour : « mars 2025 » ne suffit pas ici "
                             "(par exemple « 15/03/2025 »).")


def test_the_calendar_opens_from_the_keyboard_and_picks_a_day(qtbot: QtBot,
                                                            form: Form) -> None:
    field = form.callback
    field.setFocus()
    qtbot.keyClick(field.line, Qt.Key.Key_F4)
    popup = field.popup
    assert popup is not None and popup.isVisible()
    assert popup.calendar.selectedDate().toPython() == date(2026, 12, 7)
    assert popup.calendar.locale().name() == "fr_FR"
    grab(popup, "date_entry_calendar")
    days = QApplication.focusWidget()  # the calendar's grid has the keyboard
    assert days is not None and popup.isAncestorOf(days)
    qtbot.keyClick(days, Qt.Key.Key_Right)
    qtbot.keyClick(days, Qt.Key.Key_Down)  # a week on: Tuesday 15
    with qtbot.waitSignal(field.valueChanged) as changed:
        qtbot.keyClick(days, Qt.Key.Key_Return)
    assert changed.args == [datetime(2026, 12, 15, 17, 30)]  # the hour is kept
    assert not popup.isVisible() and field.hasFocus()
    assert field.text() == "15/12/2026 17:30"
    assert field.preview.text() == "mardi 15 décembre 2026 à 17:30"
    # Alt+Bas opens it too; Échap closes it and changes nothing.
    qtbot.keyClick(field.line, Qt.Key.Key_Down, Qt.KeyboardModifier.AltModifier)
    assert popup.isVisible()
    with qtbot.assertNotEmitted(field.valueChanged):
        days = QApplication.focusWidget()
        assert days is not None and popup.isAncestorOf(days)
        qtbot.keyClick(days, Qt.Key.Key_Right)
        qtbot.keyClick(days, Qt.Key.Key_Escape)
    assert not popup.isVisible() and field.text() == "15/12/2026 17:30"


def test_the_calendar_button_is_there_and_opens_it(qtbot: QtBot, form: Form) -> None:
    field = form.done
    assert field.calendar_button.isVisible()
    qtbot.mouseClick(field.calendar_button, Qt.MouseButton.LeftButton)
    assert field.popup is not None and field.popup.isVisible()
    field.popup.hide()


def test_up_and_down_move_the_day(qtbot: QtBot, form: Form) -> None:
    field = form.done
    field.setFocus()
    with qtbot.waitSignal(field.valueChanged) as changed:
        qtbot.keyClick(field.line, Qt.Key.Key_Down)
    assert changed.args == [date(2026, 12, 6)] and field.text() == "06/12/2026"
    qtbot.keyClick(field.line, Qt.Key.Key_Up)
    qtbot.keyClick(field.line, Qt.Key.Key_Up)
    assert field.value() == date(2026, 12, 8)


def test_a_disabled_field_says_nothing_and_the_accessible_name_is_the_line_s(
        qtbot: QtBot, form: Form) -> None:
    field = form.callback
    assert field.line.accessibleName() == "Date et heure du rappel"
    assert field.preview.text() == "lundi 7 décembre 2026 à 17:30"
    field.setEnabled(False)
    assert field.preview.text() == ""
    field.setEnabled(True)
    assert field.preview.text() == "lundi 7 décembre 2026 à 17:30"


def test_an_empty_field_asks_for_a_date(qtbot: QtBot, form: Form) -> None:
    field = form.callback
    retype(qtbot, field, "x")
    qtbot.keyClick(field.line, Qt.Key.Key_Backspace)
    assert field.text() == "" and field.value() is None
    assert field.preview.text().startswith("Saisissez une date")


def test_a_day_without_an_hour_is_refused_where_there_is_no_default(qtbot: QtBot) -> None:
    field = DateTimeEntry(lean="past", clock=lambda: NOW)
    qtbot.addWidget(field)
    field.show()
    retype(qtbot, field, "hier")
    assert field.error() == ("Précisez l'heure : par exemple « 06/12 14h » "
                             "ou « 06/12/2026 10:00 ».")
    retype(qtbot, field, "hier 11h")
    assert field.value() == datetime(2026, 12, 6, 11, 0)


def test_an_optional_field_left_empty_is_no_date_and_no_error(qtbot: QtBot) -> None:
    field = DateEntry(lean="past", month="start", clock=lambda: NOW)
    field.optional = True
    qtbot.addWidget(field)
    field.show()
    assert (field.value(), field.error(), field.preview.text()) == (None, None, "")
    retype(qtbot, field, "il y a 3 mois")
    assert field.value() == date(2026, 9, 7) and field.preview.text() == "lundi 7 septembre 2026"
    field.selectAll()
    qtbot.keyClick(field.line, Qt.Key.Key_Delete)
    assert (field.value(), field.error(), field.preview.text()) == (None, None, "")
