"""Who is at the keyboard: sign-in, inactivity lock, break the glass, reassignment and the
administrator's user management. Plugs into the app with `install_access(ctx)`.

The services do the checking (carehub/users/access.py); this module asks for what they
need (a password, a reason, a colleague) and shows what they refuse.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QKeySequence
from sqlmodel import Session

from carehub.users.access import AccessDenied, require_user
from carehub.users.grants import GrantRow, list_grants, open_access, reassign_patient
from carehub.users.services import (
    UserRow,
    user_rows,
)
from ui.access.break_glass import BreakGlassDialog, RestrictedPage
from ui.access.lock import InactivityLock, lock_minutes
from ui.access.users import GrantsDialog, ReassignDialog, UsersDialog
from ui.context import AppContext
from ui.worker import DatabaseWorker


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
