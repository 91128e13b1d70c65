"""The supervisor's and administrator's dialogs: reassign a patient, users, exceptional accesses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from sqlmodel import Session

from carehub.users.grants import GrantRow
from carehub.users.models import ROLE_LABELS_FR, ROLES
from carehub.users.services import (
    UserRow,
    add_user,
    deactivate_user,
    set_password,
    set_role,
    user_rows,
)
from ui.access.forms import _error_label, _message, _password_field, _show_error, fr_datetime
from ui.worker import DatabaseWorker


class ReassignDialog(QDialog):
    def __init__(self, managers: list[UserRow], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Réattribuer le patient"))
        self.combo = QComboBox()
        for row in managers:
            self.combo.addItem(f"{row.display_name or row.name} ({row.name})", row.name)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText(self.tr("Réattribuer"))
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow(self.tr("Confier à"), self.combo)
        form.addRow(buttons)

    def chosen(self) -> str:
        return str(self.combo.currentData())


class AddUserDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Nouvel utilisateur"))
        self.name = QLineEdit()
        self.display_name = QLineEdit()
        self.role = QComboBox()
        for role in ROLES:
            self.role.addItem(ROLE_LABELS_FR[role], role)
        self.password = _password_field()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow(self.tr("&Identifiant"), self.name)
        form.addRow(self.tr("&Nom affiché"), self.display_name)
        form.addRow(self.tr("&Rôle"), self.role)
        form.addRow(self.tr("&Mot de passe"), self.password)
        form.addRow(self.buttons)


class UsersDialog(QDialog):
    """The administrator's list of users: add, change the role, set a password,
    deactivate (users are never deleted: their history stays)."""

    changed = Signal()

    HEADERS = ("Identifiant", "Nom", "Rôle", "Actif", "Connexion")

    def __init__(self, worker: DatabaseWorker, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.worker = worker
        self.rows: list[UserRow] = []
        self.setWindowTitle(self.tr("Utilisateurs du poste"))
        self.table = QTableWidget(0, len(self.HEADERS))
        self.table.setHorizontalHeaderLabels([self.tr(h) for h in self.HEADERS])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.add_button = QPushButton(self.tr("&Ajouter…"))
        self.role_combo = QComboBox()
        for role in ROLES:
            self.role_combo.addItem(ROLE_LABELS_FR[role], role)
        self.role_button = QPushButton(self.tr("Changer le &rôle"))
        self.password_field = _password_field()
        self.password_field.setPlaceholderText(self.tr("Nouveau mot de passe"))
        self.password_button = QPushButton(self.tr("Définir le &mot de passe"))
        self.deactivate_button = QPushButton(self.tr("&Désactiver"))
        self.error = _error_label()
        self.add_button.clicked.connect(self.add)
        self.role_button.clicked.connect(self.change_role)
        self.password_button.clicked.connect(self.change_password)
        self.deactivate_button.clicked.connect(self.deactivate)
        tools = QHBoxLayout()
        tools.addWidget(self.add_button)
        tools.addWidget(self.role_combo)
        tools.addWidget(self.role_button)
        tools.addWidget(self.password_field)
        tools.addWidget(self.password_button)
        tools.addWidget(self.deactivate_button)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(tools)
        layout.addWidget(self.error)
        layout.addWidget(close)
        self.resize(860, 420)
        self.reload()

    def reload(self) -> None:
        self.worker.submit(user_rows, on_success=self._show, on_error=self._failed)

    def _show(self, rows: list[UserRow]) -> None:
        self.rows = rows
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            values = (row.name, row.display_name, ROLE_LABELS_FR.get(row.role, row.role),
                      self.tr("oui") if row.active else self.tr("non"),
                      self.tr("mot de passe") if row.has_password else self.tr("compte du poste"))
            for c, value in enumerate(values):
                self.table.setItem(r, c, QTableWidgetItem(value))
        self.changed.emit()

    def selected(self) -> str | None:
        row = self.table.currentRow()
        return self.rows[row].name if 0 <= row < len(self.rows) else None

    def _failed(self, exc: BaseException) -> None:
        _show_error(self.error, _message(exc))

    def _write(self, job: Callable[[Session], Any]) -> None:
        self.error.hide()
        self.worker.submit(job, write=True, on_success=lambda _r: self.reload(),
                           on_error=self._failed)

    def add(self) -> None:
        self.add_dialog = AddUserDialog(self)
        self.add_dialog.accepted.connect(self._add)
        self.add_dialog.open()

    def _add(self) -> None:
        dialog = self.add_dialog
        name, display = dialog.name.text().strip(), dialog.display_name.text().strip()
        role, password = str(dialog.role.currentData()), dialog.password.text() or None
        self._write(lambda s: add_user(s, name=name, role=role, display_name=display or None,
                                       password=password))

    def change_role(self) -> None:
        name, role = self.selected(), str(self.role_combo.currentData())
        if name is not None:
            self._write(lambda s: set_role(s, name=name, role=role))

    def change_password(self) -> None:
        name, password = self.selected(), self.password_field.text()
        if name is not None:
            self.password_field.clear()
            self._write(lambda s: set_password(s, name=name, password=password))

    def deactivate(self) -> None:
        name = self.selected()
        if name is not None:
            self._write(lambda s: deactivate_user(s, name=name))


class GrantsDialog(QDialog):
    """The supervisor's list of break-the-glass openings, newest first."""

    HEADERS = ("Quand", "Qui", "Patient", "INS", "Motif", "Jusqu'à")

    def __init__(self, rows: list[GrantRow], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Accès exceptionnels (bris de glace)"))
        self.table = QTableWidget(len(rows), len(self.HEADERS))
        self.table.setHorizontalHeaderLabels([self.tr(h) for h in self.HEADERS])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        for r, g in enumerate(rows):
            values = (fr_datetime(g.at), g.user, g.patient_name, g.ins or "", g.reason,
                      fr_datetime(g.expires_at))
            for c, value in enumerate(values):
                self.table.setItem(r, c, QTableWidgetItem(value))
        self.table.resizeColumnsToContents()
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(close)
        self.resize(900, 380)
