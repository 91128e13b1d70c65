"""Patients and coded facts written straight into the tables, for the cohort tests."""

from __future__ import annotations

import uuid
from datetime import date

from sqlmodel import Session

from carehub.caseload.coding import normalize_code
from carehub.caseload.models import FACT_COPIED, ClinicalFact, FactCoding, Patient
from carehub.users.services import ensure_user


def add_patient(session: Session, name: str, *, sex: str = "F", born: date = date(1960, 1, 1),
                fragility: int | None = None, commune: str | None = None,
                manager: str | None = None) -> uuid.UUID:
    manager_id = ensure_user(session, name=manager).id if manager else None
    patient = Patient(birth_name=name, given_names="Test", sex=sex, birth_date=born,
                      fragility_level=fragility, commune_insee=commune,
                      care_manager_id=manager_id, sort_key=name.lower(), search_text=name.lower())
    session.add(patient)
    session.flush()
    return patient.id


def add_fact(session: Session, patient_id: uuid.UUID, kind: str, *codes: tuple[str, str],
             start: date | None = None, end: date | None = None,
             status: str | None = None) -> None:
    fact = ClinicalFact(patient_id=patient_id, kind=kind, start_date=start, end_date=end,
                        status=status)
    session.add(fact)
    session.flush()
    for system, code in codes:
        session.add(FactCoding.of(fact, system=system, code=normalize_code(code),
                                  original_code=code))
    session.flush()


def mismatched_copies(session: Session) -> int:
    """Codings whose copied kind, status or dates differ from their fact's (should be 0)."""
    from sqlalchemy import func, or_, select
    from sqlmodel import col

    differs = [col(getattr(FactCoding, name)).is_not(col(getattr(ClinicalFact, name)))
               for name in FACT_COPIED]
    return session.execute(
        select(func.count()).select_from(FactCoding)
        .join(ClinicalFact, col(ClinicalFact.id) == FactCoding.fact_id)
        .where(or_(*differs, col(FactCoding.patient_id) != ClinicalFact.patient_id))
    ).scalar_one()
