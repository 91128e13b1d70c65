"""The card of the patient being called: who, how to reach her, why, what to say.

It never touches the database: the page hands it the call-list line and, once the worker
has loaded them, the last contacts. A click on a number (or Entrée in the list) asks the
page to dial it through the `tel:` link.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from carehub.coordination.services import ActionRow
from carehub.prevention.services import CallListItem
from ui.formatting import age_text, esc, format_date, phone_link
from ui.my_day.texts import (
    channel_text,
    escalation_text,
    hours_text,
    is_callback,
    local,
    moment_text,
    overdue_text,
    phone_kind_text,
    sms_text,
    textable_phones,
    tr,
)
from ui.widgets.patient_panel import MUTED, Section, format_ins

ESCALATION_STYLE = ("QLabel { background: #fff4e5; color: #7c2d12; border: 1px solid #f5c28b;"
                    " border-radius: 6px; padding: 6px 10px; font-weight: bold; }")
CHANNEL_STYLE = ("QLabel { background: #e8f0fe; color: #1e3a8a; border: 1px solid #b6c8f5;"
                 " border-radius: 6px; padding: 6px 10px; font-weight: bold; }")
SCRIPT_STYLE = "color:#1f2937; font-style:italic"
MAX_CONTACTS = 5

ACTION_TYPES_FR = {"call": "Appel", "sms": "SMS", "referral": "Orientation",
                   "appointment": "Rendez-vous", "message": "Messagerie sécurisée",
                   "document": "Document", "meeting": "Concertation",
                   "discharge_followup": "Suivi de sortie", "orientation": "Orientation sociale"}
OUTCOMES_FR = {"reached": "joint(e)", "no_answer": "pas de réponse",
               "voicemail": "messagerie", "wrong_number": "faux numéro",
               "refused": "refus", "callback": "à rappeler"}


_FRENCH_NUMBER = re.compile(r"\b0[1-9](?: \d\d){4}\b")


def _linked_phones(text: str) -> str:
    """Escaped text whose French numbers ('06 12 34 56 78') are tel: links."""
    parts, last = [], 0
    for match in _FRENCH_NUMBER.finditer(text):
        parts.append(esc(text[last:match.start()]))
        digits = match.group().replace(" ", "")
        parts.append(phone_link("+33" + digits[1:], match.group()))
        last = match.end()
    parts.append(esc(text[last:]))
    return "".join(parts)


def _muted(text: str) -> str:
    return f'<span style="color:{MUTED}">{esc(text)}</span>'


class PatientCard(QWidget):
    """Identity, phones, caregiver, reasons with the words to say, last contacts, SMS."""

    phoneActivated = Signal(str)  # the E.164 number the nurse clicked

    def __init__(self, *, sender: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.sender_name = sender
        self.item: CallListItem | None = None
        self.stack = QStackedWidget()
        self.placeholder = QLabel(tr("Personne à appeler pour l'instant."))
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setStyleSheet(f"color: {MUTED};")
        self.stack.addWidget(self.placeholder)
        self.stack.addWidget(self._build_card())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)

    def _build_card(self) -> QWidget:
        self.name_label = QLabel()
        font = self.name_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.35)
        font.setBold(True)
        self.name_label.setFont(font)
        self.name_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.identity_label = QLabel()
        self.identity_label.setTextFormat(Qt.TextFormat.RichText)
        self.identity_label.setWordWrap(True)
        self.channel_label = QLabel()
        self.channel_label.setWordWrap(True)
        self.channel_label.setStyleSheet(CHANNEL_STYLE)
        self.escalation_label = QLabel()
        self.escalation_label.setWordWrap(True)
        self.escalation_label.setStyleSheet(ESCALATION_STYLE)

        self.contact = Section(tr("Téléphones et entourage"))
        self.contact.body.linkActivated.connect(self._link)
        self.reasons = Section(tr("Motifs : pourquoi et quoi dire"))
        self.contacts = Section(tr("Derniers contacts"))

        self.sms = Section(tr("SMS prêt à envoyer"))
        self.sms_text = QPlainTextEdit()
        self.sms_text.setReadOnly(True)
        self.sms_text.setTabChangesFocus(True)
        self.sms_text.setFixedHeight(self.fontMetrics().height() * 4 + 12)
        self.copy_button = QPushButton(tr("Copier le SMS (S)"))
        self.copy_button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.copy_button.clicked.connect(self.copy_sms)
        sms_row = QHBoxLayout()
        sms_row.addWidget(self.sms_text, 1)
        sms_row.addWidget(self.copy_button, 0, Qt.AlignmentFlag.AlignTop)
        sms_layout = self.sms.layout()
        assert isinstance(sms_layout, QVBoxLayout)
        sms_layout.addLayout(sms_row)

        content = QWidget()
        layout = QVBoxLayout(content)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.setSpacing(8)
        layout.addWidget(self.name_label)
        layout.addWidget(self.identity_label)
        layout.addWidget(self.channel_label)
        layout.addWidget(self.escalation_label)
        layout.addWidget(self.contact)
        layout.addWidget(self.reasons)
        layout.addWidget(self.sms)
        layout.addWidget(self.contacts)
        layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        scroll.setWidget(content)
        return scroll

    # -- showing --------------------------------------------------------------------------

    def show_item(self, item: CallListItem, *, today: date, keep_contacts: bool = False) -> None:
        """Show the line; `keep_contacts` when it is the same patient's, reloaded."""
        self.item = item
        self.name_label.setText(item.name)
        sex = {"F": tr("Femme"), "M": tr("Homme")}.get(item.sex, "")
        parts = [x for x in (sex, f"<b>{esc(age_text(item.age))}</b>") if x]
        if item.ins:
            parts.append(f"INS {esc(format_ins(item.ins))}")
        hours = hours_text(item)
        if hours:
            parts.append(esc(tr("à appeler %1").replace("%1", hours)))
        if item.planned_at is not None:
            planned = tr("rappel prévu %1") if is_callback(item) else tr("nouvel essai %1")
            parts.append("<b>" + esc(planned.replace(
                "%1", moment_text(item.planned_at, today=today))) + "</b>")
        self.identity_label.setText(" · ".join(parts))
        not_phoned = item.channel != "phone"
        self.channel_label.setVisible(not_phoned)
        if not_phoned:
            self.channel_label.setText(tr("Ne pas appeler : %1").replace(
                "%1", item.channel_reason_fr or channel_text(item.channel)))
        self.escalation_label.setVisible(bool(item.escalation))
        if item.escalation:
            attempts = (tr("%1 essais sans réponse").replace("%1", str(item.attempts))
                        if item.attempts > 1 else tr("Injoignable"))
            self.escalation_label.setText(f"{attempts} : {escalation_text(item.escalation)}")
        self.contact.set_html(self._contact_html(item))
        self.reasons.set_html(self._reasons_html(item))
        textable = textable_phones(item)
        self.sms.setVisible(bool(textable))
        if textable:
            self.sms_text.setPlainText(sms_text(item, sender=self.sender_name))
        if not keep_contacts:
            self.contacts.set_html(_muted(tr("Chargement…")))
        self.stack.setCurrentIndex(1)

    def show_contacts(self, actions: Sequence[ActionRow]) -> None:
        if not actions:
            self.contacts.set_html(_muted(tr("Aucun contact enregistré.")))
            return
        lines = []
        for action in actions[:MAX_CONTACTS]:
            at = local(action.at)
            head = f"{format_date(at.date())} {at.strftime('%H:%M')}"
            what = tr(ACTION_TYPES_FR.get(action.type, action.type))
            if action.outcome:
                what += " · " + tr(OUTCOMES_FR.get(action.outcome, action.outcome))
            if action.practitioner_name:
                what += " · " + action.practitioner_name
            line = f"{_muted(head)} <b>{esc(what)}</b> {_muted(action.author)}"
            if action.note:
                line += f"<br>{esc(action.note)}"
            lines.append(line)
        self.contacts.set_html("<br>".join(lines))

    def clear(self) -> None:
        self.item = None
        self.stack.setCurrentIndex(0)

    # -- parts ----------------------------------------------------------------------------

    def _contact_html(self, item: CallListItem) -> str:
        lines = []
        for phone in item.phones:
            notes = [phone_kind_text(phone), *([phone.label] if phone.label else [])]
            if phone.sms_consent:
                notes.append(tr("SMS accepté"))
            lines.append(f"<b>{phone_link(phone.e164, phone.formatted)}</b> "
                         f"{_muted(' · '.join(notes))}")
        if not lines:
            lines.append(_muted(tr("Pas de numéro à appeler")))
        for phone in item.phones_to_check:  # a wrong number: shown, not dialled
            lines.append(f"<s>{esc(phone.formatted)}</s> "
                         f'<b style="color:#9a3412">{esc(tr("numéro à vérifier"))}</b>')
        if item.email:
            lines.append(f'<a href="mailto:{esc(item.email)}">{esc(item.email)}</a>')
        if item.hours_note:
            lines.append(_muted(item.hours_note))
        if item.caregiver:  # her number is a link too: escalation means calling her
            lines.append(tr("Aidant ou proche : ") + _linked_phones(item.caregiver))
        if item.gp_name:
            lines.append(tr("Médecin traitant : ") + esc(item.gp_name))
        return "<br>".join(lines)

    def _reasons_html(self, item: CallListItem) -> str:
        blocks = []
        for reason in item.reasons:
            block = (f"<b>{esc(reason.label_fr)}</b> {_muted(overdue_text(reason))}"
                     f"<br>{esc(tr('Pourquoi : '))}{esc(reason.explanation_fr)}")
            if reason.script_fr:
                block += f'<br><span style="{SCRIPT_STYLE}">« {esc(reason.script_fr)} »</span>'
            blocks.append(f'<p style="margin:0 0 8px 0">{block}</p>')
        return "".join(blocks)

    def _link(self, link: str) -> None:
        if link.startswith("tel:"):
            self.phoneActivated.emit(link.removeprefix("tel:"))

    def copy_sms(self) -> None:
        if self.sms.isVisible():
            QGuiApplication.clipboard().setText(self.sms_text.toPlainText())
