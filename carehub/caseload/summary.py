"""A patient on one screen (the summary) and their history (the timeline), as plain data.

A handful of queries per patient whatever the number of facts: the patient row with
its commune and care manager, phones, circle, consents, the current facts with their
codings, and one UNION for the last vaccine and screening of every concept.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, time
from typing import Any

from sqlalchemy import Row, and_, func, literal, or_, union_all
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from carehub.caseload.models import (
    ClinicalFact,
    Consent,
    FactCoding,
    Patient,
    PatientPhone,
    RelatedPerson,
)
from carehub.caseload.services import get_patient
from carehub.caseload.vocabulary import Concept, coding_condition, vocabulary
from carehub.directory.models import Commune
from carehub.phones import format_phone, tel_uri
from carehub.users.access import require_patient_access
from carehub.users.models import User

# Statuses (FHIR clinical/verification or MedicationStatement) that make a fact no longer
# current, whatever its dates say.
ENDED_MEDICATION_STATUSES = frozenset(
    {"stopped", "completed", "entered-in-error", "not-taken", "cancelled"}
)
INACTIVE_CONDITION_STATUSES = frozenset(
    {"resolved", "inactive", "remission", "refuted", "entered-in-error"}
)

FACT_STATUS_LABELS_FR = {
    "stopped": "arrêté", "completed": "terminé", "entered-in-error": "saisi par erreur",
    "not-taken": "non pris", "cancelled": "annulé", "resolved": "résolu",
    "inactive": "inactif", "remission": "en rémission", "refuted": "infirmé",
    "not-done": "non fait",
}
KIND_LABELS_FR = {
    "condition": "Pathologie",
    "medication": "Traitement",
    "observation": "Résultat",
    "procedure": "Acte",
    "immunization": "Vaccination",
    "encounter": "Consultation",
    "allergy": "Allergie",
}
HOSPITAL_CLASS = "IMP"
# Plain column rows, not ORM objects: a long history loads several times faster.
FACT_COLUMNS: tuple[Any, ...] = (
    ClinicalFact.id, ClinicalFact.kind, ClinicalFact.status, ClinicalFact.start_date,
    ClinicalFact.end_date, ClinicalFact.display, ClinicalFact.value_num, ClinicalFact.value_unit,
    ClinicalFact.value_text, ClinicalFact.encounter_class,
)
SYSTEM_LABELS_FR = {
    "icd10": "CIM-10", "icpc2": "CISP-2", "atc": "ATC", "loinc": "LOINC",
    "snomed": "SNOMED CT", "cvx": "CVX", "ccam": "CCAM", "v3-actcode": "Classe",
}
CONSENT_LABELS_FR = {
    "followup": "Suivi par l'infirmière coordinatrice",
    "team_sharing": "Partage avec l'équipe de soins",
    "dmp": "Alimentation du DMP",
}
FRAGILITY_LABELS_FR = {0: "Robuste", 1: "Pré-fragile", 2: "Fragile",
                       3: "Très fragile ou dépendant"}
STATUS_LABELS_FR = {"active": "Suivi actif", "paused": "Suivi en pause", "closed": "Suivi clos",
                    "deceased": "Décédé(e)"}
IDENTITY_LABELS_FR = {"provisional": "Identité provisoire", "validated": "Identité validée",
                      "qualified": "INS qualifiée"}
CHANNEL_LABELS_FR = {"phone": "Téléphone", "sms": "SMS", "email": "Courriel",
                     "letter": "Courrier", "visit": "Visite"}
SEX_LABELS_FR = {"F": "Femme", "M": "Homme", "U": "Sexe non précisé"}
ACCESSIBILITY_LABELS_FR = {
    "deaf_or_hard_of_hearing": "Malentendant(e)",
    "blind_or_low_vision": "Malvoyant(e)",
    "reduced_mobility": "Mobilité réduite",
    "no_car": "Sans voiture",
    "low_digital_literacy": "Peu à l'aise avec le numérique",
    "needs_interpreter": "Besoin d'un interprète",
}


@dataclass(frozen=True)
class PhoneLine:
    e164: str
    formatted: str  # 06 12 34 56 78
    kind: str  # mobile, fixed, other
    label: str | None
    sms_consent: bool
    uri: str  # tel:+33612345678


@dataclass(frozen=True)
class FactLine:
    """A current treatment, allergy or condition."""

    display: str
    codes: str  # "CIM-10 E119, CISP-2 T90"
    start: date | None
    end: date | None
    status: str | None


@dataclass(frozen=True)
class LastDone:
    """The last vaccine or screening of a concept; `on` is None when never recorded."""

    concept: str
    label: str
    on: date | None


@dataclass(frozen=True)
class ConsentLine:
    kind: str
    label: str
    granted: bool
    on: date


@dataclass(frozen=True)
class PersonLine:
    """Someone of the patient's circle; one person may hold several roles."""

    name: str
    relationship: str | None
    is_caregiver: bool
    is_trusted_person: bool
    is_legal_guardian: bool
    guardianship: str | None
    guardian_agreement_required: bool
    is_emergency_contact: bool
    phone: PhoneLine | None
    email: str | None

    @property
    def roles_fr(self) -> tuple[str, ...]:
        roles = []
        if self.is_caregiver:
            roles.append("Aidant(e)")
        if self.is_trusted_person:
            roles.append("Personne de confiance")
        if self.is_legal_guardian:
            roles.append(f"Représentant légal ({self.guardianship})" if self.guardianship
                         else "Représentant légal")
        if self.is_emergency_contact:
            roles.append("À prévenir en urgence")
        return tuple(roles)


