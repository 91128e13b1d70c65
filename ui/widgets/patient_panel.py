"""The patient panel: a calm one-screen summary and the timeline.

It never touches the database: the main window loads a PatientSummary and the timeline
on its worker thread and calls `show_patient`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from PySide6.QtCore import QSortFilterProxyModel, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QResizeEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QScrollArea,
    QStackedWidget,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from carehub.caseload.summary import (
    FactLine,
    LastDone,
    PatientSummary,
    PersonLine,
    PhoneLine,
    TimelineEntry,
)
from ui.formatting import age_text, esc, format_date, format_time, phone_link
from ui.widgets.timeline_model import SORT_ROLE, TimelineModel

TWO_COLUMNS_WIDTH = 640  # narrower, the cards stack in one column
MAX_LINES = 10  # longer lists end with "… et N autres": the timeline has them all
MUTED = "#5f6b76"
FRAGILITY_COLOURS = {0: "#dff3e4", 1: "#fff4cc", 2: "#ffe0c2", 3: "#ffd1d1"}
CARD_STYLE = ("QFrame#card { background: palette(base); border: 1px solid #d9dee3;"
              " border-radius: 6px; }")
ALLERGY_STYLE = ("QLabel { background: #fdecea; color: #8a1c14; border: 1px solid #f0b4ae;"
                 " border-radius: 6px; padding: 6px 10px; font-weight: bold; }")
CHIP_STYLE = "QLabel {{ background: {}; border-radius: 9px; padding: 2px 10px; }}"


def format_ins(ins: str) -> str:
    """'2 95 10 99 126 111 93': the grouping printed on the carte Vitale."""
    if len(ins) != 15:
        return ins
    parts = (ins[0], ins[1:3], ins[3:5], ins[5:7], ins[7:10], ins[10:13], ins[13:])
    return " ".join(parts)


class Section(QFrame):
    """A titled card whose body is one rich-text label (links open through the panel)."""

    def __init__(self, title: str) -> None:
        super().__init__()
        self.setObjectName("card")
        self.setStyleSheet(CARD_STYLE)
        self.title = QLabel(title)
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.body = QLabel()
        self.body.setWordWrap(True)
        self.body.setTextFormat(Qt.TextFormat.RichText)
        self.body.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.body.setOpenExternalLinks(False)
        self.body.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 10)
        layout.setSpacing(4)
        layout.addWidget(self.title)
        layout.addWidget(self.body)

    def set_html(self, html: str) -> None:
        self.body.setText(html)


class PatientPanel(QWidget):
    phoneActivated = Signal(str)  # the tel: URI the user clicked (before it is opened)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._summary: PatientSummary | None = None
        self.stack = QStackedWidget()
        self.placeholder = QLabel(self.tr("Sélectionnez un patient pour voir sa synthèse."))
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setStyleSheet(f"color: {MUTED};")
        self.tabs = QTabWidget()
        self.tabs.addTab(self._summary_page(), self.tr("Synthèse"))
        self.tabs.addTab(self._timeline_page(), self.tr("Chronologie"))
        self.stack.addWidget(self.placeholder)
        self.stack.addWidget(self.tabs)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)

    # -- building -----------------------------------------------------------------------

    def _summary_page(self) -> QWidget:
        self.name_label = QLabel()
        self.name_label.setObjectName("patientName")
        font = self.name_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.35)
        font.setBold(True)
        self.name_label.setFont(font)
        self.name_label.setWordWrap(True)
        self.name_label.setTextFormat(Qt.TextFormat.PlainText)
        self.name_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.identity_label = QLabel()
        self.identity_label.setWordWrap(True)
        self.identity_label.setTextFormat(Qt.TextFormat.RichText)
        self.identity_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status_chip = QLabel()
        self.fragility_chip = QLabel()
        chips = QHBoxLayout()
        chips.addWidget(self.status_chip)
        chips.addWidget(self.fragility_chip)
        chips.addStretch(1)
        self.allergy_label = QLabel()
        self.allergy_label.setObjectName("allergies")
        self.allergy_label.setWordWrap(True)
        self.allergy_label.setTextFormat(Qt.TextFormat.RichText)

        self.contact = self._section(self.tr("Contact"))
        self.circle = self._section(self.tr("Entourage"))
        self.care = self._section(self.tr("Médecin traitant et suivi"))
        self.treatments = self._section(self.tr("Traitements en cours"))
        self.conditions = self._section(self.tr("Pathologies actives"))
        self.prevention = self._section(self.tr("Vaccinations et dépistages"))
        self.consents = self._section(self.tr("Consentements"))

        self.card_columns = (QVBoxLayout(), QVBoxLayout())
        self.cards = QHBoxLayout()
        self.cards.setSpacing(10)
        for column in self.card_columns:
            column.setSpacing(10)
            self.cards.addLayout(column, 1)
        self._columns = 0
        self._arrange(2)

        content = QWidget()
        layout = QVBoxLayout(content)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.setSpacing(8)
        layout.addWidget(self.name_label)
        layout.addWidget(self.identity_label)
        layout.addLayout(chips)
        layout.addWidget(self.allergy_label)
        layout.addLayout(self.cards)
        layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(content)
        return scroll

    def _arrange(self, columns: int) -> None:
        """Two columns of cards on a wide panel, one (most urgent first) on a narrow one."""
        if columns == self._columns:
            return
        self._columns = columns
        for column in self.card_columns:
            while column.count():
                column.takeAt(0)
        if columns == 2:
            placed = [[self.contact, self.circle, self.care, self.consents],
                      [self.treatments, self.conditions, self.prevention]]
        else:
            placed = [[self.contact, self.treatments, self.conditions, self.circle,
                       self.prevention, self.care, self.consents], []]
        for column, cards in zip(self.card_columns, placed, strict=True):
            for card in cards:
                column.addWidget(card)
            column.addStretch(1)
        self.cards.setStretch(1, 1 if columns == 2 else 0)

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._arrange(2 if event.size().width() >= TWO_COLUMNS_WIDTH else 1)
        super().resizeEvent(event)

    def _section(self, title: str) -> Section:
        section = Section(title)
        section.body.linkActivated.connect(self._open_link)
        return section

    def _timeline_page(self) -> QWidget:
        self.timeline_model = TimelineModel(self)
        self.timeline_proxy = QSortFilterProxyModel(self)
        self.timeline_proxy.setSourceModel(self.timeline_model)
        self.timeline_proxy.setFilterKeyColumn(-1)
        self.timeline_proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.timeline_proxy.setSortRole(SORT_ROLE)
        self.timeline_filter = QLineEdit()
        self.timeline_filter.setPlaceholderText(self.tr("Filtrer : type, libellé, détail…"))
        self.timeline_filter.setClearButtonEnabled(True)
        self.timeline_filter.textChanged.connect(self.timeline_proxy.setFilterFixedString)
        self.timeline_view = QTableView()
        self.timeline_view.setModel(self.timeline_proxy)
        self.timeline_view.setSortingEnabled(True)
        self.timeline_view.sortByColumn(0, Qt.SortOrder.DescendingOrder)
        self.timeline_view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.timeline_view.setAlternatingRowColors(True)
        self.timeline_view.setWordWrap(False)
        self.timeline_view.verticalHeader().hide()
        header = self.timeline_view.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(3, header.fontMetrics().horizontalAdvance("sortie le 00/00/0000__"))
        self.timeline_view.setTextElideMode(Qt.TextElideMode.ElideRight)
        rows = self.timeline_view.verticalHeader()
        rows.setDefaultSectionSize(rows.fontMetrics().height() + 8)
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.timeline_filter)
        layout.addWidget(self.timeline_view)
        return page

    # -- showing ------------------------------------------------------------------------

    def show_patient(self, summary: PatientSummary, timeline: list[TimelineEntry]) -> None:
        self._summary = summary
        self.name_label.setText(summary.display_name)
        self.identity_label.setText(self._identity_html(summary))
        self._set_chips(summary)
        self._set_allergies(summary.allergies)
        self.contact.set_html(self._contact_html(summary))
        self.circle.set_html(self._circle_html(summary.circle))
        self.care.set_html(self._care_html(summary))
        self.treatments.set_html(self._facts_html(summary.treatments, since=True,
                                                  none=self.tr("Aucun traitement en cours.")))
        self.conditions.set_html(self._facts_html(summary.conditions, since=True,
                                                  none=self.tr("Aucune pathologie active.")))
        self.prevention.set_html(self._prevention_html(summary))
        self.consents.set_html(self._consents_html(summary))
        self.timeline_model.set_entries(timeline)
        self.timeline_filter.clear()
        self.stack.setCurrentWidget(self.tabs)

    def clear(self) -> None:
        self._summary = None
        self.timeline_model.set_entries([])
        self.stack.setCurrentWidget(self.placeholder)

    def shown_patient(self) -> PatientSummary | None:
        return self._summary

    def shown_patient_id(self) -> uuid.UUID | None:
        return self._summary.id if self._summary is not None else None

    def _open_link(self, link: str) -> None:
        if link.startswith("tel:"):
            self.phoneActivated.emit(link)
        QDesktopServices.openUrl(QUrl(link))

    # -- the parts ----------------------------------------------------------------------

    def _muted(self, text: str, *, nowrap: bool = False) -> str:
        escaped = esc(text).replace(" ", "&nbsp;") if nowrap else esc(text)
        return f'<span style="color:{MUTED}">{escaped}</span>'

    def _identity_html(self, s: PatientSummary) -> str:
        sex = {"F": self.tr("Femme"), "M": self.tr("Homme")}.get(s.sex, self.tr("Sexe non précisé"))
        born = self.tr("née le") if s.sex == "F" else self.tr("né le")
        parts = [f"{sex}, <b>{esc(age_text(s.age))}</b> ({born} {format_date(s.birth_date)})"]
        if s.deceased_date:
            parts.append(self.tr("décès le %1").replace("%1", format_date(s.deceased_date)))
        identity = {"provisional": self.tr("identité provisoire"),
                    "validated": self.tr("identité validée"),
                    "qualified": self.tr("INS qualifiée")}.get(s.identity_status, "")
        if s.ins:
            parts.append(f"INS {esc(format_ins(s.ins))} " + self._muted(f"({identity})"))
        else:
            parts.append(self._muted(self.tr("sans INS") + f" ({identity})"))
        return " · ".join(parts)

    def _set_chips(self, s: PatientSummary) -> None:
        status = {"active": self.tr("Suivi actif"), "paused": self.tr("Suivi en pause"),
                  "closed": self.tr("Suivi clos"), "deceased": self.tr("Décédé(e)")}
        self.status_chip.setText(status.get(s.status, s.status))
        self.status_chip.setStyleSheet(CHIP_STYLE.format(
            "#e3ecf7" if s.status == "active" else "#e6e6e6"))
        fragility = {0: self.tr("Robuste"), 1: self.tr("Pré-fragile"), 2: self.tr("Fragile"),
                     3: self.tr("Très fragile ou dépendant")}
        level = s.fragility_level
        self.fragility_chip.setText(fragility[level] if level in fragility
                                    else self.tr("Fragilité non évaluée"))
        self.fragility_chip.setStyleSheet(CHIP_STYLE.format(
            FRAGILITY_COLOURS.get(level, "#eeeeee") if level is not None else "#eeeeee"))

    def _set_allergies(self, allergies: Sequence[FactLine]) -> None:
        if allergies:
            names = ", ".join(esc(a.display) for a in allergies)
            self.allergy_label.setText(self.tr("⚠ Allergies : ") + names)
            self.allergy_label.setStyleSheet(ALLERGY_STYLE)
        else:
            self.allergy_label.setText(self.tr("Aucune allergie connue"))
            self.allergy_label.setStyleSheet(f"QLabel {{ color: {MUTED}; padding: 0 2px; }}")

    def _phone_html(self, phone: PhoneLine) -> str:
        kind = {"mobile": self.tr("mobile"), "fixed": self.tr("fixe")}.get(phone.kind,
                                                                          self.tr("autre"))
        notes = [kind, *([phone.label] if phone.label else [])]
        if phone.sms_consent:
            notes.append(self.tr("SMS accepté"))
        return f"{phone_link(phone.e164, phone.formatted)} {self._muted(' · '.join(notes))}"

    def _contact_html(self, s: PatientSummary) -> str:
        lines = ([self._phone_html(p) for p in s.phones]
                 or [self._muted(self.tr("Pas de téléphone"))])
        address = ", ".join(p for p in (s.address_line,
                                        " ".join(x for x in (s.postal_code, s.commune_name) if x))
                            if p)
        if address:
            lines.append(esc(address))
        if s.email:
            lines.append(f'<a href="mailto:{esc(s.email)}">{esc(s.email)}</a>')
        lines.append(self._preference_html(s))
        if s.accessibility:
            lines.append("<b>" + esc(" · ".join(s.accessibility)) + "</b>")
        return "<br>".join(lines)

    def _preference_html(self, s: PatientSummary) -> str:
        channel = {"phone": self.tr("téléphone"), "sms": self.tr("SMS"),
                   "email": self.tr("courriel"), "letter": self.tr("courrier"),
                   "visit": self.tr("visite")}.get(s.preferred_channel, s.preferred_channel)
        text = self.tr("Préfère : %1").replace("%1", channel)
        if s.call_after and s.call_before:
            text += self.tr(", entre %1 et %2").replace("%1", format_time(s.call_after)) \
                .replace("%2", format_time(s.call_before))
        elif s.call_after:
            text += self.tr(", après %1").replace("%1", format_time(s.call_after))
        elif s.call_before:
            text += self.tr(", avant %1").replace("%1", format_time(s.call_before))
        if s.preferred_hours_note:
            text += f" ({s.preferred_hours_note})"
        return self._muted(text)

    def _person_html(self, person: PersonLine) -> str:
        head = f"<b>{esc(person.name)}</b>"
        if person.relationship:
            head += f" ({esc(person.relationship)})"
        roles = [self._role_fr(person)]
        line = f"{head} — {esc(', '.join(r for r in roles if r))}"
        if person.is_legal_guardian and person.guardian_agreement_required:
            line += "<br>" + self.tr("<b>Accord du représentant requis</b> avant toute décision")
        if person.phone:
            line += "<br>" + self._phone_html(person.phone)
        return line

    def _role_fr(self, person: PersonLine) -> str:
        roles = []
        if person.is_caregiver:
            roles.append(self.tr("aidant"))
        if person.is_trusted_person:
            roles.append(self.tr("personne de confiance"))
        if person.is_legal_guardian:
            roles.append(self.tr("représentant légal")
                         + (f" ({person.guardianship})" if person.guardianship else ""))
        if person.is_emergency_contact:
            roles.append(self.tr("à prévenir en urgence"))
        return ", ".join(roles)

    def _circle_html(self, circle: Sequence[PersonLine]) -> str:
        if not circle:
            return self._muted(self.tr("Aucun proche enregistré."))
        return "".join(f'<p style="margin:0 0 6px 0">{self._person_html(p)}</p>' for p in circle)

    def _care_html(self, s: PatientSummary) -> str:
        gp = esc(s.gp_name) if s.gp_name else self._muted(self.tr("Pas de médecin traitant"))
        if s.gp_rpps:
            gp += " " + self._muted(f"RPPS {s.gp_rpps}")
        lines = [self.tr("Médecin traitant : ") + gp]
        if s.care_manager:
            lines.append(self.tr("Infirmière coordinatrice : ") + esc(s.care_manager))
        if s.advance_directives:
            holder = (self.tr(", détenues par %1").replace("%1", esc(s.advance_directives_holder))
                      if s.advance_directives_holder else "")
            lines.append(self.tr("Directives anticipées rédigées") + holder)
        else:
            lines.append(self._muted(self.tr("Pas de directives anticipées connues")))
        return "<br>".join(lines)

    def _facts_html(self, facts: Sequence[FactLine], *, since: bool, none: str) -> str:
        if not facts:
            return self._muted(none)
        lines = []
        for fact in facts[:MAX_LINES]:
            line = esc(fact.display)
            if since and fact.start:
                since_text = self.tr("depuis %1").replace("%1", format_date(fact.start))
                line += " " + self._muted(since_text, nowrap=True)
            lines.append(line)
        if len(facts) > MAX_LINES:
            lines.append(self._muted(self.tr("… et %1 autres (voir Chronologie)")
                                     .replace("%1", str(len(facts) - MAX_LINES))))
        return "<br>".join(lines)

    def _dated_rows(self, items: Sequence[LastDone]) -> str:
        rows = []
        for item in items:
            when = format_date(item.on) if item.on else self._muted(self.tr("aucun"))
            rows.append(f"<tr><td>{esc(item.label)}</td>"
                        f'<td style="padding-left:12px" align="right">{when}</td></tr>')
        return "".join(rows)

    def _prevention_html(self, s: PatientSummary) -> str:
        return ('<table cellspacing="0" cellpadding="1" width="100%">'
                f'<tr><td colspan="2"><i>{self.tr("Dernier vaccin")}</i></td></tr>'
                f"{self._dated_rows(s.vaccinations)}"
                f'<tr><td colspan="2" style="padding-top:6px"><i>{self.tr("Dernier dépistage")}'
                f"</i></td></tr>{self._dated_rows(s.screenings)}</table>")

    def _consents_html(self, s: PatientSummary) -> str:
        if not s.consents:
            return self._muted(self.tr("Aucun consentement enregistré."))
        labels = {"followup": self.tr("Suivi par l'infirmière"),
                  "team_sharing": self.tr("Partage avec l'équipe"),
                  "dmp": self.tr("Alimentation du DMP")}
        lines = []
        for consent in s.consents:
            answer = (self.tr("<b>accordé</b>") if consent.granted
                      else '<b style="color:#8a1c14">' + self.tr("refusé") + "</b>")
            lines.append(f"{esc(labels.get(consent.kind, consent.label))} : {answer} "
                         + self._muted(self.tr("le %1").replace("%1", format_date(consent.on))))
        return "<br>".join(lines)
