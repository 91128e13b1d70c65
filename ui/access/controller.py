"""Who is at the keyboard: sign-in, inactivity lock, break the glass, reassignment and the
administrator's user management. Plugs into the app with `install_access(ctx)`.

The services do the checking (carehub/users/access.py); this module asks for what they
need (a password, a reason, a colleague) and shows what they refuse.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from PySide6.QtCore import QEvent, QEventLoop, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from sqlmodel import Session

from carehub.db import Database
from carehub.errors import CareHubError
from carehub.users.access import AccessDenied, require_user
from carehub.users.grants import GrantRow, list_grants, open_access, reassign_patient
from carehub.users.models import ROLE_LABELS_FR, ROLES
from carehub.users.services import (
    UserRow,
    add_user,
    deactivate_user,
    set_password,
    set_role,
    sign_in,
    user_rows,
    workstation_has_passwords,
)
from ui.context import AppContext
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


# -- sign-in at start-up ----------------------------------------------------------------


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


# -- the inactivity lock ----------------------------------------------------------------


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

        self.worker.submit(job, write=True, on_success=self._answered,
                           on_error=lambda exc: self.page and _show_error(self.page.error,
                                                                          _message(exc)))

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


# -- break the glass ---------------------------------------------------------------------


class BreakGlassDialog(QDialog):
    """Why open a patient outside one's caseload: the reason is kept and shown to the
    supervisor."""

    def __init__(self, message: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Dossier hors de votre file active"))
        text = QLabel(message + "\n\n" + self.tr(
            "Vous pouvez l'ouvrir quand même pour la journée (remplacement d'une collègue "
            "absente, urgence) : le motif sera enregistré et visible par l'encadrante."))
        text.setWordWrap(True)
        self.reason = QLineEdit()
        self.reason.setPlaceholderText(self.tr("Motif (au moins 5 caractères)"))
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.open_button = self.buttons.addButton(
            self.tr("Ouvrir quand même (bris de glace)"),
            QDialogButtonBox.ButtonRole.AcceptRole)
        self.open_button.setEnabled(False)
        self.reason.textChanged.connect(
            lambda t: self.open_button.setEnabled(len(t.strip()) >= 5))
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow(self.tr("&Motif"), self.reason)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self.resize(520, self.sizeHint().height())


class RestrictedPage(QWidget):
    """The patient panel's page for a patient the user may not read."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.open_button = QPushButton(self.tr("Ouvrir quand même (bris de glace)…"))
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(self.message)
        layout.addWidget(self.open_button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(2)


# -- reassignment, users, grants ---------------------------------------------------------


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


# -- the controller ----------------------------------------------------------------------


@dataclass
class _Me:
    role: str
    has_password: bool


class AccessController(QObject):
    """The access features of the app; `install_access(ctx)` makes one."""

    roleKnown = Signal(str)
    grantRecorded = Signal(object)  # the patient id opened by breaking the glass
    refused = Signal(object)  # the selected patient may not be read: show `restricted`

    def __init__(self, ctx: AppContext) -> None:
        super().__init__(ctx)
        self.ctx = ctx
        window = ctx.window
        self.worker: DatabaseWorker = ctx.worker
        self.user: str = ctx.user
        self.role: str | None = None
        self.lock = InactivityLock(window, self.worker, user=self.user,
                                   timeout_ms=int(lock_minutes() * 60_000))
        self.restricted = RestrictedPage()  # the caseload's panel shows it on `refused`
        self.restricted.open_button.clicked.connect(self.break_glass)
        self._restricted_patient: uuid.UUID | None = None
        self._restricted_message = ""

        self.lock_action = QAction(self.tr("&Verrouiller"), window)
        self.lock_action.setShortcut(QKeySequence("Ctrl+L"))
        self.lock_action.triggered.connect(self.lock.lock)
        self.lock_action.setEnabled(False)
        window.addAction(self.lock_action)
        self.reassign_action = QAction(self.tr("&Réattribuer…"), window)
        self.reassign_action.triggered.connect(self.reassign_current)
        self.reassign_action.setVisible(False)
        self.users_action = QAction(self.tr("&Utilisateurs…"), window)
        self.users_action.triggered.connect(self.manage_users)
        self.grants_action = QAction(self.tr("Accès exceptionnels (&bris de glace)…"), window)
        self.grants_action.triggered.connect(self.show_grants)
        ctx.add_menu_action("patient", self.reassign_action)
        for action in (self.lock_action, self.grants_action, self.users_action):
            ctx.add_menu_action("admin", action)
        self.users_action.setVisible(False)
        self.grants_action.setVisible(False)
        self.users_dialog: UsersDialog | None = None

    def start(self) -> None:
        user = self.user

        def job(session: Session) -> _Me | None:
            try:
                me = require_user(session, user=user)
            except AccessDenied:
                return None
            return _Me(me.role, me.password_hash is not None)

        self.worker.submit(job, on_success=self._known)

    def _known(self, me: _Me | None) -> None:
        if me is None:
            return
        self.role = me.role
        self.reassign_action.setVisible(me.role in ("supervisor", "administrator"))
        self.grants_action.setVisible(me.role in ("supervisor", "administrator"))
        self.users_action.setVisible(me.role == "administrator")
        if me.has_password:
            self.lock_action.setEnabled(True)
            self.lock.enable()
        self.roleKnown.emit(me.role)

    # -- a patient one may not read

    def load_failed(self, patient_id: uuid.UUID, exc: BaseException) -> None:
        """The main window's patient load was refused: say so, offer to break the glass."""
        if not isinstance(exc, AccessDenied):
            self.ctx.report_error(exc)
            return
        if self.ctx.current_patient_id() != patient_id:
            return
        self._restricted_patient = patient_id
        self._restricted_message = exc.message_fr
        self.restricted.message.setText(exc.message_fr)
        self.refused.emit(patient_id)

    def break_glass(self) -> None:
        patient_id = self._restricted_patient
        if patient_id is None or patient_id != self.ctx.current_patient_id():
            return  # the selection moved on: its own refusal is on its way
        dialog = BreakGlassDialog(self._restricted_message, self.ctx.window)
        dialog.accepted.connect(lambda: self._record_grant(patient_id, dialog.reason.text()))
        dialog.open()
        self.break_glass_dialog = dialog

    def _record_grant(self, patient_id: uuid.UUID, reason: str) -> None:
        user = self.user

        def job(session: Session) -> uuid.UUID:
            return open_access(session, user=user, patient_ref=str(patient_id), reason=reason)

        def done(_grant: uuid.UUID) -> None:
            self.grantRecorded.emit(patient_id)
            self.ctx.reload_patient(patient_id)

        self.worker.submit(job, write=True, on_success=done,
                           on_error=self.ctx.report_error)

    # -- supervisor and administrator

    def reassign_current(self) -> None:
        patient_id = self.ctx.current_patient_id()
        if patient_id is None:
            return

        def chosen(rows: list[UserRow]) -> None:
            managers = [r for r in rows if r.active and r.role != "administrator"]
            dialog = ReassignDialog(managers, self.ctx.window)
            self.reassign_dialog = dialog
            dialog.accepted.connect(lambda: self._reassign(patient_id, dialog.chosen()))
            dialog.open()

        self.worker.submit(user_rows, on_success=chosen)

    def _reassign(self, patient_id: uuid.UUID, to: str) -> None:
        def job(session: Session) -> str | None:
            return reassign_patient(session, patient_ref=str(patient_id), to=to)

        def done(before: str | None) -> None:
            self.ctx.show_message(
                self.tr("Patient confié à %1 (auparavant : %2).").replace("%1", to)
                .replace("%2", before or "—"), 10_000)
            self.ctx.refresh()

        self.worker.submit(job, write=True, on_success=done,
                           on_error=self.ctx.report_error)

    def manage_users(self) -> None:
        self.users_dialog = UsersDialog(self.worker, self.ctx.window)
        self.users_dialog.open()

    def show_grants(self) -> None:
        def shown(rows: list[GrantRow]) -> None:
            self.grants_dialog = GrantsDialog(rows, self.ctx.window)
            self.grants_dialog.open()

        self.worker.submit(list_grants, on_success=shown, on_error=self.ctx.report_error)


def install_access(ctx: AppContext) -> AccessController:
    """The inactivity lock, break the glass, reassignment and user management."""
    controller = AccessController(ctx)
    controller.start()
    return controller