@dataclass(frozen=True)
class PatientSummary:
    id: uuid.UUID
    as_of: date
    ins: str | None
    identity_status: str
    birth_name: str
    used_name: str | None
    given_names: str
    sex: str
    birth_date: date
    age: int
    deceased_date: date | None
    address_line: str | None
    postal_code: str | None
    commune_insee: str | None
    commune_name: str | None
    phones: tuple[PhoneLine, ...]
    email: str | None
    preferred_channel: str
    call_after: time | None
    call_before: time | None
    preferred_hours_note: str | None
    accessibility: tuple[str, ...]  # French labels of the needs that apply
    status: str
    fragility_level: int | None
    gp_name: str | None
    gp_rpps: str | None
    care_manager: str | None
    advance_directives: bool
    advance_directives_holder: str | None
    treatments: tuple[FactLine, ...]
    allergies: tuple[FactLine, ...]
    conditions: tuple[FactLine, ...]
    vaccinations: tuple[LastDone, ...]
    screenings: tuple[LastDone, ...]
    consents: tuple[ConsentLine, ...]
    circle: tuple[PersonLine, ...]

    @property
    def display_name(self) -> str:
        return display_name(birth_name=self.birth_name, used_name=self.used_name,
                            given_names=self.given_names, sex=self.sex)

    @property
    def caregivers(self) -> tuple[PersonLine, ...]:
        return tuple(p for p in self.circle if p.is_caregiver)

    @property
    def trusted_person(self) -> PersonLine | None:
        return next((p for p in self.circle if p.is_trusted_person), None)

    @property
    def legal_guardian(self) -> PersonLine | None:
        return next((p for p in self.circle if p.is_legal_guardian), None)

    @property
    def emergency_contact(self) -> PersonLine | None:
        return next((p for p in self.circle if p.is_emergency_contact), None)


@dataclass(frozen=True)
class TimelineEntry:
    on: date | None
    kind: str
    kind_label: str  # French
    text: str  # the fact's display, else its codes
    detail: str  # value and unit, result text, end date...
    codes: str


def display_name(*, birth_name: str, used_name: str | None, given_names: str, sex: str) -> str:
    """'DURAND née MARTIN Jeanne': the used name first, as French identity rules show it."""
    if used_name and used_name.upper() != birth_name.upper():
        born = "née" if sex == "F" else "né"
        return f"{used_name.upper()} {born} {birth_name.upper()} {given_names}"
    return f"{birth_name.upper()} {given_names}"


