"""The inactivity lock: after a few idle minutes the window hides its content until the password."""

from __future__ import annotations

import os

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from sqlmodel import Session

from carehub.users.services import (
    sign_in,
)
from ui.access.forms import _error_label, _message, _password_field, _show_error
from ui.worker import DatabaseWorker

DEFAULT_LOCK_MINUTES = 5  # a shared France Services computer: short

_ACTIVITY = frozenset({QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress,
                       QEvent.Type.MouseMove, QEvent.Type.Wheel, QEvent.Type.TouchBegin})


def lock_minutes() -> float:
    """CAREHUB_LOCK_MINUTES, else 5."""
    try:
        return float(os.environ.get("CAREHUB_LOCK_MINUTES", DEFAULT_LOCK_MINUTES))
    except ValueError:
        return DEFAULT_LOCK_MINUTES


class LockPage(QWidget):
    """What the window shows while locked: no patient data, a password to come back."""

    def __init__(self, user: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel(self.tr("CareHub est verrouillé"))
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        self.title.setFont(font)
        self.who = QLabel(self.tr("Session de %1. Saisissez votre mot de passe pour "
                                  "continuer.").replace("%1", user))
        self.password_field = _password_field()
        self.password_field.setMaximumWidth(320)
        self.unlock_button = QPushButton(self.tr("&Déverrouiller"))
        self.error = _error_label()
        column = QVBoxLayout()
        column.addStretch(2)
        for widget in (self.title, self.who, self.password_field, self.unlock_button,
                       self.error):
            column.addWidget(widget, 0, Qt.AlignmentFlag.AlignHCenter)
        column.addStretch(3)
        layout = QHBoxLayout(self)
        layout.addLayout(column, 1)
        self.password_field.returnPressed.connect(self.unlock_button.click)


class InactivityLock(QObject):
    """Locks the window after `timeout_ms` without a key press or a mouse move anywhere in
    the application (an event filter on it); the user's password unlocks."""

    locked = Signal()
    unlocked = Signal()

    def __init__(self, window: QMainWindow, worker: DatabaseWorker, *, user: str,
                 timeout_ms: int) -> None:
        super().__init__(window)
        self.window, self.worker, self.user = window, worker, user
        self.enabled = False  # on once we know the user signs in with a password
        self.page: LockPage | None = None
        self._saved: QWidget | None = None
        self._disabled: list[QAction] = []  # the window's shortcuts, off while locked
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(timeout_ms)
        self.timer.timeout.connect(self.lock)
        app = QApplication.instance()
        assert app is not None
        app.installEventFilter(self)

    def set_timeout_ms(self, timeout_ms: int) -> None:
        self.timer.setInterval(timeout_ms)
        if self.enabled and not self.is_locked:
            self.timer.start()

    def enable(self) -> None:
        self.enabled = True
        self.timer.start()

    @property
    def is_locked(self) -> bool:
        return self.page is not None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if self.enabled and not self.is_locked and event.type() in _ACTIVITY:
            self.timer.start()  # restart: activity pushes the lock back
        return False

    def lock(self) -> None:
        if not self.enabled or self.is_locked:
            return
        self.timer.stop()
        for dialog in self.window.findChildren(QDialog):
            if dialog.isVisible():
                dialog.reject()  # an open form would show patient data over the lock
        self.page = LockPage(self.user)
        self.page.unlock_button.clicked.connect(self._try_unlock)
        self._saved = self.window.takeCentralWidget()
        self.window.setCentralWidget(self.page)
        self.page.show()
        self.window.menuBar().setEnabled(False)
        self._disabled = [a for a in self.window.findChildren(QAction) if a.isEnabled()]
        for action in self._disabled:  # no shortcut reaches a patient behind the lock
            action.setEnabled(False)
        self.page.password_field.setFocus()
        self.locked.emit()

    def _try_unlock(self) -> None:
        assert self.page is not None
        password, user = self.page.password_field.text(), self.user

        def job(session: Session) -> bool:
            return sign_in(session, name=user, password=password) is not None

        def failed(exc: BaseException) -> None:
            if self.page:
                _show_error(self.page.error, _message(exc))

        self.worker.submit(job, write=True, on_success=self._answered, on_error=failed)

    def _answered(self, ok: bool) -> None:
        if self.page is None:
            return
        if not ok:
            self.page.password_field.clear()
            _show_error(self.page.error, self.tr("Mot de passe incorrect."))
            return
        self.window.takeCentralWidget()
        self.page.deleteLater()
        self.page = None
        if self._saved is not None:
            self.window.setCentralWidget(self._saved)
            self._saved.show()
        self.window.menuBar().setEnabled(True)
        for action in self._disabled:
            action.setEnabled(True)
        self._disabled = []
        self.timer.start()
        self.unlocked.emit()
