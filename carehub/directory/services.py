"""Directory services the CLI and the app share: searches from a commune or a patient,
médecin traitant suggestions, and orientation of a patient to a practitioner."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import Session

from carehub.caseload.services import resolve_patient
from carehub.coordination.services import record_action
from carehub.directory.addresses import french_address, french_name
from carehub.directory.models import Practitioner
from carehub.directory.proximity import (
    GENERAL_PRACTICE,
    NearbyPractitioner,
    Origin,
    commune_origin,
    nearest_practitioners,
    patient_origin,
    resolve_code,
)
from carehub.errors import InputError, NotFoundError


@dataclass(frozen=True)
class DirectorySearch:
    """What a user asks: around a commune or a patient, what kind of practitioner."""

    commune: str | None = None
    patient: str | None = None  # local id or INS
    profession: str | None = None  # code or label
    specialty: str | None = None  # code or label
    name: str | None = None
    radius_km: float = 30.0
    limit: int = 20


@dataclass(frozen=True)
class DirectoryResult:
    origin: Origin
    patient_id: uuid.UUID | None
    practitioners: list[NearbyPractitioner]


def search_directory(session: Session, *, search: DirectorySearch) -> DirectoryResult:
    """Nearest practitioners around the commune or the patient the search names."""
    if (search.commune is None) == (search.patient is None):
        raise InputError("Give either a commune or a patient.",
                         "Indiquez une commune ou un patient.")
    patient_id = None
    if search.patient is not None:
        patient = resolve_patient(session, ref=search.patient)
        origin = patient_origin(session, patient=patient)
        patient_id = patient.id
    else:
        assert search.commune is not None
        origin = commune_origin(session, insee=search.commune)
    profession = (resolve_code(session, kind="profession", value=search.profession)
                  if search.profession else None)
    specialty = (resolve_code(session, kind="specialty", value=search.specialty)
                 if search.specialty else None)
    found = nearest_practitioners(session, origin=origin, profession=profession,
                                  specialty=specialty, name=search.name,
                                  radius_km=search.radius_km, limit=search.limit)
    return DirectoryResult(origin, patient_id, found)


def suggest_attending_doctors(session: Session, *, patient_ref: str, radius_km: float = 30.0,
                              limit: int = 10) -> list[NearbyPractitioner]:
    """General practitioners near a patient who has no médecin traitant ([] if she has one)."""
    patient = resolve_patient(session, ref=patient_ref)
    if patient.gp_rpps or patient.gp_name:
        return []
    profession, specialty = GENERAL_PRACTICE
    return nearest_practitioners(session, origin=patient_origin(session, patient=patient),
                                 profession=profession, specialty=specialty,
                                 radius_km=radius_km, limit=limit)


def record_referral(session: Session, *, patient_ref: str, practitioner_id: str, actor: str,
                    note: str | None = None) -> uuid.UUID:
    """"Orienter vers…": a coordination action of type referral for that practitioner."""
    practitioner = session.get(Practitioner, practitioner_id)
    if practitioner is None:
        raise NotFoundError(f"No practitioner {practitioner_id!r} in the directory.",
                            f"Aucun professionnel « {practitioner_id} » dans l'annuaire.")
    rpps = practitioner.identifier if practitioner.id_type == "8" else None
    return record_action(
        session, patient_ref=patient_ref, action_type="referral", actor=actor, note=note,
        practitioner_id=practitioner.id,
        practitioner_name=f"{practitioner.first_name} {practitioner.last_name}".strip(),
        details={"practitioner_rpps": rpps},
    )


PRINT_TITLE = "Professionnels de santé près de chez vous"


def _km(value: float) -> str:
    return f"{value:.1f}".replace(".", ",") + " km"


def _radius(value: float) -> str:
    """30 km, 7,5 km: the radius as asked, without a needless ",0"."""
    return f"{value:g}".replace(".", ",") + " km"


def _count_line(result: DirectoryResult, radius_km: float) -> str:
    """How many the list holds, and within what distance of where."""
    count = len(result.practitioners)
    where = f"à moins de {_radius(radius_km)} de {result.origin.name}"
    if count == 0:
        return f"Aucun professionnel de santé trouvé {where}."
    farthest = max(p.distance_km for p in result.practitioners)
    return f"{_people(count)} {where} (le plus éloigné à {_km(farthest)})."


def _people(count: int) -> str:
    if count == 0:
        return "Aucun professionnel de santé"
    return "1 professionnel de santé" if count == 1 else f"{count} professionnels de santé"


def printable_list(result: DirectoryResult, *, radius_km: float, today: date,
                   large_print: bool = False) -> dict[str, Any]:
    """The printed list's content, in French, as plain data (the Qt side lays it out).

    Addresses and site names read as French ("3 place de l'Église, 41350 Vineuil"); the
    directory keeps them as the extract writes them."""
    kinds = sorted({p.specialty_label or p.profession_label for p in result.practitioners})
    return {
        "title": PRINT_TITLE,
        "subtitle": f"Autour de {result.origin.name}, à moins de {_radius(radius_km)}"
                    + (f" — {', '.join(kinds)}" if 0 < len(kinds) <= 3 else ""),
        "count": _count_line(result, radius_km),
        # At the foot of every page: how many, within what distance.
        "footer_count": f"{_people(len(result.practitioners))} à moins de "
                        f"{_radius(radius_km)} de {result.origin.name}",
        "date": f"Liste établie le {today:%d/%m/%Y} d'après l'annuaire santé public.",
        "footer": "Appelez avant de vous déplacer : horaires et prise de nouveaux patients "
                  "peuvent changer.",
        "large_print": large_print,
        "rows": [{
            "name": p.display_name,
            "kind": " — ".join(x for x in (p.profession_label, p.specialty_label) if x),
            "site": french_name(p.site_name or ""),
            "address": french_address(p.address, commune=p.commune_name),
            "phone": p.phone_display or "",
            "mssante": p.mssante or "",
            "distance": _km(p.distance_km),
        } for p in result.practitioners],
    }
