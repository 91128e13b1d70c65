"""Caseload tables. UUID keys for what syncs; codings keep system and code of every fact."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Literal

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from carehub.timeutil import utcnow

IdentityStatus = Literal["provisional", "validated", "qualified"]
IDENTITY_STATUSES: tuple[IdentityStatus, ...] = ("provisional", "validated", "qualified")
PatientStatus = Literal["active", "paused", "closed", "deceased"]
PATIENT_STATUSES: tuple[PatientStatus, ...] = ("active", "paused", "closed", "deceased")
Sex = Literal["F", "M", "U"]
Channel = Literal["phone", "sms", "email", "letter", "visit"]
CHANNELS: tuple[Channel, ...] = ("phone", "sms", "email", "letter", "visit")
FactKind = Literal[
    "condition", "medication", "observation", "procedure", "immunization", "encounter", "allergy"
]
FACT_KINDS: tuple[FactKind, ...] = (
    "condition", "medication", "observation", "procedure", "immunization", "encounter", "allergy"
)
ConsentKind = Literal["followup", "team_sharing", "dmp"]
CONSENT_KINDS: tuple[ConsentKind, ...] = ("followup", "team_sharing", "dmp")
FRAGILITY_LEVELS = (0, 1, 2, 3)  # robust, pre-frail, frail, very frail or dependent


class PatientBase(SQLModel):
    """Fields a user enters or an import brings; shared by the table and the forms."""

    ins: str | None = Field(default=None, max_length=15)
    ins_kind: str | None = Field(default=None, max_length=8)  # nir, nia, test, demo
    identity_status: str = Field(default="provisional", max_length=12)
    birth_name: str = Field(max_length=100)
    used_name: str | None = Field(default=None, max_length=100)
    given_names: str = Field(max_length=150)
    sex: str = Field(default="U", max_length=1)
    birth_date: date
    birth_place_insee: str | None = Field(default=None, max_length=5)
    address_line: str | None = Field(default=None, max_length=200)
    postal_code: str | None = Field(default=None, max_length=5)
    commune_insee: str | None = Field(default=None, max_length=5, index=True)
    email: str | None = Field(default=None, max_length=200)
    preferred_channel: str = Field(default="phone", max_length=8)
    call_after: time | None = None
    call_before: time | None = None
    preferred_hours_note: str | None = Field(default=None, max_length=200)
    language: str = Field(default="fr", max_length=8)
    deaf_or_hard_of_hearing: bool = False
    blind_or_low_vision: bool = False
    reduced_mobility: bool = False
    no_car: bool = False
    low_digital_literacy: bool = False
    needs_interpreter: bool = False
    advance_directives: bool = False
    advance_directives_holder: str | None = Field(default=None, max_length=200)
    gp_rpps: str | None = Field(default=None, max_length=11)
    gp_name: str | None = Field(default=None, max_length=200)
    status: str = Field(default="active", max_length=10, index=True)
    deceased_date: date | None = None
    fragility_level: int | None = Field(default=None, index=True)
    registered_on: date | None = None
    notes: str | None = None


class Patient(PatientBase, table=True):
    __tablename__ = "patient"
    __table_args__ = (
        UniqueConstraint("source_system", "source_id", name="uq_patient_source"),
        # Covers search-as-you-type: the scan reads this narrow index in name order,
        # never the wide rows, and needs no sort.
        Index("ix_patient_search", "sort_key", "id", "search_text", "status",
              "fragility_level", "care_manager_id"),
        # The followed patients per care manager (the supervisor's figures, migration 0012).
        Index("ix_patient_followed", "status", "deceased_date", "care_manager_id",
              "fragility_level", "id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    ins: str | None = Field(default=None, max_length=15, unique=True)
    source_system: str | None = Field(default=None, max_length=200)
    source_id: str | None = Field(default=None, max_length=100)
    care_manager_id: uuid.UUID | None = Field(default=None, foreign_key="app_user.id", index=True)
    # Lower-case, accent-free names, INS, phones and commune: what search-as-you-type scans.
    search_text: str = Field(default="")
    sort_key: str = Field(default="", max_length=260)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class PatientPhone(SQLModel, table=True):
    __tablename__ = "patient_phone"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    patient_id: uuid.UUID = Field(foreign_key="patient.id", index=True)
    e164: str = Field(max_length=16)
    kind: str = Field(default="fixed", max_length=8)  # mobile, fixed, other
    label: str | None = Field(default=None, max_length=40)
    sms_consent: bool = False
    position: int = 0
    needs_check: bool = False


class RelatedPerson(SQLModel, table=True):
    """A caregiver, trusted person, legal guardian or emergency contact (one person, many roles)."""

    __tablename__ = "related_person"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    patient_id: uuid.UUID = Field(foreign_key="patient.id", index=True)
    name: str = Field(max_length=200)
    relationship: str | None = Field(default=None, max_length=60)  # fille, époux, voisin...
    is_caregiver: bool = False
    is_trusted_person: bool = False
    is_legal_guardian: bool = False
    guardianship: str | None = Field(default=None, max_length=12)  # tutelle, curatelle
    guardian_agreement_required: bool = False
    is_emergency_contact: bool = False
    phone_e164: str | None = Field(default=None, max_length=16)
    phone_kind: str | None = Field(default=None, max_length=8)
    email: str | None = Field(default=None, max_length=200)
    address: str | None = Field(default=None, max_length=300)


class Consent(SQLModel, table=True):
    """A consent given, refused or withdrawn on a date; the latest per kind is current."""

    __tablename__ = "consent"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    patient_id: uuid.UUID = Field(foreign_key="patient.id", index=True)
    kind: str = Field(max_length=16)  # followup, team_sharing, dmp
    granted: bool
    on: date
    recorded_by: str | None = Field(default=None, max_length=64)


class ClinicalFact(SQLModel, table=True):
    """A condition, medication, observation, procedure, immunization, encounter or allergy."""

    __tablename__ = "clinical_fact"
    __table_args__ = (
        Index("ix_fact_patient_kind", "patient_id", "kind", "start_date"),
        UniqueConstraint("patient_id", "source_system", "source_id", name="uq_fact_source"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    patient_id: uuid.UUID = Field(foreign_key="patient.id")
    kind: str = Field(max_length=12)
    status: str | None = Field(default=None, max_length=20)  # clinical/verification status
    start_date: date | None = None  # onset, effective, performed, occurrence, period.start
    end_date: date | None = None  # abatement, period.end
    display: str | None = Field(default=None, max_length=300)
    value_num: float | None = None
    value_unit: str | None = Field(default=None, max_length=30)
    value_text: str | None = Field(default=None, max_length=300)
    encounter_class: str | None = Field(default=None, max_length=12)
    source_system: str | None = Field(default=None, max_length=200)
    source_id: str | None = Field(default=None, max_length=100)
    created_at: datetime = Field(default_factory=utcnow)


# The fact's columns copied onto each of its codings (see FactCoding).
FACT_COPIED = ("kind", "status", "start_date", "end_date")


class FactCoding(SQLModel, table=True):
    """One coding of a fact: the normalised system key and code, plus what the source said.

    The fact's patient, kind, status and dates are copied onto it when it is written
    (`FactCoding.of`, or FACT_COPIED for bulk rows): cohort SQL then answers a criterion
    from an index alone, never reading the facts: ix_coding_cohort for the patients having
    some codes, ix_coding_patient for one patient's codings.
    Whoever writes a fact writes its codings with it (a changed fact gets new codings).
    """

    __tablename__ = "fact_coding"
    __table_args__ = (Index("ix_coding_cohort", "system", "code", "kind", "start_date",
                            "end_date", "status", "patient_id"),
                      Index("ix_coding_patient", "patient_id", "system", "code", "kind",
                            "start_date", "end_date", "status"))

    id: int | None = Field(default=None, primary_key=True)
    fact_id: uuid.UUID = Field(foreign_key="clinical_fact.id", index=True)
    patient_id: uuid.UUID = Field(foreign_key="patient.id")  # denormalised for cohort SQL
    system: str = Field(max_length=200)  # icd10, icpc2, atc, loinc, snomed, cvx, ccam or the URI
    code: str = Field(max_length=64)  # upper-case, no dots
    system_uri: str | None = Field(default=None, max_length=200)
    original_code: str | None = Field(default=None, max_length=64)
    display: str | None = Field(default=None, max_length=300)
    kind: str = Field(max_length=12)
    status: str | None = Field(default=None, max_length=20)
    start_date: date | None = None
    end_date: date | None = None

    @classmethod
    def of(cls, fact: ClinicalFact, *, system: str, code: str, system_uri: str | None = None,
           original_code: str | None = None, display: str | None = None) -> FactCoding:
        """A coding of `fact` (already given its id), carrying the fact's copied columns."""
        return cls(fact_id=fact.id, patient_id=fact.patient_id, system=system, code=code,
                   system_uri=system_uri, original_code=original_code, display=display,
                   **{name: getattr(fact, name) for name in FACT_COPIED})
