"""While the database thread lives, reference cycles are freed on the GUI thread only."""

from __future__ import annotations

import gc
import threading
from typing import ClassVar

from pytestqt.qtbot import QtBot

from carehub.db import Database
from ui.worker import DatabaseWorker


class _Cycle:
    freed_on: ClassVar[list[str]] = []

    def __init__(self) -> None:
        self.me = self

    def __del__(self) -> None:
        _Cycle.freed_on.append(threading.current_thread().name)


def test_cycles_are_collected_on_the_gui_thread_and_gc_comes_back_after(
        qtbot: QtBot, db: Database) -> None:
    gc.collect()
    _Cycle.freed_on.clear()
    worker = DatabaseWorker(db)
    try:
        assert not gc.isenabled()
        # Garbage made on the database thread, as a job's results and lambdas are.
        with qtbot.waitSignal(worker.idle, timeout=10_000):
            worker.submit(lambda _session: [_Cycle() for _ in range(50)] and None)
        # Enough live allocations to pass the youngest generation's threshold.
        held = [[] for _ in range(gc.get_threshold()[0] * 2)]
        qtbot.waitUntil(lambda: len(_Cycle.freed_on) == 50, timeout=10_000)
        del held
        assert set(_Cycle.freed_on) == {threading.main_thread().name}
    finally:
        worker.shutdown()
    assert gc.isenabled()
