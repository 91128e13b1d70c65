"""The app's timed jobs: one APScheduler QtScheduler, and a watch for resume from sleep.

Jobs are triggers only. When one comes due, APScheduler runs it on its thread pool, where
it does nothing but emit `fired(job_id)`; Qt queues that signal to the GUI thread, whose
handler submits any database work to the DatabaseWorker. So no widget and no session is
touched from the pool, and the database stays the truth: jobs live in memory and are
scheduled again from the database at start-up and after a resume (SETUP-NOTES.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from apscheduler.schedulers.qt import QtScheduler
from PySide6.QtCore import QObject, QTimer, Signal, Slot

log = logging.getLogger(__name__)

# Missed runs (a laptop asleep over lunch) collapse into one, never pile up, and still run
# when they are at most this late; anything later is caught up from the database anyway.
MISFIRE_GRACE_S = 6 * 3600
WATCH_INTERVAL_MS = 30_000
# Wall clock ahead of the monotonic clock by more than this: the machine was asleep.
RESUME_GAP_S = 90.0


class AppScheduler(QObject):
    """Interval, daily and one-off triggers on the GUI thread; `resumed` after a sleep."""

    fired = Signal(str)  # a job came due (on the GUI thread)
    resumed = Signal(float)  # the machine slept this many seconds

    _firedInPool = Signal(str)

    def __init__(self, parent: QObject | None = None, *,
                 wall_clock: Callable[[], float] = time.time,
                 monotonic_clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(parent)
        self._handlers: dict[str, Callable[[], None]] = {}
        self._scheduler = QtScheduler(job_defaults={
            "coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE_S})
        self._firedInPool.connect(self._dispatch)  # queued: emitted from the pool's thread
        self._wall_clock = wall_clock
        self._monotonic_clock = monotonic_clock
        self._last_wall = wall_clock()
        self._last_monotonic = monotonic_clock()
        self._watch = QTimer(self)
        self._watch.setInterval(WATCH_INTERVAL_MS)
        self._watch.timeout.connect(self.check_resume)

    # -- life cycle -----------------------------------------------------------------------

    def start(self) -> None:
        if not self._scheduler.running:
            self._scheduler.start()
        self._watch.start()

    def shutdown(self) -> None:
        """Stop the triggers (idempotent); a job already running finishes on its own."""
        self._watch.stop()
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    # -- scheduling -----------------------------------------------------------------------

    def on(self, job_id: str, handler: Callable[[], None]) -> None:
        """Run `handler` on the GUI thread each time `job_id` fires."""
        self._handlers[job_id] = handler

    def every(self, job_id: str, *, seconds: float, first_at: datetime | None = None) -> None:
        self._add(job_id, "interval", seconds=seconds, next_run_time=first_at)

    def daily(self, job_id: str, *, hour: int, minute: int = 0) -> None:
        self._add(job_id, "cron", hour=hour, minute=minute)

    def once(self, job_id: str, *, at: datetime) -> None:
        """Fire at `at` (aware, or local time if naive); replaces a job with the same id."""
        self._add(job_id, "date", run_date=at)

    def cancel(self, job_id: str) -> None:
        if self._scheduler.get_job(job_id) is not None:
            self._scheduler.remove_job(job_id)

    def job_ids(self, prefix: str = "") -> list[str]:
        return sorted(job.id for job in self._scheduler.get_jobs() if job.id.startswith(prefix))

    def next_run(self, job_id: str) -> datetime | None:
        job = self._scheduler.get_job(job_id)
        return None if job is None else job.next_run_time

    def _add(self, job_id: str, trigger: str, **trigger_args: Any) -> None:
        if trigger_args.get("next_run_time", ...) is None:
            del trigger_args["next_run_time"]
        self._scheduler.add_job(self._emit_from_pool, trigger, args=[job_id], id=job_id,
                                replace_existing=True, **trigger_args)

    # -- firing ---------------------------------------------------------------------------

    def _emit_from_pool(self, job_id: str) -> None:
        self._firedInPool.emit(job_id)

    @Slot(str)
    def _dispatch(self, job_id: str) -> None:
        handler = self._handlers.get(job_id) or self._handlers.get(job_id.split(":", 1)[0])
        if handler is not None:
            try:
                handler()
            except Exception:  # one faulty handler must not stop the others
                log.exception("scheduled job %s failed", job_id)
        self.fired.emit(job_id)

    def check_resume(self) -> None:
        """Compare the clocks: suspended time moves the wall clock, not the monotonic one."""
        wall, monotonic = self._wall_clock(), self._monotonic_clock()
        gap = (wall - self._last_wall) - (monotonic - self._last_monotonic)
        self._last_wall, self._last_monotonic = wall, monotonic
        if gap > RESUME_GAP_S:
            log.info("resumed after %.0f s asleep", gap)
            self._scheduler.wakeup()  # jobs due while asleep run now (coalesced)
            self.resumed.emit(gap)
