"""A patient's circle (caregivers, trusted person, guardian, emergency contact) and consents."""

from __future__ import annotations

import uuid
from datetime import date

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlmodel import Session, col, select

from carehub.caseload.models import CONSENT_KINDS, Consent, RelatedPerson
from carehub.caseload.services import get_patient
from carehub.changes import log_change
from carehub.coordination.audit import Change
from carehub.errors import InputError
from carehub.phones import parse_phone
from carehub.text import check_plain_text


class RelatedPersonInput(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    name: str = Field(min_length=1)
    relationship: str | None = None
    is_caregiver: bool = False
    is_trusted_person: bool = False
    is_legal_guardian: bool = False
    guardianship: str | None = None
    guardian_agreement_required: bool = False
    is_emergency_contact: bool = False
    phone: str | None = None
    email: str | None = None
    address: str | None = None

    _plain = field_validator("*", mode="before")(check_plain_text)

    @model_validator(mode="after")
    def _has_a_role(self) -> RelatedPersonInput:
        if not (self.is_caregiver or self.is_trusted_person or self.is_legal_guardian
                or self.is_emergency_contact):
            raise ValueError("a related person is a caregiver, trusted person, legal guardian "
                             "or emergency contact")
        if self.guardianship not in (None, "tutelle", "curatelle"):
            raise ValueError("guardianship is tutelle or curatelle")
        return self


def add_related_person(session: Session, *, patient_id: uuid.UUID, data: RelatedPersonInput,
                       actor: str) -> uuid.UUID:
    """Record someone of the patient's circle; the phone is validated and stored E.164."""
    get_patient(session, patient_id=patient_id)
    phone = parse_phone(data.phone) if data.phone else None
    person = RelatedPerson(
        patient_id=patient_id, phone_e164=phone.e164 if phone else None,
        phone_kind=phone.kind if phone else None,
        **data.model_dump(exclude={"phone"}),
    )
    session.add(person)
    session.flush()
    details = data.model_dump(exclude={"phone"}) | {"patient_id": str(patient_id),
                                                     "phone": person.phone_e164}
    log_change(session, Change(actor, "related_person", str(person.id), "create", details))
    return person.id


def related_persons(session: Session, *, patient_id: uuid.UUID) -> list[RelatedPerson]:
    return list(session.exec(select(RelatedPerson).where(RelatedPerson.patient_id == patient_id)
                             .order_by(col(RelatedPerson.name))))


def record_consent(session: Session, *, patient_id: uuid.UUID, kind: str, granted: bool,
                   on: date, actor: str) -> uuid.UUID:
    """A consent given or withdrawn on a date; earlier ones stay as history."""
    if kind not in CONSENT_KINDS:
        raise InputError(f"Unknown consent {kind!r}: one of {', '.join(CONSENT_KINDS)}.",
                         f"Consentement inconnu « {kind} ».")
    if on > date.today():
        raise InputError("A consent cannot be dated in the future.",
                         "Un consentement ne peut pas être daté dans le futur.")
    get_patient(session, patient_id=patient_id)
    consent = Consent(patient_id=patient_id, kind=kind, granted=granted, on=on,
                      recorded_by=actor)
    session.add(consent)
    session.flush()
    log_change(session, Change(actor, "consent", str(consent.id), "create",
                               {"patient_id": str(patient_id), "kind": kind, "granted": granted,
                                "on": on.isoformat()}))
    return consent.id


def current_consents(session: Session, *, patient_id: uuid.UUID) -> dict[str, Consent]:
    """The latest consent of each kind."""
    latest: dict[str, Consent] = {}
    for consent in session.exec(select(Consent).where(Consent.patient_id == patient_id)
                                .order_by(col(Consent.on), col(Consent.id))):
        latest[consent.kind] = consent
    return latest
