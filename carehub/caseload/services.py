"""Patient services shared by the CLI and the app: keyword-only, over a Session."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import String, and_, func, or_, type_coerce
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from carehub.caseload.ids import PatientIds as PatientIds  # re-exported: its former home
from carehub.caseload.models import (
    CHANNELS,
    IDENTITY_STATUSES,
    PATIENT_STATUSES,
    Patient,
    PatientPhone,
)
from carehub.changes import log_change
from carehub.coordination.audit import Change
from carehub.directory.models import Commune
from carehub.errors import InputError, NotFoundError
from carehub.identifiers import ins_problem, normalize_ins
from carehub.phones import parse_phone
from carehub.text import check_plain_text, fold
from carehub.timeutil import utcnow
from carehub.users.access import require_patient_access, visible_patients_clause
from carehub.users.models import User
from carehub.users.services import ensure_user


class PhoneInput(BaseModel):
    number: str
    label: str | None = None
    sms_consent: bool = False

    _plain = field_validator("number", "label")(check_plain_text)


class PatientInput(BaseModel):
    """What the new/edit form and the CLI send; validated before anything is written."""

    model_config = ConfigDict(str_strip_whitespace=True)

    ins: str | None = None
    identity_status: str = "provisional"
    birth_name: str = Field(min_length=1)
    used_name: str | None = None
    given_names: str = Field(min_length=1)
    sex: str = "U"
    birth_date: date
    birth_place_insee: str | None = None
    address_line: str | None = None
    postal_code: str | None = None
    commune_insee: str | None = None
    email: str | None = None
    preferred_channel: str = "phone"
    call_after: time | None = None
    call_before: time | None = None
    preferred_hours_note: str | None = None
    language: str = "fr"
    deaf_or_hard_of_hearing: bool = False
    blind_or_low_vision: bool = False
    reduced_mobility: bool = False
    no_car: bool = False
    low_digital_literacy: bool = False
    needs_interpreter: bool = False
    advance_directives: bool = False
    advance_directives_holder: str | None = None
    gp_rpps: str | None = None
    gp_name: str | None = None
    status: str = "active"
    fragility_level: int | None = Field(default=None, ge=0, le=3)
    notes: str | None = None
    phones: list[PhoneInput] = Field(default_factory=list)

    # A NUL or control character would block her changes at the hub: refused here.
    _plain = field_validator("*", mode="before")(check_plain_text)

    @field_validator("ins")
    @classmethod
    def _ins(cls, value: str | None) -> str | None:
        if not value:
            return None
        problem = ins_problem(value)
        if problem:
            raise ValueError(problem)
        return normalize_ins(value)

    @field_validator("sex")
    @classmethod
    def _sex(cls, value: str) -> str:
        if value not in ("F", "M", "U"):
            raise ValueError("sex is F, M or U")
        return value

    @field_validator("identity_status")
    @classmethod
    def _identity(cls, value: str) -> str:
        if value not in IDENTITY_STATUSES:
            raise ValueError(f"identity status is one of {', '.join(IDENTITY_STATUSES)}")
        return value

    @field_validator("status")
    @classmethod
    def _status(cls, value: str) -> str:
        if value not in PATIENT_STATUSES:
            raise ValueError(f"status is one of {', '.join(PATIENT_STATUSES)}")
        return value

    @field_validator("preferred_channel")
    @classmethod
    def _channel(cls, value: str) -> str:
        if value not in CHANNELS:
            raise ValueError(f"channel is one of {', '.join(CHANNELS)}")
        return value

    @field_validator("birth_date")
    @classmethod
    def _birth(cls, value: date) -> date:
        if value > date.today():
            raise ValueError("birth date is in the future")
        return value

    @model_validator(mode="after")
    def _qualified_needs_ins(self) -> PatientInput:
        if self.identity_status == "qualified" and not self.ins:
            raise ValueError("a qualified identity needs an INS")
        return self


FIELD_LABELS_FR = {
    "ins": "INS", "birth_name": "Nom de naissance", "given_names": "Prénoms",
    "birth_date": "Date de naissance", "sex": "Sexe", "phones": "Téléphone",
    "identity_status": "Statut de l'identité", "status": "Statut",
    "fragility_level": "Niveau de fragilité", "email": "Courriel",
}


@dataclass(frozen=True)
class PatientRow:
    """One line of the caseload table."""

    id: uuid.UUID
    ins: str | None
    birth_name: str
    used_name: str | None
    given_names: str
    sex: str
    birth_date: date
    commune_insee: str | None
    commune_name: str | None
    phone_e164: str | None
    status: str
    fragility_level: int | None
    care_manager: str | None


def search_text_for(*, names: Sequence[str | None], ins: str | None,
                    phones: Sequence[str], commune_name: str | None) -> str:
    """What search-as-you-type matches: folded names, INS, phones in both forms, commune."""
    parts = [fold(n) for n in names if n]
    if ins:
        parts.append(ins.lower())
    for e164 in phones:
        parts.append(e164.lstrip("+"))
        if e164.startswith("+33"):
            parts.append("0" + e164[3:])
    if commune_name:
        parts.append(fold(commune_name))
    return " ".join(parts)


def sort_key_for(*, used_name: str | None, birth_name: str, given_names: str) -> str:
    return fold(f"{used_name or birth_name} {given_names}")


def _commune_name(session: Session, insee: str | None) -> str | None:
    if not insee:
        return None
    commune = session.get(Commune, insee)
    return commune.name if commune else None


def _check_commune(session: Session, insee: str | None) -> None:
    if insee and session.get(Commune, insee) is None:
        raise InputError(f"Unknown commune INSEE code {insee!r}.",
                         f"Code INSEE de commune inconnu « {insee} ».")


def _check_ins_free(session: Session, ins: str | None, patient_id: uuid.UUID | None) -> None:
    if not ins:
        return
    other = session.exec(select(Patient).where(Patient.ins == ins)).first()
    if other is not None and other.id != patient_id:
        raise InputError(f"INS {ins} already belongs to another patient ({other.id}).",
                         f"L'INS {ins} est déjà celui d'un autre patient.")


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, (date, time)) else value


def _apply(session: Session, patient: Patient, data: PatientInput) -> dict[str, Any]:
    """Copy the form into the row; returns {field: new value} of what changed."""
    changed: dict[str, Any] = {}
    for name, value in data.model_dump(exclude={"phones"}).items():
        if getattr(patient, name) != value:
            setattr(patient, name, value)
            changed[name] = _jsonable(value)
    patient.ins_kind = "nir" if patient.ins and not patient.ins_kind else patient.ins_kind
    parsed = [(parse_phone(p.number), p) for p in data.phones]
    existing = list(session.exec(select(PatientPhone).where(
        PatientPhone.patient_id == patient.id).order_by(col(PatientPhone.position))))
    new_phones = [(ph.e164, ph.kind, p.label, p.sms_consent and ph.can_receive_sms)
                  for ph, p in parsed]
    if [(p.e164, p.kind, p.label, p.sms_consent) for p in existing] != new_phones:
        for old in existing:
            session.delete(old)
        for position, (e164, kind, label, sms) in enumerate(new_phones):
            session.add(PatientPhone(patient_id=patient.id, e164=e164, kind=kind, label=label,
                                     sms_consent=sms, position=position))
        changed["phones"] = [p[0] for p in new_phones]
    patient.search_text = search_text_for(
        names=[patient.birth_name, patient.used_name, patient.given_names], ins=patient.ins,
        phones=[p[0] for p in new_phones], commune_name=_commune_name(session,
                                                                      patient.commune_insee))
    patient.sort_key = sort_key_for(used_name=patient.used_name, birth_name=patient.birth_name,
                                    given_names=patient.given_names)
    return changed


def create_patient(session: Session, *, data: PatientInput, actor: str,
                   care_manager: str | None = None) -> uuid.UUID:
    """Register a patient, assigned to `care_manager` (default: the actor)."""
    _check_ins_free(session, data.ins, None)
    _check_commune(session, data.commune_insee)
    manager = ensure_user(session, name=care_manager or actor)
    patient = Patient(birth_name=data.birth_name, given_names=data.given_names,
                      birth_date=data.birth_date, care_manager_id=manager.id,
                      registered_on=date.today())
    session.add(patient)
    session.flush()
    fields = _apply(session, patient, data)
    fields["care_manager"] = manager.name
    session.flush()
    log_change(session, Change(actor, "patient", str(patient.id), "create", fields))
    return patient.id


def update_patient(session: Session, *, patient_id: uuid.UUID, data: PatientInput,
                   actor: str) -> list[str]:
    """Save the form; returns the names of the fields that changed (audited)."""
    patient = get_patient(session, patient_id=patient_id)
    require_patient_access(session, patient_id=patient_id, purpose="edit")
    _check_ins_free(session, data.ins, patient.id)
    _check_commune(session, data.commune_insee)
    before = {name: _jsonable(getattr(patient, name))
              for name in data.model_fields_set - {"phones"}}
    changed = _apply(session, patient, data)
    if changed:
        patient.updated_at = utcnow()
        session.flush()
        log_change(session, Change(actor, "patient", str(patient.id), "update",
                                   {"changed": changed,
                                    "before": {k: before.get(k) for k in changed}}),
                   payload=changed)
    return sorted(changed)


def get_patient(session: Session, *, patient_id: uuid.UUID) -> Patient:
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFoundError(f"No patient with id {patient_id}.", "Patient introuvable.")
    return patient


def resolve_patient(session: Session, *, ref: str) -> Patient:
    """A patient by local UUID or by INS, as the CLI's ID arguments allow."""
    patient = _find_patient(session, ref)
    require_patient_access(session, patient_id=patient.id, purpose="identity")
    return patient


