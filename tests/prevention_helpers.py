"""Patients, facts and phones written straight into the tables, for the prevention tests."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, time

from sqlmodel import Session

from carehub.caseload.coding import normalize_code
from carehub.caseload.models import ClinicalFact, FactCoding, Patient, PatientPhone, RelatedPerson
from carehub.prevention.engine import DueReason, due_reasons
from carehub.prevention.naive import naive_due_reasons
from carehub.users.services import ensure_user

MAMMOGRAPHY = ("snomed", "71651007")
FIT = ("loinc", "29771-3")
COLONOSCOPY = ("snomed", "73761001")
CYTOLOGY = ("loinc", "10524-7")
HPV = ("loinc", "21440-3")
HYSTERECTOMY = ("snomed", "116140006")
FLU = ("cvx", "141")
FLU_ATC = ("atc", "J07BB02")
DTP = ("cvx", "113")
PCV20 = ("cvx", "216")
SHINGRIX = ("cvx", "187")
COVID = ("atc", "J07BN01")
STAY = ("v3-actcode", "IMP")


def add_patient(session: Session, name: str = "Durand", *, born: date, sex: str = "F",
                manager: str = "nurse", status: str = "active", fragility: int | None = None,
                registered: date | None = date(2010, 1, 1), deaf: bool = False,
                phones: Sequence[tuple[str, str, bool]] = (("+33612345678", "mobile", True),),
                email: str | None = None, preferred: str = "phone",
                call_after: time | None = None, call_before: time | None = None,
                gp: str | None = "Dr Martin", caregiver: str | None = None,
                deceased: date | None = None, given: str = "Jeanne") -> uuid.UUID:
    manager_id = ensure_user(session, name=manager).id
    patient = Patient(
        birth_name=name, given_names=given, sex=sex, birth_date=born, status=status,
        fragility_level=fragility, registered_on=registered, deaf_or_hard_of_hearing=deaf,
        email=email, preferred_channel=preferred, call_after=call_after,
        call_before=call_before, gp_name=gp, care_manager_id=manager_id,
        deceased_date=deceased, sort_key=f"{name} {given}".lower(),
        search_text=name.lower())
    session.add(patient)
    session.flush()
    for position, (e164, kind, sms) in enumerate(phones):
        session.add(PatientPhone(patient_id=patient.id, e164=e164, kind=kind, sms_consent=sms,
                                 position=position))
    if caregiver:
        session.add(RelatedPerson(patient_id=patient.id, name=caregiver, relationship="fille",
                                  is_caregiver=True, phone_e164="+33611223344",
                                  phone_kind="mobile"))
    session.flush()
    return patient.id


def add_fact(session: Session, patient_id: uuid.UUID, kind: str, *codes: tuple[str, str],
             start: date | None = None, end: date | None = None,
             status: str | None = "completed", value: str | None = None) -> uuid.UUID:
    fact = ClinicalFact(patient_id=patient_id, kind=kind, start_date=start, end_date=end,
                        status=status, value_text=value)
    session.add(fact)
    session.flush()
    for system, code in codes:
        session.add(FactCoding.of(fact, system=system, code=normalize_code(code),
                                  original_code=code))
    session.flush()
    return fact.id


def due(session: Session, patient_id: uuid.UUID, as_of: date) -> dict[str, DueReason]:
    """The due reasons by code, from the SQL engine, checked against the naive evaluator."""
    found = due_reasons(session, patient_id=patient_id, as_of=as_of)
    assert found == naive_due_reasons(session, patient_id=patient_id, as_of=as_of)
    return {r.code: r for r in found}
