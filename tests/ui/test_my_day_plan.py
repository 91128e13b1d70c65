"""Ma journée and the contact plan through the real widgets, with the keys: the start of
day said while it is computed, « Déjà fait ailleurs » (E), « Semaines à venir » (W) with
a patient moved to another day (Ctrl+D) and the capacity (Ctrl+K)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from sqlalchemy import text
from sqlmodel import col, select

from carehub.db import Database
from carehub.prevention.models import Reminder
from carehub.prevention.plan import get_capacity, set_capacity
from tests.prevention_helpers import add_patient
from tests.ui import grab
from ui.main_window import MainWindow
from ui.my_day import MyDayPage


@pytest.fixture
def patient_ids(db: Database) -> list[uuid.UUID]:
    """Five women of 70 followed by alice, with flu, COVID, frailty... due and no history."""
    with db.transaction() as session:
        ids = [add_patient(session, f"Patiente{n}", born=date(1956, 1, 1), manager="alice",
                           fragility=n % 3, given="Jeanne") for n in range(5)]
        set_capacity(session, user="alice", per_day=2, days="mon,tue,wed,thu,fri,sat,sun",
                     actor="alice")
    return ids


@pytest.fixture
def window(qtbot: QtBot, db: Database, patient_ids: list[uuid.UUID]
           ) -> Iterator[MainWindow]:
    window = MainWindow(db, user="alice")
    qtbot.addWidget(window)
    page = day_page(window)
    with qtbot.waitSignal(page.dayReady, timeout=30_000):
        window.show()
        window.start()
    qtbot.waitUntil(lambda: not window.worker.busy, timeout=10_000)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    yield window
    window.shutdown()


def day_page(window: MainWindow) -> MyDayPage:
    page = window.my_day  # type: ignore[attr-defined]
    assert isinstance(page, MyDayPage)
    return page


def test_the_start_of_day_is_said_until_the_day_is_ready(
        qtbot: QtBot, db: Database, patient_ids: list[uuid.UUID]) -> None:
    window = MainWindow(db, user="alice")
    qtbot.addWidget(window)
    page = day_page(window)
    seen: list[tuple[bool, str, str]] = []
    page.jobs.recomputeStarted.connect(lambda: seen.append(
        (page.preparing_panel.isVisibleTo(page), page.count_label.text(),
         page.card.placeholder.text())))
    with qtbot.waitSignal(page.dayReady, timeout=30_000) as ready:
        window.show()
        window.start()
    assert seen == [(True, "Préparation de la journée…", "Préparation de la journée…")]
    assert ready.args == [2]  # her capacity: 2 of the 5 due today
    assert not page.preparing and not page.preparing_panel.isVisibleTo(page)
    assert page.count_label.text() == "2 personnes à contacter aujourd'hui"
    window.shutdown()


def test_e_records_an_act_done_elsewhere_in_a_few_keys(
        qtbot: QtBot, window: MainWindow, db: Database) -> None:
    page = day_page(window)
    page.table.setFocus()
    qtbot.keyClick(page.table, Qt.Key.Key_Home)
    qtbot.waitUntil(lambda: page.current_item() is not None)
    item = page.current_item()
    assert item is not None
    card = page.card.findChildren(object)  # the card says what to ask
    assert card
    qtbot.keyClick(page.table, Qt.Key.Key_E)
    dialog = page.declared
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(dialog.isActiveWindow)
    first = next(r for r in item.reasons if r.history_unknown)
    assert dialog.reason.currentData() == first.code  # her unknown reasons first
    qtbot.keyClick(dialog.reason, Qt.Key.Key_Tab)  # Réponse: Fait
    qtbot.keyClick(dialog.answer, Qt.Key.Key_Tab)  # Date (month and year)
    editor = dialog.when
    assert editor.hasFocus()
    qtbot.keyClicks(editor, "032025")
    grab(dialog, "declared")
    with qtbot.waitSignal(dialog.recorded, timeout=10_000) as recorded:
        qtbot.keyClick(editor, Qt.Key.Key_Return)
    assert recorded.args[0].settled
    assert "mars 2025" in dialog.log.text()
    with db.session() as session:
        row = session.exec(select(Reminder).where(
            Reminder.patient_id == item.patient_id, Reminder.reason == first.code,
            col(Reminder.state) == "done")).one()
        assert row.closed_on is not None and (row.closed_on.year, row.closed_on.month) == (
            2025, 3)
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert not dialog.isVisible()


def test_w_shows_the_weeks_ahead_and_moves_a_patient_to_another_day(
        qtbot: QtBot, window: MainWindow, db: Database) -> None:
    page = day_page(window)
    with qtbot.waitSignal(page.listShown, timeout=10_000):
        page.reload()
    page.table.setFocus()
    qtbot.keyClick(page.table, Qt.Key.Key_W)
    weeks = page.weeks
    assert weeks is not None
    qtbot.waitUntil(weeks.isActiveWindow)
    qtbot.waitUntil(lambda: weeks.plan is not None, timeout=10_000)
    assert weeks.days.item(0, 1).text() == "2 / 2"
    assert weeks.days.item(1, 1).text() == "2 / 2" and weeks.days.item(2, 1).text() == "1 / 2"
    assert "5 patients planifiés" in weeks.summary.text()
    grab(weeks, "weeks")
    # Today's first patient, to the day after tomorrow (the date field is the next day's).
    weeks.days.setFocus()
    qtbot.keyClick(weeks.days, Qt.Key.Key_Home)
    moved = weeks.selected_patient()
    assert moved is not None
    weeks.move_to.setDate(weeks.move_to.date().addDays(1))
    target = weeks.move_to.date().toPython()
    with qtbot.waitSignal(weeks.moved, timeout=10_000), \
            qtbot.waitSignal(page.listShown, timeout=10_000):
        qtbot.keyClick(weeks.days, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not window.worker.busy, timeout=10_000)
    assert moved not in [i.patient_id for i in page.model.items]
    with db.session() as session:
        day = session.connection().execute(text(
            "SELECT day FROM plan_assignment WHERE patient_id = :p"), {"p": moved.hex}).scalar()
    assert date.fromisoformat(day) == target == date.today() + timedelta(days=2)
    # Ctrl+K: her capacity, typed.
    qtbot.keyClick(weeks.days, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    capacity = weeks.capacity_dialog
    qtbot.waitUntil(capacity.isActiveWindow)
    assert capacity.per_day.hasFocus()
    qtbot.keyClicks(capacity.per_day, "12")
    with qtbot.waitSignal(weeks.capacityChanged, timeout=10_000), \
            qtbot.waitSignal(weeks.planShown, timeout=10_000):
        qtbot.keyClick(capacity.per_day, Qt.Key.Key_Return)
    with db.session() as session:
        assert get_capacity(session, user="alice").per_day == 12
    assert weeks.days.item(0, 1).text().endswith("/ 12")