def _find_patient(session: Session, ref: str) -> Patient:
    try:
        return get_patient(session, patient_id=uuid.UUID(ref))
    except ValueError:
        pass
    except NotFoundError:
        raise
    patient = session.exec(select(Patient).where(Patient.ins == normalize_ins(ref))).first()
    if patient is None:
        raise NotFoundError(f"No patient with id or INS {ref!r}.",
                            f"Aucun patient avec l'identifiant ou l'INS « {ref} ».")
    return patient


def patient_input_from(session: Session, patient: Patient) -> PatientInput:
    """The form's values for an existing patient."""
    require_patient_access(session, patient_id=patient.id, purpose="edit")
    phones = session.exec(select(PatientPhone).where(PatientPhone.patient_id == patient.id)
                          .order_by(col(PatientPhone.position))).all()
    values = {name: getattr(patient, name) for name in PatientInput.model_fields
              if name != "phones"}
    values["phones"] = [PhoneInput(number=p.e164, label=p.label, sms_consent=p.sms_consent)
                        for p in phones]
    return PatientInput.model_validate(values)


def search_patient_ids(session: Session, *, text: str = "", statuses: Sequence[str] = (),
                       fragility_levels: Sequence[int] = (),
                       care_manager: str | None = None) -> PatientIds:
    """Ids of the matching patients in name order; every word typed must match.

    The scan runs over the covering index ix_patient_search, never the wide rows, and
    the ids come back as one string (group_concat), not one Python row per patient.
    """
    stored_id = type_coerce(col(Patient.id), String()).label("id")
    query = sa_select(stored_id).where(visible_patients_clause(session))
    for word in search_words(text):
        query = query.where(func.instr(Patient.search_text, word) > 0)
    if statuses:
        query = query.where(col(Patient.status).in_(statuses))
    if fragility_levels:
        query = query.where(col(Patient.fragility_level).in_(fragility_levels))
    if care_manager:
        query = query.join(User, and_(col(User.id) == Patient.care_manager_id,
                                      col(User.name) == care_manager))
    ordered = query.order_by(col(Patient.sort_key), col(Patient.id)).subquery()
    # SQLite keeps a subquery's ORDER BY under an order-sensitive aggregate such as
    # group_concat (and scans the index in that order: no sort, unlike group_concat's own
    # ORDER BY argument, which sorts again).
    packed = session.execute(sa_select(func.group_concat(ordered.c.id, ""))).scalar()
    return PatientIds(packed or "")


