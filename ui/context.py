"""What a screen may use of the app: the worker, the acting user, the clock, navigation, menus.

A screen's `install_*(ctx)` receives an `AppContext`, never the main window: it reaches the
database through `ctx.worker`, adds its entries to the menus the main window owns, and asks
for another page or patient through the context. The main window (ui/main_window.py) builds
the one context of the app and does, as the `Shell`, what the context asks of it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Literal, Protocol

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMainWindow, QWidget

from ui.scheduler import AppScheduler
from ui.worker import DatabaseWorker

# The menus of the main window, in the order of the menu bar.
Menu = Literal["file", "patient", "view", "directory", "sync", "admin"]
Slot = Callable[[], object]


def local_now() -> datetime:
    """The wall clock, aware, in the workstation's time zone."""
    return datetime.now().astimezone()


class Shell(Protocol):
    """What the main window does when a screen asks (ui.main_window.MainWindow is one)."""

    def add_action(self, menu: Menu | None, text: str, shortcuts: Sequence[str],
                   slot: Slot) -> QAction: ...
    def add_menu_action(self, menu: Menu, action: QAction) -> None: ...
    def add_page(self, page: QWidget, title: str, shortcut: str | None = None) -> QAction: ...
    def add_to_toolbar(self, action: QAction) -> None: ...
    def show_page(self, page: QWidget) -> None: ...
    def open_on(self, page: QWidget) -> None: ...
    def bring_to_front(self) -> None: ...
    def current_patient_id(self) -> uuid.UUID | None: ...
    def reload_patient(self, patient_id: uuid.UUID) -> None: ...
    def open_directory(self, *, patient_id: uuid.UUID | None = None,
                       for_patient: bool = False) -> None: ...
    def refresh(self) -> None: ...
    def refresh_status(self) -> None: ...
    def show_message(self, text: str, timeout_ms: int) -> None: ...
    def add_status_widget(self, widget: QWidget) -> None: ...
    def report_error(self, exc: BaseException) -> None: ...


class AppContext(QObject):
    """The narrow face of the app a screen depends on.

    Signals tell the screens what happened elsewhere: `patientShown` (the caseload's panel
    shows this patient id), `refreshRequested` (F5), `actionsChanged` (a sync or an export
    changed the coordination actions) and `statusUpdated` (the status bar's figures are
    fresh).
    """

    patientShown = Signal(object)
    refreshRequested = Signal()
    actionsChanged = Signal()
    statusUpdated = Signal()

    def __init__(self, *, worker: DatabaseWorker, scheduler: AppScheduler, user: str,
                 window: QMainWindow, shell: Shell,
                 clock: Callable[[], datetime] = local_now) -> None:
        super().__init__(window)
        self.worker = worker
        self.scheduler = scheduler
        self.user = user  # the acting user: every write is recorded under this name
        self.window = window  # as a Qt widget only: dialogs' parent, what the lock covers
        self._shell = shell
        self._clock = clock

    def now(self) -> datetime:
        return self._clock()

    # -- menus and pages (the main window owns them)

    def add_action(self, menu: Menu | None, text: str, shortcuts: Sequence[str],
                   slot: Slot) -> QAction:
        """A window-wide action with its shortcuts, at the end of `menu` (None: no menu)."""
        return self._shell.add_action(menu, text, shortcuts, slot)

    def add_menu_action(self, menu: Menu, action: QAction) -> None:
        """An action the screen made itself (checkable, hidden until a role is known...)."""
        self._shell.add_menu_action(menu, action)

    def add_page(self, page: QWidget, title: str, shortcut: str | None = None) -> QAction:
        """A full-page screen as a tab, with an Affichage menu entry that shows it."""
        return self._shell.add_page(page, title, shortcut)

    def add_to_toolbar(self, action: QAction) -> None:
        self._shell.add_to_toolbar(action)

    # -- navigation

    def show_page(self, page: QWidget) -> None:
        """Bring the tab of `page` forward and give it the focus."""
        self._shell.show_page(page)

    def open_on(self, page: QWidget) -> None:
        """The page the app shows when it opens (no focus moved)."""
        self._shell.open_on(page)

    def bring_to_front(self) -> None:
        """Raise the window above the others (a notification was clicked)."""
        self._shell.bring_to_front()

    def current_patient_id(self) -> uuid.UUID | None:
        """The patient selected in the caseload, if any."""
        return self._shell.current_patient_id()

    def reload_patient(self, patient_id: uuid.UUID) -> None:
        """Load this patient again into the caseload's panel (after access was granted)."""
        self._shell.reload_patient(patient_id)

    def open_directory(self, *, patient_id: uuid.UUID | None = None,
                       for_patient: bool = False) -> None:
        """The practitioner directory, around `patient_id` or the selected patient."""
        self._shell.open_directory(patient_id=patient_id, for_patient=for_patient)

    def refresh(self) -> None:
        """Read the caseload and the shown patient again (data changed under them)."""
        self._shell.refresh()

    # -- the status bar

    def refresh_status(self) -> None:
        """Read the status bar's figures again (pending changes, last sync)."""
        self._shell.refresh_status()

    def show_message(self, text: str, timeout_ms: int = 10_000) -> None:
        self._shell.show_message(text, timeout_ms)

    def add_status_widget(self, widget: QWidget) -> None:
        """A permanent indicator at the right of the status bar."""
        self._shell.add_status_widget(widget)

    def report_error(self, exc: BaseException) -> None:
        """A failed database job: its French message in the status bar, and in the log."""
        self._shell.report_error(exc)