def age_on(birth_date: date, as_of: date) -> int:
    """Age in completed years: a birthday today counts."""
    before_birthday = (as_of.month, as_of.day) < (birth_date.month, birth_date.day)
    return as_of.year - birth_date.year - int(before_birthday)


def phone_line(e164: str, *, kind: str | None, label: str | None = None,
               sms_consent: bool = False) -> PhoneLine:
    return PhoneLine(e164=e164, formatted=format_phone(e164), kind=kind or "other",
                     label=label, sms_consent=sms_consent, uri=tel_uri(e164))


def patient_summary(session: Session, *, patient_id: uuid.UUID, as_of: date) -> PatientSummary:
    """Everything a colleague needs to know about a patient at `as_of`, in a few queries."""
    require_patient_access(session, patient_id=patient_id, purpose="summary")
    patient = get_patient(session, patient_id=patient_id)
    commune_name, care_manager = _commune_and_manager(session, patient)
    treatments, allergies, conditions = _current_facts(session, patient_id, as_of)
    vaccinations, screenings = _last_done(session, patient_id, patient.sex, as_of)
    return PatientSummary(
        id=patient.id, as_of=as_of, ins=patient.ins, identity_status=patient.identity_status,
        birth_name=patient.birth_name, used_name=patient.used_name,
        given_names=patient.given_names, sex=patient.sex, birth_date=patient.birth_date,
        age=age_on(patient.birth_date, patient.deceased_date or as_of),
        deceased_date=patient.deceased_date, address_line=patient.address_line,
        postal_code=patient.postal_code, commune_insee=patient.commune_insee,
        commune_name=commune_name, phones=_phones(session, patient_id), email=patient.email,
        preferred_channel=patient.preferred_channel, call_after=patient.call_after,
        call_before=patient.call_before, preferred_hours_note=patient.preferred_hours_note,
        accessibility=tuple(label for name, label in ACCESSIBILITY_LABELS_FR.items()
                            if getattr(patient, name)),
        status=patient.status, fragility_level=patient.fragility_level,
        gp_name=patient.gp_name, gp_rpps=patient.gp_rpps, care_manager=care_manager,
        advance_directives=patient.advance_directives,
        advance_directives_holder=patient.advance_directives_holder,
        treatments=treatments, allergies=allergies, conditions=conditions,
        vaccinations=vaccinations, screenings=screenings,
        consents=_consents(session, patient_id), circle=_circle(session, patient_id),
    )


def _commune_and_manager(session: Session, patient: Patient) -> tuple[str | None, str | None]:
    commune = session.get(Commune, patient.commune_insee) if patient.commune_insee else None
    manager = session.get(User, patient.care_manager_id) if patient.care_manager_id else None
    return (commune.name if commune else None), (manager.name if manager else None)


def _phones(session: Session, patient_id: uuid.UUID) -> tuple[PhoneLine, ...]:
    rows = session.exec(select(PatientPhone).where(PatientPhone.patient_id == patient_id)
                        .order_by(col(PatientPhone.position)))
    return tuple(phone_line(p.e164, kind=p.kind, label=p.label, sms_consent=p.sms_consent)
                 for p in rows)


def _circle(session: Session, patient_id: uuid.UUID) -> tuple[PersonLine, ...]:
    rows = session.exec(select(RelatedPerson).where(RelatedPerson.patient_id == patient_id)
                        .order_by(col(RelatedPerson.name)))
    return tuple(
        PersonLine(
            name=p.name, relationship=p.relationship, is_caregiver=p.is_caregiver,
            is_trusted_person=p.is_trusted_person, is_legal_guardian=p.is_legal_guardian,
            guardianship=p.guardianship,
            guardian_agreement_required=p.guardian_agreement_required,
            is_emergency_contact=p.is_emergency_contact,
            phone=phone_line(p.phone_e164, kind=p.phone_kind) if p.phone_e164 else None,
            email=p.email,
        )
        for p in rows
    )