def search_words(text: str) -> list[str]:
    """Folded words to match; a typed phone number ("06 12 34", "+33 6 12") is one word."""
    if re.fullmatch(r"[\d\s.+()-]+", text.strip()):
        digits = re.sub(r"\D", "", text)
        return [digits] if digits else []
    return fold(text).split()


def _first_phone() -> Any:
    return (select(PatientPhone.e164).where(PatientPhone.patient_id == Patient.id)
            .order_by(col(PatientPhone.position)).limit(1).scalar_subquery())


def _row_query() -> Any:
    columns: list[Any] = [
        Patient.id, Patient.ins, Patient.birth_name, Patient.used_name, Patient.given_names,
        Patient.sex, Patient.birth_date, Patient.commune_insee, Commune.name, _first_phone(),
        Patient.status, Patient.fragility_level, User.name,
    ]
    return (
        sa_select(*columns)
        .outerjoin(Commune, col(Commune.insee) == Patient.commune_insee)
        .outerjoin(User, col(User.id) == Patient.care_manager_id)
    )


def patient_rows(session: Session, *, ids: Sequence[uuid.UUID]) -> list[PatientRow]:
    """The table lines of these patients, in the order of `ids` (a page of the table)."""
    found: dict[uuid.UUID, PatientRow] = {}
    visible = visible_patients_clause(session)
    for start in range(0, len(ids), 500):  # stay far below SQLite's bound-parameter limit
        chunk = ids[start:start + 500]
        for row in session.execute(_row_query().where(col(Patient.id).in_(chunk), visible)):
            found[row[0]] = PatientRow(*row)
    return [found[i] for i in ids if i in found]


