from __future__ import annotations

import uuid
from datetime import date

import pytest
from pydantic import ValidationError

from carehub.caseload.contacts import (
    RelatedPersonInput,
    add_related_person,
    current_consents,
    record_consent,
    related_persons,
)
from carehub.caseload.services import PatientInput, create_patient
from carehub.db import Database
from carehub.errors import InputError
from carehub.sync.outbox import pending_count


def _patient(db: Database) -> uuid.UUID:
    with db.transaction() as session:
        return create_patient(session, data=PatientInput(
            birth_name="Morel", given_names="Émile", sex="M", birth_date="1936-11-23"),
            actor="alice")


def test_one_person_can_hold_several_roles(db: Database) -> None:
    patient_id = _patient(db)
    with db.transaction() as session:
        add_related_person(session, patient_id=patient_id, actor="alice",
                           data=RelatedPersonInput(name="Claire Morel", relationship="fille",
                                                   is_caregiver=True, is_trusted_person=True,
                                                   phone="07 81 22 33 44"))
    with db.session() as session:
        [claire] = related_persons(session, patient_id=patient_id)
        assert (claire.is_caregiver, claire.is_trusted_person, claire.phone_e164,
                claire.phone_kind) == (True, True, "+33781223344", "mobile")
        assert pending_count(session) == 2


def test_a_related_person_needs_a_role_and_a_valid_phone(db: Database) -> None:
    with pytest.raises(ValidationError, match="caregiver, trusted person"):
        RelatedPersonInput(name="Voisin")
    patient_id = _patient(db)
    with pytest.raises(InputError, match="Invalid phone"), db.transaction() as session:
        add_related_person(session, patient_id=patient_id, actor="alice",
                           data=RelatedPersonInput(name="X", is_caregiver=True, phone="123"))


def test_latest_consent_of_each_kind_is_current(db: Database) -> None:
    patient_id = _patient(db)
    with db.transaction() as session:
        for kind, granted, on in [("dmp", True, date(2024, 1, 5)), ("dmp", False, date(2025, 6, 1)),
                                  ("followup", True, date(2024, 1, 5))]:
            record_consent(session, patient_id=patient_id, kind=kind,
                           granted=granted, on=on, actor="alice")
    with db.session() as session:
        consents = current_consents(session, patient_id=patient_id)
    assert {k: (c.granted, c.on) for k, c in consents.items()} == {
        "dmp": (False, date(2025, 6, 1)), "followup": (True, date(2024, 1, 5))}


def test_unknown_consent_is_refused(db: Database) -> None:
    patient_id = _patient(db)
    with pytest.raises(InputError, match="Unknown consent"), db.transaction() as session:
        record_consent(session, patient_id=patient_id, kind="photos",
                       granted=True, on=date(2024, 1, 1), actor="alice")
