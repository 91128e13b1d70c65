"""The new/edit patient form: checked as you type, saved by the caller through its worker.

On a valid save the dialog emits `submitted(PatientInput)` and stays open; the caller
saves on its database thread, then calls `accept()` or `show_save_error(message_fr)`.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from datetime import date, time
from typing import Any

from pydantic import ValidationError
from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QCompleter,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from carehub.caseload.services import FIELD_LABELS_FR, PatientInput, PhoneInput
from carehub.errors import InputError
from carehub.identifiers import ins_problem_fr, is_valid_rpps, normalize_ins
from carehub.phones import format_phone, parse_phone
from carehub.text import fold
from ui.formatting import format_date, parse_date_fr
from ui.widgets.styles import BANNER_STYLE, ERROR_STYLE

PHONE_SLOTS = 3
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
AnyIndex = QModelIndex | QPersistentModelIndex


def _french(number: str) -> str:
    """A stored or typed number shown the French way, or as typed when it is invalid."""
    try:
        return format_phone(parse_phone(number).e164)
    except InputError:
        return number


class CommuneListModel(QAbstractListModel):
    """Commune labels for the completer; matched on accent-free text (UserRole)."""

    def __init__(self, communes: Sequence[tuple[str, str]], parent: Any = None) -> None:
        super().__init__(parent)
        self._labels = [label for _insee, label in communes]
        self._folded = [fold(label) for label in self._labels]

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._labels)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return self._labels[index.row()]
        if role == Qt.ItemDataRole.UserRole:
            return self._folded[index.row()]
        return None


class PatientDialog(QDialog):
    submitted = Signal(object)  # a validated PatientInput

    def __init__(self, parent: QWidget | None = None, *, initial: PatientInput | None = None,
                 communes: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(parent)
        self._initial = initial
        self._insee_by_label = {label: insee for insee, label in communes}
        self._label_by_insee = {insee: label for insee, label in communes}
        self._errors: dict[str, QLabel] = {}
        self._error_rows: dict[str, tuple[QFormLayout, int]] = {}
        self._fields: dict[str, QWidget] = {}
        self._validators: dict[str, Callable[[], str | None]] = {}
        self.setWindowTitle(self.tr("Modifier le patient") if initial
                            else self.tr("Nouveau patient"))
        self._build(communes)
        if initial is not None:
            self._load(initial)
        self._connect_live_checks()
        self.birth_name_field.setFocus()

    # -- building -----------------------------------------------------------------------

    def _build(self, communes: Sequence[tuple[str, str]]) -> None:
        self.save_error_label = QLabel()
        self.save_error_label.setObjectName("saveError")
        self.save_error_label.setStyleSheet(BANNER_STYLE)
        self.save_error_label.setWordWrap(True)
        self.save_error_label.hide()
        left = QVBoxLayout()
        left.addWidget(self._identity_group())
        left.addWidget(self._contact_group(communes))
        left.addStretch(1)
        right = QVBoxLayout()
        right.addWidget(self._preferences_group())
        right.addWidget(self._followup_group())
        right.addStretch(1)
        columns = QHBoxLayout()
        columns.setSpacing(16)
        columns.addLayout(left, 1)
        columns.addLayout(right, 1)
        buttons = QDialogButtonBox()
        self.save_button = QPushButton(self.tr("Enregistrer"))
        self.save_button.setToolTip(self.tr("Ctrl+Entrée ou Ctrl+S"))
        self.cancel_button = QPushButton(self.tr("Annuler"))
        for button in (self.save_button, self.cancel_button):
            button.setAutoDefault(False)  # Entrée in a field must not save by surprise
        buttons.addButton(self.save_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(self.cancel_button, QDialogButtonBox.ButtonRole.RejectRole)
        self.save_button.clicked.connect(self.save)
        self.cancel_button.clicked.connect(self.reject)
        hint = QLabel(self.tr("* champ obligatoire"))
        hint.setStyleSheet("color: #555;")
        bottom = QHBoxLayout()
        bottom.addWidget(hint)
        bottom.addStretch(1)
        bottom.addWidget(buttons)
        layout = QVBoxLayout(self)
        layout.addWidget(self.save_error_label)
        layout.addLayout(columns)
        layout.addLayout(bottom)
        for keys in ("Ctrl+Return", "Ctrl+Enter", QKeySequence.StandardKey.Save):
            QShortcut(QKeySequence(keys), self, self.save)
        self._set_tab_order()
        self.setMinimumWidth(880)

    def _form(self, title: str) -> tuple[QGroupBox, QFormLayout]:
        group = QGroupBox(title)
        form = QFormLayout(group)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return group, form

    def _row(self, form: QFormLayout, label: str, key: str, field: QWidget,
             check: Callable[[], str | None] | None = None, *, extra: QWidget | None = None
             ) -> None:
        """A form row (the field and an optional neighbour), then its red error row, hidden."""
        if extra is None:
            form.addRow(label, field)
        else:
            line = QHBoxLayout()
            line.addWidget(field, 1)
            line.addWidget(extra)
            form.addRow(label, line)
        buddy = form.labelForField(field if extra is None else line)
        if isinstance(buddy, QLabel):
            buddy.setBuddy(field)
        error = QLabel()
        error.setObjectName(f"error_{key}")
        error.setStyleSheet(ERROR_STYLE)
        error.setWordWrap(True)
        form.addRow("", error)
        self._error_rows[key] = (form, form.rowCount() - 1)
        form.setRowVisible(form.rowCount() - 1, False)
        self._errors[key] = error
        self._fields[key] = field
        if check is not None:
            self._validators[key] = check

    def _combo(self, items: Sequence[tuple[str, Any]]) -> QComboBox:
        box = QComboBox()
        for text, value in items:
            box.addItem(text, value)
        return box

    def _identity_group(self) -> QGroupBox:
        group, form = self._form(self.tr("Identité"))
        self.ins_field = QLineEdit()
        self.ins_field.setPlaceholderText(self.tr("15 caractères, clé comprise"))
        self.ins_field.setMaxLength(21)  # room for spaces typed between groups
        self.identity_status_box = self._combo([
            (self.tr("Provisoire"), "provisional"), (self.tr("Validée"), "validated"),
            (self.tr("Qualifiée (identité vérifiée)"), "qualified")])
        self.birth_name_field = QLineEdit()
        self.used_name_field = QLineEdit()
        self.given_names_field = QLineEdit()
        self.sex_box = self._combo([(self.tr("Non précisé"), "U"), (self.tr("Femme"), "F"),
                                    (self.tr("Homme"), "M")])
        self.birth_date_field = QLineEdit()
        self.birth_date_field.setPlaceholderText(self.tr("jj/mm/aaaa"))
        self.birth_date_field.setMaxLength(10)
        self._row(form, self.tr("INS"), "ins", self.ins_field, self._check_ins)
        self._row(form, self.tr("Statut de l'identité"), "identity_status",
                  self.identity_status_box)
        self._row(form, self.tr("Nom de naissance *"), "birth_name", self.birth_name_field,
                  lambda: self._required(self.birth_name_field,
                                         self.tr("Le nom de naissance est obligatoire.")))
        self._row(form, self.tr("Nom d'usage"), "used_name", self.used_name_field)
        self._row(form, self.tr("Prénoms *"), "given_names", self.given_names_field,
                  lambda: self._required(self.given_names_field,
                                         self.tr("Au moins un prénom est obligatoire.")))
        self._row(form, self.tr("Sexe"), "sex", self.sex_box)
        self._row(form, self.tr("Date de naissance *"), "birth_date", self.birth_date_field,
                  self._check_birth_date)
        return group

    def _contact_group(self, communes: Sequence[tuple[str, str]]) -> QGroupBox:
        group, form = self._form(self.tr("Adresse et téléphones"))
        self.address_field = QLineEdit()
        self.address_field.setPlaceholderText(self.tr("n° et voie, lieu-dit"))
        self.postal_code_field = QLineEdit()
        self.postal_code_field.setMaxLength(5)
        self.commune_field = QLineEdit()
        self.commune_field.setPlaceholderText(self.tr("Tapez le début du nom"))
        self._commune_completer = QCompleter(CommuneListModel(communes, self), self)
        self._commune_completer.setCompletionRole(Qt.ItemDataRole.UserRole)
        self._commune_completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self._commune_completer.setFilterMode(Qt.MatchFlag.MatchStartsWith)
        self._commune_completer.setModelSorting(QCompleter.ModelSorting.UnsortedModel)
        self._commune_completer.setWidget(self.commune_field)
        # The QModelIndex overload of activated (PySide6's stubs cannot say it).
        self._commune_completer.activated[QModelIndex].connect(  # type: ignore[index]
            self._commune_chosen)
        self.commune_field.textEdited.connect(self._complete_commune)
        self._row(form, self.tr("Adresse"), "address_line", self.address_field)
        self._row(form, self.tr("Code postal"), "postal_code", self.postal_code_field,
                  self._check_postal_code)
        self._row(form, self.tr("Commune"), "commune", self.commune_field, self._check_commune)
        self.phone_fields: list[QLineEdit] = []
        self.sms_boxes: list[QCheckBox] = []
        for slot in range(PHONE_SLOTS):
            field = QLineEdit()
            field.setPlaceholderText(self.tr("06 12 34 56 78"))
            sms = QCheckBox(self.tr("SMS accepté"))
            sms.setToolTip(self.tr("Le patient accepte les SMS (mobiles seulement)"))
            self.phone_fields.append(field)
            self.sms_boxes.append(sms)
            self._row(form, self.tr("Téléphone %n", "", slot + 1), f"phone{slot}", field,
                      self._phone_check(field), extra=sms)
        self.email_field = QLineEdit()
        self._row(form, self.tr("Courriel"), "email", self.email_field, self._check_email)
        return group

    def _preferences_group(self) -> QGroupBox:
        group, form = self._form(self.tr("Préférences et accessibilité"))
        self.channel_box = self._combo([
            (self.tr("Téléphone"), "phone"), (self.tr("SMS"), "sms"),
            (self.tr("Courriel"), "email"), (self.tr("Courrier"), "letter"),
            (self.tr("Visite"), "visit")])
        self.call_after_box = self._hours_box()
        self.call_before_box = self._hours_box()
        hours = QWidget()
        line = QHBoxLayout(hours)
        line.setContentsMargins(0, 0, 0, 0)
        line.addWidget(QLabel(self.tr("après")))
        line.addWidget(self.call_after_box, 1)
        line.addWidget(QLabel(self.tr("et avant")))
        line.addWidget(self.call_before_box, 1)
        self._row(form, self.tr("Contact préféré"), "preferred_channel", self.channel_box)
        self._row(form, self.tr("Appeler"), "hours", hours, self._check_hours)
        self.accessibility_boxes: dict[str, QCheckBox] = {}
        needs = QWidget()
        grid = QGridLayout(needs)
        grid.setContentsMargins(0, 0, 0, 0)
        labels = [
            ("deaf_or_hard_of_hearing", self.tr("Malentendant")),
            ("blind_or_low_vision", self.tr("Malvoyant")),
            ("reduced_mobility", self.tr("Mobilité réduite")),
            ("no_car", self.tr("Sans voiture")),
            ("low_digital_literacy", self.tr("Peu à l'aise avec le numérique")),
            ("needs_interpreter", self.tr("Besoin d'un interprète")),
        ]
        for position, (name, text) in enumerate(labels):
            box = QCheckBox(text)
            self.accessibility_boxes[name] = box
            grid.addWidget(box, position, 0)
        self._row(form, self.tr("Besoins"), "accessibility", needs)
        return group

    def _followup_group(self) -> QGroupBox:
        group, form = self._form(self.tr("Suivi"))
        self.gp_name_field = QLineEdit()
        self.gp_name_field.setPlaceholderText(self.tr("Dr Nom Prénom"))
        self.gp_rpps_field = QLineEdit()
        self.gp_rpps_field.setMaxLength(11)
        self.gp_rpps_field.setPlaceholderText(self.tr("11 chiffres"))
        self.status_box = self._combo([
            (self.tr("Suivi actif"), "active"), (self.tr("En pause"), "paused"),
            (self.tr("Clos"), "closed"), (self.tr("Décédé(e)"), "deceased")])
        self.fragility_box = self._combo([
            (self.tr("Non évaluée"), None), (self.tr("0 — Robuste"), 0),
            (self.tr("1 — Pré-fragile"), 1), (self.tr("2 — Fragile"), 2),
            (self.tr("3 — Très fragile ou dépendant"), 3)])
        self.directives_box = QCheckBox(self.tr("Rédigées par le patient"))
        self.directives_holder_field = QLineEdit()
        self.directives_holder_field.setPlaceholderText(
            self.tr("le patient, un proche, le médecin…"))
        self._row(form, self.tr("Médecin traitant"), "gp_name", self.gp_name_field)
        self._row(form, self.tr("RPPS du médecin"), "gp_rpps", self.gp_rpps_field,
                  self._check_rpps)
        self._row(form, self.tr("Statut du suivi"), "status", self.status_box)
        self._row(form, self.tr("Fragilité"), "fragility_level", self.fragility_box)
        self._row(form, self.tr("Directives anticipées"), "advance_directives",
                  self.directives_box)
        self._row(form, self.tr("Détenues par"), "advance_directives_holder",
                  self.directives_holder_field)
        return group

    def _hours_box(self) -> QComboBox:
        """Half hours from 07:00 to 21:00; item data is 'HH:MM' (Qt finds strings by value)."""
        box = QComboBox()
        box.addItem("—", None)
        for minutes in range(7 * 60, 21 * 60 + 1, 30):
            text = f"{minutes // 60:02d}:{minutes % 60:02d}"
            box.addItem(text, text)
        return box

    @staticmethod
    def _hour(box: QComboBox) -> time | None:
        data = box.currentData()
        return time.fromisoformat(data) if data else None

    def _set_tab_order(self) -> None:
        chain: list[QWidget] = [
            self.ins_field, self.identity_status_box, self.birth_name_field,
            self.used_name_field, self.given_names_field, self.sex_box, self.birth_date_field,
            self.address_field, self.postal_code_field, self.commune_field,
        ]
        for field, sms in zip(self.phone_fields, self.sms_boxes, strict=True):
            chain += [field, sms]
        chain += [self.email_field, self.channel_box, self.call_after_box,
                  self.call_before_box, *self.accessibility_boxes.values(),
                  self.gp_name_field, self.gp_rpps_field, self.status_box,
                  self.fragility_box, self.directives_box, self.directives_holder_field,
                  self.save_button, self.cancel_button]
        for first, second in itertools.pairwise(chain):
            QWidget.setTabOrder(first, second)

    # -- loading ------------------------------------------------------------------------

    def _load(self, data: PatientInput) -> None:
        self.ins_field.setText(data.ins or "")
        self._select(self.identity_status_box, data.identity_status)
        self.birth_name_field.setText(data.birth_name)
        self.used_name_field.setText(data.used_name or "")
        self.given_names_field.setText(data.given_names)
        self._select(self.sex_box, data.sex)
        self.birth_date_field.setText(format_date(data.birth_date, empty=""))
        self.address_field.setText(data.address_line or "")
        self.postal_code_field.setText(data.postal_code or "")
        if data.commune_insee:
            self.commune_field.setText(self._label_by_insee.get(data.commune_insee,
                                                                data.commune_insee))
        for slot, phone in enumerate(data.phones[:PHONE_SLOTS]):
            self.phone_fields[slot].setText(_french(phone.number))
            self.sms_boxes[slot].setChecked(phone.sms_consent)
        self.email_field.setText(data.email or "")
        self._select(self.channel_box, data.preferred_channel)
        self._select_hour(self.call_after_box, data.call_after)
        self._select_hour(self.call_before_box, data.call_before)
        for name, box in self.accessibility_boxes.items():
            box.setChecked(bool(getattr(data, name)))
        self.gp_name_field.setText(data.gp_name or "")
        self.gp_rpps_field.setText(data.gp_rpps or "")
        self._select(self.status_box, data.status)
        self._select(self.fragility_box, data.fragility_level)
        self.directives_box.setChecked(data.advance_directives)
        self.directives_holder_field.setText(data.advance_directives_holder or "")

    @staticmethod
    def _select(box: QComboBox, value: Any) -> None:
        for position in range(box.count()):
            if box.itemData(position) == value:
                box.setCurrentIndex(position)
                return

    def _select_hour(self, box: QComboBox, value: time | None) -> None:
        text = f"{value:%H:%M}" if value is not None else None
        if text is not None and box.findData(text) < 0:
            box.addItem(text, text)  # an imported hour off the half-hour grid
        self._select(box, text)

    # -- checking -----------------------------------------------------------------------

    def _connect_live_checks(self) -> None:
        """Check a field when it is left, and while typing once it shows an error."""
        for key, field in self._fields.items():
            if key not in self._validators or not isinstance(field, QLineEdit):
                continue
            field.editingFinished.connect(lambda key=key: self._check(key))
            field.textEdited.connect(lambda _text, key=key: self._recheck(key))
        self.ins_field.textEdited.connect(self._check_ins_when_complete)
        for field in self.phone_fields:
            field.editingFinished.connect(lambda field=field: field.setText(_french(field.text())))
        self.birth_date_field.textEdited.connect(
            lambda text: self._check("birth_date") if len(text.strip()) >= 10 else None)
        self.identity_status_box.currentIndexChanged.connect(lambda _i: self._recheck("ins"))
        for box in (self.call_after_box, self.call_before_box):
            box.currentIndexChanged.connect(lambda _i: self._check("hours"))

    def _check_ins_when_complete(self, text: str) -> None:
        if len(normalize_ins(text)) >= 15:
            self._check("ins")

    def _recheck(self, key: str) -> None:
        if self._errors[key].text():
            self._check(key)

    def _check(self, key: str) -> bool:
        problem = self._validators[key]() if key in self._validators else None
        self._show_error(key, problem)
        return problem is None

    def _show_error(self, key: str, problem: str | None) -> None:
        self._errors[key].setText(problem or "")
        form, row = self._error_rows[key]
        form.setRowVisible(row, bool(problem))

    def field_error(self, key: str) -> str:
        """The error shown under a field ('' when none); keys: ins, birth_date, phone0..."""
        return self._errors[key].text()

    def _required(self, field: QLineEdit, message: str) -> str | None:
        return None if field.text().strip() else message

    def _check_ins(self) -> str | None:
        text = self.ins_field.text().strip()
        if text:
            return ins_problem_fr(text)
        if self.identity_status_box.currentData() == "qualified":
            return self.tr("Une identité qualifiée exige l'INS.")
        return None

    def _check_birth_date(self) -> str | None:
        text = self.birth_date_field.text().strip()
        if not text:
            return self.tr("La date de naissance est obligatoire.")
        parsed = parse_date_fr(text)
        if parsed is None:
            return self.tr("Date invalide : saisissez jj/mm/aaaa.")
        if parsed > date.today():
            return self.tr("La date de naissance est dans le futur.")
        if parsed.year < 1890:
            return self.tr("Date de naissance trop ancienne.")
        return None

    def _check_postal_code(self) -> str | None:
        text = self.postal_code_field.text().strip()
        if text and not re.fullmatch(r"\d{5}", text) and not re.fullmatch(r"2[AB]\d{3}", text):
            return self.tr("Un code postal a 5 chiffres.")
        return None

    def _commune_insee(self) -> str | None:
        text = self.commune_field.text().strip()
        if not text:
            return None
        if text in self._insee_by_label:
            return self._insee_by_label[text]
        return text if text in self._label_by_insee else None

    def _check_commune(self) -> str | None:
        if self.commune_field.text().strip() and self._commune_insee() is None:
            return self.tr("Commune inconnue : choisissez-la dans la liste.")
        return None

    def _phone_check(self, field: QLineEdit) -> Callable[[], str | None]:
        def check() -> str | None:
            text = field.text().strip()
            if not text:
                return None
            try:
                parse_phone(text)
            except InputError as exc:
                return exc.message_fr
            return None
        return check

    def _check_email(self) -> str | None:
        text = self.email_field.text().strip()
        if text and not _EMAIL.match(text):
            return self.tr("Adresse de courriel invalide.")
        return None

    def _check_hours(self) -> str | None:
        after, before = self._hour(self.call_after_box), self._hour(self.call_before_box)
        if after is not None and before is not None and after >= before:
            return self.tr("L'heure « avant » doit suivre l'heure « après ».")
        return None

    def _check_rpps(self) -> str | None:
        text = self.gp_rpps_field.text().strip()
        if text and not is_valid_rpps(text):
            return self.tr("Numéro RPPS invalide : 11 chiffres avec une clé correcte.")
        return None

    def _check_all(self) -> bool:
        """Check every field, show every error, focus the first field in error."""
        failed = [key for key in self._validators if not self._check(key)]
        if failed:
            self._fields[failed[0]].setFocus()
        return not failed

    # -- the value ----------------------------------------------------------------------

    def _phones(self) -> list[PhoneInput]:
        labels = {phone.number: phone.label for phone in (self._initial.phones
                                                          if self._initial else [])}
        phones = []
        for field, sms in zip(self.phone_fields, self.sms_boxes, strict=True):
            if field.text().strip():
                e164 = parse_phone(field.text()).e164
                phones.append(PhoneInput(number=e164, label=labels.get(e164),
                                         sms_consent=sms.isChecked()))
        return phones

    def _values(self) -> dict[str, Any]:
        def text(field: QLineEdit) -> str | None:
            return field.text().strip() or None

        values: dict[str, Any] = self._initial.model_dump() if self._initial else {}
        values.update(
            ins=normalize_ins(self.ins_field.text()) or None,
            identity_status=self.identity_status_box.currentData(),
            birth_name=self.birth_name_field.text().strip(),
            used_name=text(self.used_name_field),
            given_names=self.given_names_field.text().strip(),
            sex=self.sex_box.currentData(),
            birth_date=parse_date_fr(self.birth_date_field.text()),
            address_line=text(self.address_field), postal_code=text(self.postal_code_field),
            commune_insee=self._commune_insee(), email=text(self.email_field),
            preferred_channel=self.channel_box.currentData(),
            call_after=self._hour(self.call_after_box),
            call_before=self._hour(self.call_before_box),
            gp_name=text(self.gp_name_field), gp_rpps=text(self.gp_rpps_field),
            status=self.status_box.currentData(),
            fragility_level=self.fragility_box.currentData(),
            advance_directives=self.directives_box.isChecked(),
            advance_directives_holder=text(self.directives_holder_field),
            phones=self._phones(),
        )
        values.update({name: box.isChecked() for name, box in self.accessibility_boxes.items()})
        return values

    def patient_input(self) -> PatientInput | None:
        """The form's value, or None (errors shown) while a field is invalid."""
        if not self._check_all():
            return None
        try:
            return PatientInput.model_validate(self._values())
        except ValidationError as exc:
            self.show_save_error("\n".join(self._problem_fr(e) for e in exc.errors()))
            return None

    def _problem_fr(self, error: Any) -> str:
        field = str(error["loc"][0]) if error.get("loc") else ""
        label = FIELD_LABELS_FR.get(field, field)
        return f"{label} : {error['msg']}" if label else str(error["msg"])

    # -- saving -------------------------------------------------------------------------

    def save(self) -> None:
        """Emit `submitted` with the form's value; nothing while a field is invalid."""
        if not self.save_button.isEnabled():
            return  # a save is already on its way
        self.save_error_label.hide()
        data = self.patient_input()
        if data is None:
            return
        self.save_button.setEnabled(False)
        self.save_button.setText(self.tr("Enregistrement…"))
        self.submitted.emit(data)

    def show_save_error(self, message_fr: str) -> None:
        """The service refused the save: say why at the top and let the user correct."""
        self.save_error_label.setText(message_fr)
        self.save_error_label.show()
        self.save_button.setEnabled(True)
        self.save_button.setText(self.tr("Enregistrer"))

    # -- commune completion ---------------------------------------------------------------

    def _complete_commune(self, text: str) -> None:
        self._commune_completer.setCompletionPrefix(fold(text.strip()))
        if text.strip():
            self._commune_completer.complete()
        elif (popup := self._commune_completer.popup()) is not None:
            popup.hide()

    def _commune_chosen(self, index: QModelIndex) -> None:
        self.commune_field.setText(str(index.data(Qt.ItemDataRole.DisplayRole)))
        self._check("commune")
