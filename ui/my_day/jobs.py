"""Ma journée's timed jobs on the app scheduler, and the call-back notifications.

- Start of the day: `recompute_reminders` for today on the worker, then the list reloads.
  It runs daily at START_OF_DAY_HOUR, once when the scheduler starts (the catch-up at
  start-up) and after the machine resumes from sleep.
- Planned call-backs: one one-off job per call-back in the database
  (`myday-callback:<patient id>`), rebuilt from the database after every recompute,
  every recorded outcome and every resume. When one fires, the system tray shows a
  message (or, without a tray, e.g. offscreen, the page and the status bar do) and the
  line is highlighted.
- Every REFRESH_S the list and the call-backs are read again (the order follows the hour).

The jobs themselves only trigger: every database read or write goes to the worker.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QStyle, QSystemTrayIcon
from sqlmodel import Session

from carehub.caseload.services import caseload_ids
from carehub.prevention.services import (
    CallListItem,
    RecomputeReport,
    due_callbacks,
    recompute_reminders,
)
from carehub.users.access import covered_caseloads
from ui.my_day.texts import moment_text, tr
from ui.scheduler import AppScheduler
from ui.worker import DatabaseWorker

log = logging.getLogger(__name__)

RECOMPUTE_JOB = "myday-recompute"
REFRESH_JOB = "myday-refresh"
CALLBACK_PREFIX = "myday-callback:"
START_OF_DAY_HOUR = 5  # before anyone's day; a laptop asleep then catches up on resume
# The list's order follows the hour (call after 14:00...) and call-backs may arrive from
# elsewhere (the command line, a sync): both are read again from the database this often.
REFRESH_S = 10 * 60
CALLBACK_HORIZON = timedelta(days=2)  # call-backs scheduled ahead; rebuilt daily anyway
LATE_CALLBACK_WINDOW = timedelta(hours=12)  # an older missed call-back is only listed


@dataclass(frozen=True)
class Callback:
    patient_id: uuid.UUID
    name: str
    at: datetime  # aware

    @property
    def job_id(self) -> str:
        return f"{CALLBACK_PREFIX}{self.patient_id}"


def _lists_of(session: Session, user: str, day: date) -> list[str]:
    """Whose call lists she works that day: hers, and those of the colleagues she covers."""
    return [user, *(name for name, _ in covered_caseloads(session, user=user, on=day))]


def callbacks_from(items: list[CallListItem]) -> list[Callback]:
    return [Callback(item.patient_id, item.name, item.planned_at) for item in items
            if item.planned_at is not None]


class CallbackNotifier(QObject):
    """Tells the nurse a call-back is due: the system tray when there is one."""

    messageClicked = Signal()

    def __init__(self, parent: QObject | None = None, *, icon: QIcon | None = None) -> None:
        super().__init__(parent)
        self.tray: QSystemTrayIcon | None = None
        if QSystemTrayIcon.isSystemTrayAvailable():
            if icon is None or icon.isNull():
                style = QApplication.style()
                icon = style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxInformation)
            self.tray = QSystemTrayIcon(icon, self)
            self.tray.setToolTip("CareHub")
            self.tray.messageClicked.connect(self.messageClicked)
            self.tray.activated.connect(lambda _reason: self.messageClicked.emit())
            self.tray.show()

    @property
    def has_tray(self) -> bool:
        return self.tray is not None

    def notify(self, title: str, message: str) -> bool:
        """True when the tray showed it; False: the caller shows it in the window."""
        if self.tray is None or not QSystemTrayIcon.supportsMessages():
            return False
        self.tray.showMessage(title, message, QSystemTrayIcon.MessageIcon.Information, 15_000)
        return True


class DayJobs(QObject):
    """The scheduler glue of Ma journée; `today` and `now` are the page's clocks."""

    refreshDue = Signal()  # time to read the list again (the hour moved on)
    recomputeStarted = Signal()  # the reminders are being recomputed on the worker
    recomputed = Signal(object)  # RecomputeReport, after the reminders were recomputed
    recomputeFailed = Signal(object)  # the exception
    callbacksScheduled = Signal(list)  # the Callback list now on the scheduler
    callbackDue = Signal(object)  # a Callback whose hour has come (on the GUI thread)

    def __init__(self, scheduler: AppScheduler, worker: DatabaseWorker, *, user: str,
                 today: Callable[[], date], now: Callable[[], datetime],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.scheduler = scheduler
        self.worker = worker
        self.user = user
        self.today = today
        self.now = now
        self._scheduled: dict[str, Callback] = {}
        self._notified: set[tuple[uuid.UUID, datetime]] = set()
        self._recomputing = False
        self._recompute_again = False
        scheduler.on(RECOMPUTE_JOB, self.recompute)
        scheduler.on(REFRESH_JOB, self._refresh)
        scheduler.fired.connect(self._on_fired)
        scheduler.resumed.connect(self._on_resumed)

    def install(self) -> None:
        """The daily job, and a catch-up run as soon as the scheduler starts."""
        self.scheduler.daily(RECOMPUTE_JOB, hour=START_OF_DAY_HOUR)
        self.scheduler.once(f"{RECOMPUTE_JOB}:startup", at=self.now())
        self.scheduler.every(REFRESH_JOB, seconds=REFRESH_S)

    def _refresh(self) -> None:
        self.refreshDue.emit()
        self.rebuild_callbacks()

    # -- start-of-day recomputation -------------------------------------------------------

    def recompute(self) -> None:
        """Recompute today's reminders on the worker; one run at a time, a second queued."""
        if self._recomputing:
            self._recompute_again = True
            return
        self._recomputing = True
        as_of, user = self.today(), self.user

        def job(session: Session) -> RecomputeReport:
            # Only her own caseload and those she covers today: a workstation may also
            # hold colleagues' patients (pulled from the hub); their reminders are theirs
            # to compute, and a whole team's recompute would hold the database thread.
            ids = [pid for owner in _lists_of(session, user, as_of)
                   for pid in caseload_ids(session, user=owner)]
            return recompute_reminders(session, as_of=as_of, actor=user, patient_ids=ids)

        self.worker.submit(job, write=True, on_success=self._recomputed,
                           on_error=self._recompute_failed)
        self.recomputeStarted.emit()

    def _recomputed(self, report: RecomputeReport) -> None:
        self._finish_recompute()
        self.recomputed.emit(report)
        self.rebuild_callbacks()

    def _recompute_failed(self, exc: BaseException) -> None:
        log.error("recomputing the reminders failed: %r", exc)
        self._finish_recompute()
        self.recomputeFailed.emit(exc)

    def _finish_recompute(self) -> None:
        self._recomputing = False
        if self._recompute_again:
            self._recompute_again = False
            self.recompute()

    def _on_resumed(self, _gap: float) -> None:
        self.recompute()  # the day may have changed; rebuilds the call-backs after

    # -- planned call-backs ---------------------------------------------------------------

    def rebuild_callbacks(self) -> None:
        """One one-off job per planned call-back in the database; stale ones cancelled."""
        user, now = self.user, self.now()

        def job(session: Session) -> list[Callback]:
            # Hers, and those promised to the patients of a colleague she covers today.
            found = [item for owner in _lists_of(session, user, now.date())
                     for item in due_callbacks(session, user=owner, now=now,
                                               within=CALLBACK_HORIZON)]
            return callbacks_from(found)

        self.worker.submit(job, on_success=self._schedule,
                           on_error=lambda exc: log.error("loading call-backs failed: %r", exc))

    def _schedule(self, callbacks: list[Callback]) -> None:
        now = self.now()
        wanted = {c.job_id: c for c in callbacks
                  if c.at >= now - LATE_CALLBACK_WINDOW
                  and (c.patient_id, c.at) not in self._notified}
        for job_id in self.scheduler.job_ids(CALLBACK_PREFIX):
            if job_id not in wanted:
                self.scheduler.cancel(job_id)
        for job_id, callback in wanted.items():
            if self._scheduled.get(job_id) != callback or self.scheduler.next_run(job_id) is None:
                self.scheduler.once(job_id, at=max(callback.at, now))
        self._scheduled = wanted
        self.callbacksScheduled.emit(sorted(wanted.values(), key=lambda c: c.at))

    def scheduled(self) -> list[Callback]:
        return sorted(self._scheduled.values(), key=lambda c: c.at)

    def _on_fired(self, job_id: str) -> None:
        if not job_id.startswith(CALLBACK_PREFIX):
            return
        callback = self._scheduled.pop(job_id, None)
        if callback is None:
            return
        self._notified.add((callback.patient_id, callback.at))
        self.callbackDue.emit(callback)


def callback_message(callback: Callback, *, today: date) -> tuple[str, str]:
    """The notification's title and text."""
    return (tr("Rappel prévu : %1").replace("%1", callback.name),
            tr("Rappeler %1 (prévu à %2).").replace("%1", callback.name)
            .replace("%2", moment_text(callback.at, today=today)))