def _consents(session: Session, patient_id: uuid.UUID) -> tuple[ConsentLine, ...]:
    latest: dict[str, Consent] = {}
    for consent in session.exec(select(Consent).where(Consent.patient_id == patient_id)
                                .order_by(col(Consent.on), col(Consent.id))):
        latest[consent.kind] = consent
    order = list(CONSENT_LABELS_FR)
    return tuple(
        ConsentLine(kind=c.kind, label=CONSENT_LABELS_FR.get(c.kind, c.kind),
                    granted=c.granted, on=c.on)
        for c in sorted(latest.values(),
                        key=lambda c: order.index(c.kind) if c.kind in order else len(order))
    )


def _current_facts(session: Session, patient_id: uuid.UUID, as_of: date
                   ) -> tuple[tuple[FactLine, ...], tuple[FactLine, ...], tuple[FactLine, ...]]:
    """Medications taken at `as_of`, allergies, and conditions active at `as_of`."""
    started = or_(col(ClinicalFact.start_date).is_(None), col(ClinicalFact.start_date) <= as_of)
    status = func.lower(func.coalesce(ClinicalFact.status, ""))
    taking = and_(
        col(ClinicalFact.kind) == "medication", started,
        or_(col(ClinicalFact.end_date).is_(None), col(ClinicalFact.end_date) >= as_of),
        status.not_in(ENDED_MEDICATION_STATUSES),
    )
    # An abatement date is the day the condition resolved: no longer active that day.
    active = and_(
        col(ClinicalFact.kind) == "condition", started,
        or_(col(ClinicalFact.end_date).is_(None), col(ClinicalFact.end_date) > as_of),
        status.not_in(INACTIVE_CONDITION_STATUSES),
    )
    allergy = and_(col(ClinicalFact.kind) == "allergy", status.not_in(INACTIVE_CONDITION_STATUSES))
    current = (col(ClinicalFact.patient_id) == patient_id,
               col(ClinicalFact.kind).in_(("medication", "condition", "allergy")),
               or_(taking, active, allergy))
    facts = session.execute(
        sa_select(*FACT_COLUMNS).where(*current)
        .order_by(col(ClinicalFact.start_date).desc(), col(ClinicalFact.display))
    ).all()
    codings = _codings_of(session, sa_select(col(ClinicalFact.id)).where(*current))
    lines: dict[str, list[FactLine]] = defaultdict(list)
    for fact in facts:
        found = codings.get(fact.id, [])
        lines[fact.kind].append(FactLine(
            display=_display(fact, found), codes=_codes_text(found), start=fact.start_date,
            end=fact.end_date, status=fact.status))
    return tuple(lines["medication"]), tuple(lines["allergy"]), tuple(lines["condition"])


def _codings_of(session: Session, fact_ids: Any) -> dict[uuid.UUID, list[Row[Any]]]:
    """The codings of the facts `fact_ids` (a subquery) selects, per fact, in source order."""
    found: dict[uuid.UUID, list[Row[Any]]] = defaultdict(list)
    rows = session.execute(
        sa_select(col(FactCoding.fact_id), col(FactCoding.system), col(FactCoding.code),
                  col(FactCoding.original_code), col(FactCoding.display))
        .where(col(FactCoding.fact_id).in_(fact_ids)).order_by(col(FactCoding.id)))
    for coding in rows:
        found[coding.fact_id].append(coding)
    return found


def _codes_text(codings: Iterable[Row[Any]]) -> str:
    return ", ".join(f"{SYSTEM_LABELS_FR.get(c.system, c.system)} {c.original_code or c.code}"
                     for c in codings)


def _display(fact: Row[Any], codings: Sequence[Row[Any]]) -> str:
    """The fact's own text, else a coding's display, else its codes."""
    if fact.display:
        return str(fact.display)
    for coding in codings:
        if coding.display:
            return str(coding.display)
    return _codes_text(codings) or KIND_LABELS_FR.get(fact.kind, str(fact.kind))


