"""The patient summary and timeline, on crafted facts."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from sqlalchemy import event

from carehub.caseload.coding import normalize_code
from carehub.caseload.contacts import RelatedPersonInput, add_related_person, record_consent
from carehub.caseload.models import ClinicalFact, FactCoding
from carehub.caseload.services import PatientInput, create_patient
from carehub.caseload.summary import age_on, patient_summary, patient_timeline
from carehub.db import Database

TODAY = date(2025, 11, 14)
YESTERDAY = TODAY - timedelta(days=1)


def _jeanne(db: Database, *, birth_date: date = date(1942, 3, 2)) -> uuid.UUID:
    with db.transaction() as session:
        return create_patient(session, actor="alice", data=PatientInput(
            ins="295109912611193", birth_name="Martin", used_name="Durand",
            given_names="Jeanne", sex="F", birth_date=birth_date, commune_insee="41018",
            address_line="3 rue des Lilas", postal_code="41000", reduced_mobility=True,
            gp_name="Dr Petit", fragility_level=2,
            phones=[{"number": "06 12 34 56 78", "sms_consent": True},
                    {"number": "02 54 78 12 34"}]))


def _fact(db: Database, patient_id: uuid.UUID, kind: str, codes: list[tuple[str, str]],
          **fields: object) -> None:
    with db.transaction() as session:
        fact = ClinicalFact(patient_id=patient_id, kind=kind, **fields)
        session.add(fact)
        session.flush()
        for system, code in codes:
            session.add(FactCoding.of(fact, system=system, code=normalize_code(code),
                                      original_code=code))


def test_identity_phones_and_circle(db: Database) -> None:
    patient_id = _jeanne(db)
    with db.transaction() as session:
        add_related_person(session, patient_id=patient_id, actor="alice",
                           data=RelatedPersonInput(name="Claire Durand", relationship="fille",
                                                   is_caregiver=True, is_trusted_person=True,
                                                   phone="07 81 22 33 44"))
        record_consent(session, patient_id=patient_id, kind="dmp", granted=True,
                       on=date(2024, 1, 5), actor="alice")
        record_consent(session, patient_id=patient_id, kind="dmp", granted=False,
                       on=date(2025, 6, 1), actor="alice")
    with db.session() as session:
        summary = patient_summary(session, patient_id=patient_id, as_of=TODAY)
    assert summary.display_name == "DURAND née MARTIN Jeanne"
    assert (summary.age, summary.commune_name, summary.care_manager) == (83, "Blois", "alice")
    assert [(p.formatted, p.kind, p.sms_consent, p.uri) for p in summary.phones] == [
        ("06 12 34 56 78", "mobile", True, "tel:+33612345678"),
        ("02 54 78 12 34", "fixed", False, "tel:+33254781234")]
    assert summary.accessibility == ("Mobilité réduite",)
    assert summary.trusted_person is not None and summary.trusted_person.name == "Claire Durand"
    assert summary.trusted_person.phone is not None
    assert summary.trusted_person.phone.formatted == "07 81 22 33 44"
    assert summary.caregivers == (summary.trusted_person,)
    assert summary.legal_guardian is None
    assert [(c.kind, c.granted, c.on) for c in summary.consents] == [
        ("dmp", False, date(2025, 6, 1))]


def test_age_counts_a_birthday_today_and_not_tomorrow() -> None:
    assert age_on(date(1950, 11, 14), TODAY) == 75
    assert age_on(date(1950, 11, 15), TODAY) == 74
    assert age_on(date(1952, 2, 29), date(2025, 2, 28)) == 72
    assert age_on(date(1952, 2, 29), date(2025, 3, 1)) == 73


def test_age_of_a_patient_whose_birthday_is_today(db: Database) -> None:
    patient_id = _jeanne(db, birth_date=date(1945, TODAY.month, TODAY.day))
    with db.session() as session:
        assert patient_summary(session, patient_id=patient_id, as_of=TODAY).age == 80


def test_current_treatments_allergies_and_active_conditions(db: Database) -> None:
    patient_id = _jeanne(db)
    _fact(db, patient_id, "medication", [("atc", "A10AE04")], display="Insuline glargine",
          start_date=date(2020, 1, 1))
    _fact(db, patient_id, "medication", [("atc", "C03CA01")], display="Furosémide",
          start_date=date(2024, 1, 1), end_date=YESTERDAY)
    _fact(db, patient_id, "medication", [("atc", "B01AC06")], display="Aspirine",
          start_date=date(2024, 1, 1), status="stopped")
    _fact(db, patient_id, "medication", [("atc", "N02BE01")], display="Paracétamol",
          start_date=TODAY + timedelta(days=1))
    _fact(db, patient_id, "medication", [("atc", "C09AA05")], display="Ramipril",
          start_date=date(2023, 5, 1), end_date=TODAY)
    _fact(db, patient_id, "allergy", [("snomed", "91936005")], display="Pénicilline")
    _fact(db, patient_id, "condition", [("icd10", "E11.9")], start_date=date(2010, 6, 1))
    _fact(db, patient_id, "condition", [("icd10", "J18.9")], display="Pneumopathie",
          start_date=date(2025, 1, 3), end_date=date(2025, 2, 1))
    _fact(db, patient_id, "condition", [("icd10", "I10")], display="HTA",
          start_date=date(2015, 1, 1), status="resolved")
    with db.session() as session:
        summary = patient_summary(session, patient_id=patient_id, as_of=TODAY)
    assert [t.display for t in summary.treatments] == ["Ramipril", "Insuline glargine"]
    assert [a.display for a in summary.allergies] == ["Pénicilline"]
    # No display of its own: the codes stand in.
    assert [(c.display, c.codes) for c in summary.conditions] == [("CIM-10 E11.9", "CIM-10 E11.9")]


def test_last_vaccination_and_screening_dates(db: Database) -> None:
    patient_id = _jeanne(db)
    _fact(db, patient_id, "immunization", [("cvx", "141")], start_date=date(2023, 10, 20))
    _fact(db, patient_id, "immunization", [("atc", "J07BB02")], start_date=date(2024, 10, 28))
    _fact(db, patient_id, "immunization", [("cvx", "33")], start_date=date(2019, 4, 2))
    _fact(db, patient_id, "immunization", [("cvx", "141")], start_date=TODAY + timedelta(days=3))
    # A flu vaccine order on the medication list is not a vaccination.
    _fact(db, patient_id, "medication", [("atc", "J07BB02")], start_date=date(2025, 10, 1))
    _fact(db, patient_id, "procedure", [("snomed", "71651007")], start_date=date(2021, 3, 4))
    _fact(db, patient_id, "observation", [("loinc", "24606-6")], start_date=date(2023, 3, 9))
    _fact(db, patient_id, "observation", [("loinc", "29771-3")], start_date=date(2022, 5, 5))
    with db.session() as session:
        summary = patient_summary(session, patient_id=patient_id, as_of=TODAY)
    assert {v.concept: v.on for v in summary.vaccinations} == {
        "flu": date(2024, 10, 28), "dtp": None, "pneumococcal": date(2019, 4, 2),
        "shingles": None, "covid": None}
    assert {s.concept: s.on for s in summary.screenings} == {
        "mammography": date(2023, 3, 9), "fit": date(2022, 5, 5), "colonoscopy": None,
        "cervical_cytology": None, "hpv_test": None}


def test_a_man_is_not_shown_women_screenings(db: Database) -> None:
    with db.transaction() as session:
        patient_id = create_patient(session, actor="alice", data=PatientInput(
            birth_name="Roux", given_names="Paul", sex="M", birth_date="1950-01-01"))
    with db.session() as session:
        summary = patient_summary(session, patient_id=patient_id, as_of=TODAY)
    assert [s.concept for s in summary.screenings] == ["fit", "colonoscopy"]


def test_timeline_newest_first_undated_last_with_details(db: Database) -> None:
    patient_id = _jeanne(db)
    _fact(db, patient_id, "observation", [("loinc", "4548-4")], display="HbA1c",
          start_date=date(2025, 3, 1), value_num=7.2, value_unit="%")
    _fact(db, patient_id, "encounter", [("v3-actcode", "IMP")], display="Séjour cardiologie",
          start_date=date(2025, 9, 1), end_date=date(2025, 9, 6), encounter_class="IMP")
    _fact(db, patient_id, "allergy", [("snomed", "91936005")], display="Pénicilline")
    _fact(db, patient_id, "condition", [("icd10", "E11.9")], start_date=date(2010, 6, 1))
    _fact(db, patient_id, "observation", [("loinc", "85354-9")], display="Pression artérielle",
          start_date=date(2024, 5, 2), value_num=151, value_unit="mm[Hg]", value_text="151/67")
    _fact(db, patient_id, "immunization", [("cvx", "141")], display="Vaxigrip",
          start_date=date(2023, 10, 20), status="completed")
    _fact(db, patient_id, "medication", [("atc", "B01AC06")], display="Aspirine",
          start_date=date(2023, 1, 1), end_date=date(2023, 6, 30), status="stopped")
    with db.session() as session:
        timeline = patient_timeline(session, patient_id=patient_id)
    assert [(e.on, e.kind_label, e.text, e.detail) for e in timeline] == [
        (date(2025, 9, 1), "Hospitalisation", "Séjour cardiologie", "sortie le 06/09/2025"),
        (date(2025, 3, 1), "Résultat", "HbA1c", "7,2 %"),
        (date(2024, 5, 2), "Résultat", "Pression artérielle", "151/67 mmHg"),
        (date(2023, 10, 20), "Vaccination", "Vaxigrip", ""),
        (date(2023, 1, 1), "Traitement", "Aspirine", "jusqu'au 30/06/2023 · arrêté"),
        (date(2010, 6, 1), "Pathologie", "CIM-10 E11.9", ""),
        (None, "Allergie", "Pénicilline", ""),
    ]


def test_summary_and_timeline_take_few_queries_for_hundreds_of_facts(db: Database) -> None:
    patient_id = _jeanne(db)
    with db.transaction() as session:
        for day in range(600):
            fact = ClinicalFact(patient_id=patient_id, kind=("observation", "medication")[day % 2],
                                start_date=date(2020, 1, 1) + timedelta(days=day))
            session.add(fact)
            session.flush()
            session.add(FactCoding.of(fact, system="loinc", code="4548-4"))
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        statements.append(statement)

    with db.session() as session:
        engine = session.get_bind()
        event.listen(engine, "before_cursor_execute", count)
        try:
            summary = patient_summary(session, patient_id=patient_id, as_of=TODAY)
            timeline = patient_timeline(session, patient_id=patient_id)
        finally:
            event.remove(engine, "before_cursor_execute", count)
    assert len(summary.treatments) == 300 and len(timeline) == 600
    assert len(statements) <= 16
