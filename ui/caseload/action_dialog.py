""""Nouvelle action" / "Corriger l'action": one coordination action, keyboard first.

Type, date and time (now by default), duration, the practitioner or organisation, the
outcome of a call, a note. Checked as you type; on a valid save the dialog emits
`submitted(ActionDraft)` and stays open until the caller, having written it on its worker,
calls `accept()` or `show_save_error(message_fr)`. A correction is a new action that amends
the earlier one, which stays in the history as it was.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from PySide6.QtCore import QDateTime, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from carehub.coordination.models import ACTION_TYPE_LABELS_FR, ACTION_TYPES
from carehub.coordination.services import MAX_NOTE_LENGTH, ActionRow
from carehub.identifiers import is_valid_rpps
from ui.widgets.styles import BANNER_STYLE, ERROR_STYLE

# Outcomes of a call or SMS, as the call workflow records them (CONTRACT-prevention.md).
OUTCOME_LABELS = (("", "—"), ("reached", "Joint(e)"), ("no_answer", "Pas de réponse"),
                  ("voicemail", "Message laissé"), ("wrong_number", "Numéro erroné"),
                  ("refused", "A refusé"), ("callback", "À rappeler"))
WITH_OUTCOME = frozenset({"call", "sms", "discharge_followup"})
NEEDS_SOMEONE = frozenset({"referral", "orientation", "appointment"})
MAY_BE_AHEAD = frozenset({"appointment", "meeting"})  # booked or planned for later
FUTURE_SLACK = timedelta(minutes=5)
APPOINTMENT_MINUTES = 30
DATETIME_FORMAT = "dd/MM/yyyy HH:mm"


@dataclass(frozen=True)
class ActionDraft:
    """What the form says, ready for `record_action`."""

    action_type: str
    at: datetime  # aware
    duration_s: int | None
    outcome: str | None
    practitioner_name: str | None
    practitioner_id: str | None  # IDNPS
    organisation: str | None
    note: str | None
    amends: uuid.UUID | None


def idnps_of(text: str) -> str | None:
    """The national id (IDNPS) of a typed RPPS (11 digits) or IDNPS (8/0 + id), else None."""
    value = text.replace(" ", "")
    if is_valid_rpps(value):
        return "8" + value
    if len(value) == 12 and value[0] == "8" and is_valid_rpps(value[1:]):
        return value
    if len(value) == 10 and value[0] == "0" and value[1:].isdigit():  # "0" + ADELI
        return value
    return None


class ActionDialog(QDialog):
    submitted = Signal(object)  # a validated ActionDraft

    def __init__(self, parent: QWidget | None = None, *, patient_name: str,
                 amending: ActionRow | None = None, now: datetime | None = None) -> None:
        super().__init__(parent)
        self._amending = amending
        self._now = now
        self._errors: dict[str, QLabel] = {}
        self._error_rows: dict[str, int] = {}
        self._checks: dict[str, Callable[[], str | None]] = {}
        self._fields: dict[str, QWidget] = {}
        self.setWindowTitle(self.tr("Corriger l'action") if amending
                            else self.tr("Nouvelle action"))
        self._build(patient_name)
        self._start_values(amending)
        self._connect()
        self.type_box.setFocus()

    # -- building -----------------------------------------------------------------------

    def _build(self, patient_name: str) -> None:
        self.heading = QLabel()
        self.heading.setWordWrap(True)
        self.heading.setTextFormat(Qt.TextFormat.PlainText)
        self.heading.setText(self._heading_text(patient_name))
        self.save_error_label = QLabel()
        self.save_error_label.setObjectName("saveError")
        self.save_error_label.setStyleSheet(BANNER_STYLE)
        self.save_error_label.setWordWrap(True)
        self.save_error_label.hide()

        self.type_box = QComboBox()
        for action_type in ACTION_TYPES:
            self.type_box.addItem(self.tr(ACTION_TYPE_LABELS_FR[action_type]), action_type)
        self.at_field = QDateTimeEdit()
        self.at_field.setDisplayFormat(DATETIME_FORMAT)
        self.at_field.setCalendarPopup(True)
        self.duration_box = QSpinBox()
        self.duration_box.setRange(0, 24 * 60)
        self.duration_box.setSuffix(self.tr(" min"))
        self.duration_box.setSpecialValueText(self.tr("non précisée"))
        self.outcome_box = QComboBox()
        for value, label in OUTCOME_LABELS:
            self.outcome_box.addItem(self.tr(label), value or None)
        self.practitioner_field = QLineEdit()
        self.practitioner_field.setPlaceholderText(self.tr("Dr Nom Prénom"))
        self.rpps_field = QLineEdit()
        self.rpps_field.setPlaceholderText(self.tr("RPPS, 11 chiffres (facultatif)"))
        self.rpps_field.setMaxLength(14)
        self.organisation_field = QLineEdit()
        self.organisation_field.setPlaceholderText(
            self.tr("France Services, CCAS, service hospitalier…"))
        self.note_field = QPlainTextEdit()
        self.note_field.setTabChangesFocus(True)  # Tab leaves the note, as in every field
        self.note_field.setPlaceholderText(self.tr("Ce qui a été fait, dit ou convenu"))
        self.note_field.setMinimumHeight(90)

        self.form = QFormLayout()
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self._row(self.tr("&Type"), "type", self.type_box)
        self._row(self.tr("&Date et heure"), "at", self.at_field, self._check_at)
        self._row(self.tr("D&urée"), "duration", self.duration_box, self._check_duration)
        self._row(self.tr("&Résultat"), "outcome", self.outcome_box)
        self._row(self.tr("&Professionnel"), "practitioner", self.practitioner_field,
                  self._check_someone)
        self._row(self.tr("RPP&S"), "rpps", self.rpps_field, self._check_rpps)
        self._row(self.tr("&Organisme"), "organisation", self.organisation_field)
        self._row(self.tr("&Note"), "note", self.note_field, self._check_note)

        self.save_button = QPushButton(self.tr("Enregistrer"))
        self.save_button.setToolTip(self.tr("Ctrl+Entrée"))
        self.cancel_button = QPushButton(self.tr("Annuler"))
        buttons = QDialogButtonBox()
        for button, role in ((self.save_button, QDialogButtonBox.ButtonRole.AcceptRole),
                             (self.cancel_button, QDialogButtonBox.ButtonRole.RejectRole)):
            button.setAutoDefault(False)
            buttons.addButton(button, role)
        self.save_button.clicked.connect(self.save)
        self.cancel_button.clicked.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.save_error_label)
        layout.addLayout(self.form)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(buttons)
        layout.addLayout(bottom)
        for keys in ("Ctrl+Return", "Ctrl+Enter", QKeySequence.StandardKey.Save):
            QShortcut(QKeySequence(keys), self, self.save)
        chain: list[QWidget] = [self.type_box, self.at_field, self.duration_box,
                                self.outcome_box, self.practitioner_field, self.rpps_field,
                                self.organisation_field, self.note_field, self.save_button,
                                self.cancel_button]
        for first, second in itertools.pairwise(chain):
            QWidget.setTabOrder(first, second)
        self.setMinimumWidth(520)

    def _heading_text(self, patient_name: str) -> str:
        if self._amending is None:
            return self.tr("Action pour %1").replace("%1", patient_name)
        earlier = self._amending
        label = self.tr(ACTION_TYPE_LABELS_FR.get(earlier.type, earlier.type))
        return (self.tr("Correction de l'action « %1 » du %2 pour %3. L'action d'origine "
                        "reste dans l'historique ; la correction la remplace.")
                .replace("%1", label).replace("%2", f"{earlier.at.astimezone():%d/%m/%Y %H:%M}")
                .replace("%3", patient_name))

    def _row(self, label: str, key: str, field: QWidget,
             check: Callable[[], str | None] | None = None) -> None:
        self.form.addRow(label, field)
        buddy = self.form.labelForField(field)
        if isinstance(buddy, QLabel):
            buddy.setBuddy(field)
        error = QLabel()
        error.setObjectName(f"error_{key}")
        error.setStyleSheet(ERROR_STYLE)
        error.setWordWrap(True)
        self.form.addRow("", error)
        self._error_rows[key] = self.form.rowCount() - 1
        self.form.setRowVisible(self.form.rowCount() - 1, False)
        self._errors[key] = error
        self._fields[key] = field
        if check is not None:
            self._checks[key] = check

    def _start_values(self, earlier: ActionRow | None) -> None:
        now = self._current_time()
        self.at_field.setDateTime(QDateTime(now.replace(second=0, microsecond=0)))
        if earlier is None:
            self._type_changed()
            return
        self.type_box.setCurrentIndex(max(self.type_box.findData(earlier.type), 0))
        self.at_field.setDateTime(QDateTime(earlier.at.astimezone().replace(tzinfo=None)))
        self.duration_box.setValue(round((earlier.duration_s or 0) / 60))
        self.outcome_box.setCurrentIndex(max(self.outcome_box.findData(earlier.outcome), 0))
        self.practitioner_field.setText(earlier.practitioner_name or "")
        self.rpps_field.setText(earlier.practitioner_id or "")
        self.organisation_field.setText(earlier.organisation or "")
        self.note_field.setPlainText(earlier.note or "")
        self._type_changed()

    def _current_time(self) -> datetime:
        return (self._now or datetime.now().astimezone()).astimezone().replace(tzinfo=None)

    def _connect(self) -> None:
        self.type_box.currentIndexChanged.connect(lambda _i: self._type_changed())
        self.at_field.dateTimeChanged.connect(lambda _v: self._recheck("at"))
        self.duration_box.valueChanged.connect(lambda _v: self._recheck("duration"))
        for field in (self.practitioner_field, self.organisation_field, self.rpps_field):
            field.textEdited.connect(lambda _t: self._recheck("practitioner"))
        self.rpps_field.editingFinished.connect(lambda: self._check("rpps"))
        self.rpps_field.textEdited.connect(lambda _t: self._recheck("rpps"))
        self.note_field.textChanged.connect(lambda: self._recheck("note"))

    def _type_changed(self) -> None:
        action_type = self.action_type()
        self.outcome_box.setEnabled(action_type in WITH_OUTCOME)
        if action_type == "appointment" and self.duration_box.value() == 0:
            self.duration_box.setValue(APPOINTMENT_MINUTES)
        for key in ("at", "duration", "practitioner"):
            self._recheck(key)

    # -- checking -----------------------------------------------------------------------

    def action_type(self) -> str:
        return str(self.type_box.currentData())

    def _recheck(self, key: str) -> None:
        if self._errors[key].text():
            self._check(key)

    def _check(self, key: str) -> bool:
        problem = self._checks[key]() if key in self._checks else None
        self._errors[key].setText(problem or "")
        self.form.setRowVisible(self._error_rows[key], bool(problem))
        return problem is None

    def field_error(self, key: str) -> str:
        """The error shown under a field ('' when none): at, duration, practitioner..."""
        return self._errors[key].text()

    def _moment(self) -> datetime:
        return self.at_field.dateTime().toPython().astimezone()  # type: ignore[no-any-return]

    def _check_at(self) -> str | None:
        ahead = self._moment().replace(tzinfo=None) - self._current_time()
        if ahead > FUTURE_SLACK and self.action_type() not in MAY_BE_AHEAD:
            return self.tr("Cette action est dans le futur : seuls un rendez-vous ou une "
                           "réunion peuvent être datés à l'avance.")
        return None

    def _check_duration(self) -> str | None:
        if self.action_type() == "appointment" and self.duration_box.value() == 0:
            return self.tr("Indiquez la durée du rendez-vous.")
        return None

    def _check_someone(self) -> str | None:
        if (self.action_type() in NEEDS_SOMEONE and not self.practitioner_field.text().strip()
                and not self.organisation_field.text().strip()
                and not self.rpps_field.text().strip()):
            return self.tr("Indiquez le professionnel ou l'organisme concerné.")
        return None

    def _check_rpps(self) -> str | None:
        text = self.rpps_field.text().strip()
        if text and idnps_of(text) is None:
            return self.tr("Numéro RPPS invalide : 11 chiffres avec une clé correcte.")
        return None

    def _check_note(self) -> str | None:
        if len(self.note_field.toPlainText()) > MAX_NOTE_LENGTH:
            return self.tr("La note dépasse %1 caractères.").replace("%1", str(MAX_NOTE_LENGTH))
        return None

    # -- the value ----------------------------------------------------------------------

    def draft(self) -> ActionDraft | None:
        """The action the form describes, or None (errors shown, first field focused)."""
        failed = [key for key in self._checks if not self._check(key)]
        if failed:
            self._fields[failed[0]].setFocus()
            return None
        minutes = self.duration_box.value()
        rpps = self.rpps_field.text().strip()
        return ActionDraft(
            action_type=self.action_type(), at=self._moment(),
            duration_s=minutes * 60 if minutes else None,
            outcome=self.outcome_box.currentData() if self.outcome_box.isEnabled() else None,
            practitioner_name=self.practitioner_field.text().strip() or None,
            practitioner_id=idnps_of(rpps) if rpps else None,
            organisation=self.organisation_field.text().strip() or None,
            note=self.note_field.toPlainText().strip() or None,
            amends=self._amending.id if self._amending else None)

    def save(self) -> None:
        if not self.save_button.isEnabled():
            return  # the last save is still being written
        draft = self.draft()
        if draft is not None:
            self.save_error_label.hide()
            self.save_button.setEnabled(False)  # one save at a time
            self.submitted.emit(draft)

    def show_save_error(self, message_fr: str) -> None:
        self.save_error_label.setText(message_fr)
        self.save_error_label.show()
        self.save_button.setEnabled(True)