def _last_done(session: Session, patient_id: uuid.UUID, sex: str, as_of: date
               ) -> tuple[tuple[LastDone, ...], tuple[LastDone, ...]]:
    """Last date of every vaccine concept and of every screening that applies to this sex."""
    vocab = vocabulary()
    vaccines = vocab.in_category("vaccine")
    screenings = [c for c in vocab.in_category("screening") if c.applies_to(sex)]
    parts = [_last_date_query(patient_id, concept, as_of,
                              kinds=("immunization",) if concept.category == "vaccine" else None)
             for concept in [*vaccines, *screenings]]
    last: dict[str, date | None] = {}
    if parts:
        last = {name: on for name, on in session.execute(union_all(*parts))}

    def lines(concepts: list[Concept]) -> tuple[LastDone, ...]:
        return tuple(LastDone(c.name, c.label, last.get(c.name)) for c in concepts)

    return lines(vaccines), lines(screenings)


def _last_date_query(patient_id: uuid.UUID, concept: Concept, as_of: date,
                     *, kinds: tuple[str, ...] | None) -> Any:
    query = (
        sa_select(literal(concept.name).label("concept"),
                  func.max(ClinicalFact.start_date).label("on"))
        .select_from(ClinicalFact)
        .join(FactCoding, col(FactCoding.fact_id) == ClinicalFact.id)
        .where(col(ClinicalFact.patient_id) == patient_id, coding_condition(concept),
               col(ClinicalFact.start_date) <= as_of)
    )
    if kinds:
        query = query.where(col(ClinicalFact.kind).in_(kinds))
    return query


def patient_timeline(session: Session, *, patient_id: uuid.UUID) -> list[TimelineEntry]:
    """Every clinical fact of the patient, newest first, undated ones last."""
    require_patient_access(session, patient_id=patient_id, purpose="timeline")
    get_patient(session, patient_id=patient_id)
    mine = col(ClinicalFact.patient_id) == patient_id
    facts = session.execute(
        sa_select(*FACT_COLUMNS).where(mine)
        .order_by(col(ClinicalFact.start_date).is_(None), col(ClinicalFact.start_date).desc(),
                  col(ClinicalFact.kind), col(ClinicalFact.display), col(ClinicalFact.id))
    ).all()
    codings = _codings_of(session, sa_select(col(ClinicalFact.id)).where(mine))
    return [_entry(fact, codings.get(fact.id, [])) for fact in facts]


def _entry(fact: Row[Any], codings: Sequence[Row[Any]]) -> TimelineEntry:
    kind_label = KIND_LABELS_FR.get(fact.kind, fact.kind)
    if fact.kind == "encounter" and (fact.encounter_class or "").upper() == HOSPITAL_CLASS:
        kind_label = "Hospitalisation"
    return TimelineEntry(on=fact.start_date, kind=fact.kind, kind_label=kind_label,
                         text=_display(fact, codings), detail=_detail(fact),
                         codes=_codes_text(codings))


def _number_fr(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return text.replace(".", ",")


def _unit(unit: str | None) -> str:
    """UCUM units as people write them: mm[Hg] -> mmHg."""
    return (unit or "").replace("[", "").replace("]", "")


def _value(fact: Row[Any]) -> str:
    """'7,2 %', '151/67 mmHg' (a pressure's text already carries its number), 'négatif'."""
    unit = _unit(fact.value_unit)
    if fact.value_num is None:
        return fact.value_text or ""
    number = _number_fr(fact.value_num)
    if fact.value_text and fact.value_text.replace(".", ",").startswith(number):
        return " ".join(p for p in (fact.value_text, unit) if p)
    shown = " ".join(p for p in (number, unit) if p)
    return f"{shown} · {fact.value_text}" if fact.value_text else shown


def _detail(fact: Row[Any]) -> str:
    parts = [_value(fact)] if fact.value_num is not None or fact.value_text else []
    if fact.end_date is not None:
        word = {"encounter": "sortie le", "condition": "résolu le"}.get(fact.kind, "jusqu'au")
        parts.append(f"{word} {fact.end_date:%d/%m/%Y}")
    status = (fact.status or "").lower()
    # "completed" is the normal state of a vaccination or an act: not worth a word.
    if status in FACT_STATUS_LABELS_FR and not (status == "completed"
                                                and fact.kind != "medication"):
        parts.append(FACT_STATUS_LABELS_FR[status])
    return " · ".join(parts)