def _as_json(row: PatientRow) -> dict[str, Any]:
    return {"id": str(row.id), "ins": row.ins, "birth_name": row.birth_name,
            "used_name": row.used_name, "given_names": row.given_names, "sex": row.sex,
            "birth_date": row.birth_date.isoformat(), "commune": row.commune_insee,
            "commune_name": row.commune_name, "status": row.status,
            "fragility_level": row.fragility_level, "care_manager": row.care_manager}


def list_patients(session: Session, *, ids: Sequence[uuid.UUID] | None = None
                  ) -> list[dict[str, Any]]:
    """The CLI's `patients list --json` objects, in name order (or the order of `ids`)."""
    if ids is not None:
        return [_as_json(r) for r in patient_rows(session, ids=ids)]
    query = _row_query().where(visible_patients_clause(session)).order_by(
        col(Patient.sort_key), col(Patient.id))
    return [_as_json(PatientRow(*row)) for row in session.execute(query)]


def count_by_status(session: Session) -> dict[str, int]:
    rows = session.exec(select(Patient.status, func.count()).group_by(col(Patient.status)))
    return {status: n for status, n in rows}


def find_commune(session: Session, *, text: str, limit: int = 20) -> list[Commune]:
    """Communes whose name or INSEE code starts with `text` (for the forms)."""
    folded = fold(text).strip()
    if not folded:
        return []
    query = select(Commune).where(or_(col(Commune.normalized).startswith(folded),
                                      col(Commune.insee).startswith(text.strip())))
    return list(session.exec(query.order_by(col(Commune.normalized)).limit(limit)))


def flag_phone_for_check(session: Session, *, patient_id: uuid.UUID, actor: str,
                         e164: str | None = None) -> str | None:
    """Mark one of the patient's numbers as to be checked (a wrong number on a call).

    `e164` names the number; by default the first one not already flagged. Returns the
    number flagged, or None when every number already was. Audited.
    """
    get_patient(session, patient_id=patient_id)
    phones = session.exec(select(PatientPhone).where(PatientPhone.patient_id == patient_id)
                          .order_by(col(PatientPhone.position))).all()
    if e164 is not None:
        wanted = parse_phone(e164).e164
        target = next((p for p in phones if p.e164 == wanted), None)
        if target is None:
            raise NotFoundError(f"The patient has no phone number {e164}.",
                                f"Le patient n'a pas le numéro {e164}.")
    else:
        target = next((p for p in phones if not p.needs_check), None)
    if target is None or target.needs_check:
        return target.e164 if target else None
    target.needs_check = True
    session.add(target)
    session.flush()
    log_change(session, Change(actor, "patient_phone", str(target.id), "update",
                               {"patient_id": str(patient_id), "e164": target.e164,
                                "needs_check": True}))
    return target.e164


def caseload_ids(session: Session, *, user: str) -> list[uuid.UUID]:
    """The ids of the patients whose care manager is `user` (any status)."""
    return list(session.exec(
        select(Patient.id).join(User, col(User.id) == col(Patient.care_manager_id))
        .where(User.name == user)))


def set_care_manager(session: Session, *, patient_id: uuid.UUID, care_manager: str,
                     actor: str) -> str | None:
    """Hand the patient to another care manager (audited, synced as the field care_manager);
    returns the previous one's name. Who may do it is checked by carehub.users.grants."""
    patient = get_patient(session, patient_id=patient_id)
    before = session.get(User, patient.care_manager_id) if patient.care_manager_id else None
    manager = ensure_user(session, name=care_manager)
    if before is not None and before.id == manager.id:
        return before.name
    patient.care_manager_id = manager.id
    patient.updated_at = utcnow()
    session.flush()
    changed = {"care_manager": manager.name}
    log_change(session, Change(actor, "patient", str(patient.id), "update",
                               {"changed": changed,
                                "before": {"care_manager": before.name if before else None}}),
               payload=changed)
    return before.name if before else None
