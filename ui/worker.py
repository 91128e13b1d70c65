"""The one database thread: jobs run there, results come back to the GUI thread.

A job is `Callable[[Session], T]`. Reads get `database.session()`, writes get
`database.transaction()` (one transaction). The result or the exception travels back
through a queued signal and the caller's callbacks run on the GUI thread, so no widget
is ever touched from the worker (the style of Anki's CollectionOp).
"""

from __future__ import annotations

import itertools
import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot
from sqlmodel import Session

from carehub.db import Database
from ui.gui_gc import GuiThreadCollector

log = logging.getLogger(__name__)

Job = Callable[[Session], Any]
SuccessCallback = Callable[[Any], None]
ErrorCallback = Callable[[BaseException], None]


@dataclass
class _Request:
    job_id: int
    job: Job
    write: bool
    on_success: SuccessCallback | None
    on_error: ErrorCallback | None
    result: Any = None
    error: BaseException | None = None
    trace: str = field(default="", repr=False)


class _Executor(QObject):
    """Lives on the worker thread; runs one request at a time, in submission order."""

    finished = Signal(object)

    def __init__(self, database: Database) -> None:
        super().__init__()
        self._database = database

    @Slot(object)
    def run(self, request: _Request) -> None:
        try:
            opener = self._database.transaction if request.write else self._database.session
            with opener() as session:
                request.result = request.job(session)
        except BaseException as exc:  # handed to the GUI thread, never swallowed
            request.error = exc
            request.trace = traceback.format_exc()
        self.finished.emit(request)


def _log_unhandled(exc: BaseException) -> None:
    log.error("database job failed: %r", exc)


class DatabaseWorker(QObject):
    """Owns the worker thread; `submit` from the GUI thread, callbacks on the GUI thread."""

    _requested = Signal(object)
    idle = Signal()  # no job left in flight: tests and the screenshot wait on it

    def __init__(self, database: Database, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.database = database
        self._ids = itertools.count(1)
        self._in_flight = 0
        self._closed = False
        self._thread = QThread()
        self._thread.setObjectName("carehub-db")
        self._executor = _Executor(database)
        self._executor.moveToThread(self._thread)
        # Both connections cross threads, so Qt queues them.
        self._requested.connect(self._executor.run)
        self._executor.finished.connect(self._deliver)
        self._collector = GuiThreadCollector(self)
        self._collector.start()  # no cyclic GC on the worker thread (see ui/gui_gc.py)
        self._thread.start()

    @property
    def busy(self) -> bool:
        return self._in_flight > 0

    def submit(self, job: Job, *, on_success: SuccessCallback | None = None,
               on_error: ErrorCallback | None = None, write: bool = False) -> int:
        """Queue `job`; returns its id. Does nothing once the worker is shut down."""
        if self._closed:
            return 0
        request = _Request(next(self._ids), job, write, on_success, on_error)
        self._in_flight += 1
        self._requested.emit(request)
        return request.job_id

    @Slot(object)
    def _deliver(self, request: _Request) -> None:
        self._in_flight -= 1
        if not self._closed:
            if request.error is None:
                if request.on_success is not None:
                    request.on_success(request.result)
            else:
                if request.trace:
                    log.debug("job %d failed:\n%s", request.job_id, request.trace)
                (request.on_error or _log_unhandled)(request.error)
        if self._in_flight == 0:
            self.idle.emit()

    def shutdown(self) -> None:
        """Finish the running job, drop the queued ones, stop the thread. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._thread.quit()
        self._thread.wait()
        self._collector.stop()
