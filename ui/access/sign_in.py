"""Sign-in at start-up: the password dialog, checked on a worker before the window opens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEventLoop
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)
from sqlmodel import Session

from carehub.db import Database
from carehub.users.services import (
    sign_in,
    workstation_has_passwords,
)
from ui.access.forms import _error_label, _message, _password_field, _show_error
from ui.worker import DatabaseWorker


class SignInDialog(QDialog):
    """User name and password, checked by the service (argon2id) on the worker."""

    def __init__(self, worker: DatabaseWorker, *, user: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.worker = worker
        self.signed_in_as: str | None = None
        self.setWindowTitle(self.tr("CareHub — connexion"))
        self.user_field = QLineEdit(user)
        self.password_field = _password_field()
        self.error = _error_label()
        form = QFormLayout()
        form.addRow(self.tr("&Identifiant"), self.user_field)
        form.addRow(self.tr("&Mot de passe"), self.password_field)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText(self.tr("Se connecter"))
        self.buttons.accepted.connect(self.try_sign_in)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(self.tr("Ce poste est partagé : identifiez-vous.")))
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        (self.password_field if user else self.user_field).setFocus()

    def try_sign_in(self) -> None:
        name, password = self.user_field.text().strip(), self.password_field.text()
        self.buttons.setEnabled(False)

        def job(session: Session) -> str | None:
            user = sign_in(session, name=name, password=password)
            return user.name if user else None

        self.worker.submit(job, write=True, on_success=self._answered,
                           on_error=self._failed)

    def _answered(self, name: str | None) -> None:
        self.buttons.setEnabled(True)
        if name is None:
            self.password_field.clear()
            _show_error(self.error, self.tr("Identifiant ou mot de passe incorrect."))
            self.password_field.setFocus()
            return
        self.signed_in_as = name
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self.buttons.setEnabled(True)
        _show_error(self.error, _message(exc))


def _wait(worker: DatabaseWorker, job: Callable[[Session], Any]) -> Any:
    """The result of a read job, the event loop turning meanwhile (start-up only)."""
    loop = QEventLoop()
    box: dict[str, Any] = {}

    def done(value: Any) -> None:
        box["value"] = value
        loop.quit()

    def failed(exc: BaseException) -> None:
        box["error"] = exc
        loop.quit()

    worker.submit(job, on_success=done, on_error=failed)
    loop.exec()
    if "error" in box:
        raise box["error"]
    return box["value"]


def sign_in_if_needed(database: Database, *, user: str) -> str | None:
    """The signed-in user's name (the OS account's `user` when nobody on this workstation
    has a password), or None if she gave up."""
    worker = DatabaseWorker(database)
    try:
        if not _wait(worker, workstation_has_passwords):
            return user
        dialog = SignInDialog(worker, user=user)
        dialog.exec()
        return dialog.signed_in_as
    finally:
        worker.shutdown()
