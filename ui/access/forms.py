"""Small pieces shared by the access dialogs: the error label, the password field, dates."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtWidgets import (
    QLabel,
    QLineEdit,
)

from carehub.errors import CareHubError


def fr_datetime(moment: datetime) -> str:
    return f"{moment.astimezone():%d/%m/%Y %H:%M}"


def _message(exc: BaseException) -> str:
    return exc.message_fr if isinstance(exc, CareHubError) else str(exc)


def _error_label() -> QLabel:
    label = QLabel()
    label.setObjectName("error")
    label.setStyleSheet("color: #b00020;")
    label.setWordWrap(True)
    label.hide()
    return label


def _show_error(label: QLabel, text: str) -> None:
    label.setText(text)
    label.show()


def _password_field() -> QLineEdit:
    field = QLineEdit()
    field.setEchoMode(QLineEdit.EchoMode.Password)
    return field
