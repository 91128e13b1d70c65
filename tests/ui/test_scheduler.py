"""The app scheduler: triggers arrive on the GUI thread, a sleep is noticed, ids replace."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from pytestqt.qtbot import QtBot

from ui.scheduler import RESUME_GAP_S, AppScheduler


@pytest.fixture
def scheduler(qtbot: QtBot) -> Iterator[AppScheduler]:
    scheduler = AppScheduler()
    scheduler.start()
    yield scheduler
    scheduler.shutdown()


def test_a_one_off_job_fires_on_the_gui_thread_at_its_time(
        qtbot: QtBot, scheduler: AppScheduler) -> None:
    threads: list[threading.Thread] = []
    scheduler.on("callback", lambda: threads.append(threading.current_thread()))
    scheduler.once("callback:42", at=datetime.now().astimezone() + timedelta(milliseconds=300))
    assert scheduler.job_ids("callback") == ["callback:42"]
    with qtbot.waitSignal(scheduler.fired, timeout=5_000) as fired:
        pass
    assert fired.args == ["callback:42"]
    assert threads == [threading.main_thread()]
    assert scheduler.job_ids("callback") == []  # a one-off job is gone once run


def test_scheduling_the_same_id_again_replaces_it(scheduler: AppScheduler) -> None:
    later = datetime.now().astimezone() + timedelta(hours=2)
    scheduler.once("callback:7", at=later)
    scheduler.once("callback:7", at=later + timedelta(hours=1))
    assert scheduler.job_ids() == ["callback:7"]
    next_run = scheduler.next_run("callback:7")
    assert next_run is not None and next_run == later + timedelta(hours=1)
    scheduler.cancel("callback:7")
    assert scheduler.job_ids() == []


def test_an_interval_job_keeps_firing_without_piling_up(
        qtbot: QtBot, scheduler: AppScheduler) -> None:
    seen: list[str] = []
    scheduler.on("sync", lambda: seen.append("sync"))
    scheduler.every("sync", seconds=0.2, first_at=datetime.now().astimezone())
    qtbot.waitUntil(lambda: len(seen) >= 2, timeout=5_000)
    assert scheduler.job_ids() == ["sync"]


def test_a_jump_of_the_wall_clock_is_a_resume_and_a_normal_tick_is_not(qtbot: QtBot) -> None:
    clocks = {"wall": 1_000_000.0, "mono": 50.0}
    scheduler = AppScheduler(wall_clock=lambda: clocks["wall"],
                             monotonic_clock=lambda: clocks["mono"])
    resumed: list[float] = []
    scheduler.resumed.connect(resumed.append)
    clocks["wall"] += 30 + RESUME_GAP_S - 10  # a clock adjustment, not a sleep
    clocks["mono"] += 30
    scheduler.check_resume()
    assert resumed == []
    clocks["wall"] += 30 + 3600  # an hour asleep: the monotonic clock stood still
    clocks["mono"] += 30
    scheduler.check_resume()
    assert resumed == [pytest.approx(3600)]
