"""The patient panel as a care manager reads it, fed by the real summary of a real patient."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from PySide6.QtCore import QObject, QPoint, Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices, QTextDocument
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from carehub.caseload.contacts import RelatedPersonInput, add_related_person
from carehub.caseload.models import ClinicalFact, FactCoding
from carehub.caseload.summary import (
    PatientSummary,
    TimelineEntry,
    patient_summary,
    patient_timeline,
)
from carehub.db import Database
from tests.ui import add_patients
from ui.widgets.patient_panel import PatientPanel
from ui.widgets.timeline_model import TimelineModel

TODAY = date(2025, 11, 14)


class TelHandler(QObject):
    """Stands where the softphone would: QDesktopServices hands it the tel: URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.opened: list[str] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.opened.append(url.toString())


@pytest.fixture
def jeanne(db: Database) -> tuple[PatientSummary, list[TimelineEntry]]:
    patient_id: uuid.UUID = add_patients(db)["jeanne"]
    with db.transaction() as session:
        for kind, display, start, codes in [
            ("allergy", "Pénicilline", None, [("snomed", "91936005")]),
            ("allergy", "Allergie à l'aspirine", None, []),
            ("medication", "Metformine 1000 mg", date(2018, 4, 1), [("atc", "A10BA02")]),
            ("condition", "Diabète de type 2", date(2010, 6, 1), [("icd10", "E119")]),
            ("immunization", "Vaxigrip", date(2024, 10, 28), [("atc", "J07BB02")]),
        ]:
            fact = ClinicalFact(patient_id=patient_id, kind=kind, display=display,
                                start_date=start)
            session.add(fact)
            session.flush()
            for system, code in codes:
                session.add(FactCoding.of(fact, system=system, code=code))
        add_related_person(session, patient_id=patient_id, actor="alice",
                           data=RelatedPersonInput(name="Tutelle UDAF", is_legal_guardian=True,
                                                   guardianship="tutelle",
                                                   guardian_agreement_required=True,
                                                   phone="02 54 00 00 01"))
    with db.session() as session:
        return (patient_summary(session, patient_id=patient_id, as_of=TODAY),
                patient_timeline(session, patient_id=patient_id))


@pytest.fixture
def panel(qtbot: QtBot) -> PatientPanel:
    panel = PatientPanel()
    qtbot.addWidget(panel)
    panel.resize(900, 760)
    panel.show()
    return panel


def _seen(label: QLabel) -> str:
    """The text a user reads in a label (rich text rendered, entities decoded)."""
    if label.textFormat() != Qt.TextFormat.RichText:
        return label.text()
    document = QTextDocument()
    document.setHtml(label.text())
    return document.toPlainText()


def _summary_text(panel: PatientPanel) -> str:
    return "\n".join(label.text() for label in panel.tabs.widget(0).findChildren(QLabel)
                     if label.isVisibleTo(panel))


def test_the_summary_shows_who_how_to_call_and_allergies(
        panel: PatientPanel, jeanne: tuple[PatientSummary, list[TimelineEntry]]) -> None:
    panel.show_patient(*jeanne)
    text = _summary_text(panel)
    assert panel.name_label.text() == "DURAND née MARTIN Jeanne Marie"
    assert "75 ans" in panel.identity_label.text()  # born 02/03/1950
    assert "Fragile" in text and "Suivi actif" in text
    assert "06 12 34 56 78" in text
    assert '<a href="tel:+33612345678">06 12 34 56 78</a>' in panel.contact.body.text()
    assert _seen(panel.allergy_label) == "⚠ Allergies : Allergie à l'aspirine, Pénicilline"
    assert "Metformine 1000 mg" in panel.treatments.body.text()
    assert "Diabète de type 2" in panel.conditions.body.text()
    assert "28/10/2024" in panel.prevention.body.text()
    assert "Accord du représentant requis" in panel.circle.body.text()
    assert "02 54 00 00 01" in panel.circle.body.text()


def test_clicking_a_phone_number_opens_the_tel_link(
        qtbot: QtBot, panel: PatientPanel,
        jeanne: tuple[PatientSummary, list[TimelineEntry]]) -> None:
    panel.show_patient(*jeanne)
    handler = TelHandler()
    QDesktopServices.setUrlHandler("tel", handler, "open")
    try:
        body = panel.contact.body
        qtbot.waitExposed(body)
        # The first phone starts the card's text: click its first characters.
        first_line = QPoint(8, body.fontMetrics().height() // 2 + 1)
        with qtbot.waitSignal(panel.phoneActivated, timeout=5_000) as clicked:
            qtbot.mouseClick(body, Qt.MouseButton.LeftButton, pos=first_line)
    finally:
        QDesktopServices.unsetUrlHandler("tel")
    assert clicked.args == ["tel:+33612345678"]
    assert handler.opened == ["tel:+33612345678"]


def test_the_timeline_tab_lists_facts_newest_first(
        panel: PatientPanel, jeanne: tuple[PatientSummary, list[TimelineEntry]]) -> None:
    panel.show_patient(*jeanne)
    view = panel.timeline_view
    model = view.model()
    rows = [[model.index(row, column).data() for column in range(4)]
            for row in range(model.rowCount())]
    assert rows == [
        ["28/10/2024", "Vaccination", "Vaxigrip", ""],
        ["01/04/2018", "Traitement", "Metformine 1000 mg", ""],
        ["01/06/2010", "Pathologie", "Diabète de type 2", ""],
        ["", "Allergie", "Allergie à l'aspirine", ""],
        ["", "Allergie", "Pénicilline", ""],
    ]
    assert [model.headerData(c, Qt.Orientation.Horizontal) for c in range(4)] == [
        "Date", "Type", "Libellé", "Détail"]
    panel.timeline_filter.setText("vaccin")
    assert model.rowCount() == 1


def test_clear_forgets_the_patient(panel: PatientPanel,
                                   jeanne: tuple[PatientSummary, list[TimelineEntry]]) -> None:
    panel.show_patient(*jeanne)
    panel.clear()
    assert panel.shown_patient() is None
    assert panel.stack.currentWidget() is panel.placeholder
    assert panel.timeline_model.rowCount() == 0


def test_the_timeline_model_is_a_well_behaved_qt_model(
        qtmodeltester: object, jeanne: tuple[PatientSummary, list[TimelineEntry]]) -> None:
    model = TimelineModel()
    model.set_entries(jeanne[1])
    qtmodeltester.check(model)  # type: ignore[attr-defined]
    model.set_entries([])
    qtmodeltester.check(model)  # type: ignore[attr-defined]
