"""Nearest practitioners: an R*Tree box around the origin, then exact great-circle distances.

Sites sit at their commune's reference point, so the R*Tree (`commune_rtree`) holds one
point per commune. A query takes the communes in a box around the origin, joins their
activities through ix_activity_place (commune, profession, specialty) and computes the
haversine distance of those few candidates. The box starts small and doubles until it
holds `limit` practitioners within the circle it inscribes, or reaches the radius, so a
dense city and an empty countryside both read only what they need.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import text
from sqlmodel import Session

from carehub.caseload.models import Patient
from carehub.directory.models import Commune
from carehub.errors import InputError, NotFoundError
from carehub.phones import format_phone
from carehub.text import fold

EARTH_RADIUS_KM = 6371.0
KM_PER_DEGREE = math.pi * EARTH_RADIUS_KM / 180
FIRST_BOX_KM = 3.0
GENERAL_PRACTICE = ("10", "SM54")  # médecin, savoir-faire médecine générale

# Used when no extract has brought its labels yet (DOMAIN.md §4).
KNOWN_CODES: dict[str, dict[str, str]] = {
    "profession": {"10": "Médecin", "21": "Pharmacien", "40": "Chirurgien-Dentiste",
                   "50": "Sage-Femme", "60": "Infirmier", "70": "Masseur-Kinésithérapeute"},
    "specialty": {"SM54": "Médecine Générale"},
}


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def rtree_id(insee: str) -> int:
    """The R*Tree id of a commune (same formula as migration 0003)."""
    return int(insee.upper().replace("2A", "1000").replace("2B", "1001"))


@dataclass(frozen=True)
class Origin:
    insee: str
    name: str
    latitude: float
    longitude: float


@dataclass(frozen=True)
class NearbyPractitioner:
    id: str  # Identification nationale PP
    rpps: str | None
    civility: str | None
    last_name: str
    first_name: str
    profession: str
    profession_label: str
    specialty: str | None
    specialty_label: str | None
    commune: str  # INSEE code of the site's place
    commune_name: str
    distance_km: float
    phone: str | None  # E.164
    phone_display: str | None  # 01 23 45 67 89
    site_name: str | None
    address: str
    mssante: str | None  # personal MSSanté mailbox, from the MSSanté file when imported

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def display_name(self) -> str:
        return " ".join(p for p in (self.civility, self.first_name, self.last_name) if p)


def resolve_code(session: Session, *, kind: str, value: str) -> str:
    """A profession or specialty given as code (10, SM54) or label (Médecin): its code."""
    wanted = value.strip()
    rows = session.execute(text("SELECT code, folded FROM directory_code WHERE kind = :kind"),
                           {"kind": kind}).all()
    known = {code: fold(label) for code, label in KNOWN_CODES[kind].items()}
    known.update({code: folded for code, folded in rows})
    if wanted in known or wanted.upper() in known:
        return wanted if wanted in known else wanted.upper()
    folded = fold(wanted)
    exact = sorted(code for code, label in known.items() if label == folded)
    if exact:
        return exact[0]
    prefixed = sorted(code for code, label in known.items() if label.startswith(folded))
    if len(prefixed) == 1:
        return prefixed[0]
    word = "profession" if kind == "profession" else "specialty"
    raise InputError(f"Unknown {word} {value!r}: give a directory code (e.g. "
                     f"{'10' if kind == 'profession' else 'SM54'}) or its label.",
                     f"{'Profession' if kind == 'profession' else 'Spécialité'} inconnue "
                     f"« {value} » : indiquez un code de l'annuaire ou son libellé.")


def commune_origin(session: Session, *, insee: str) -> Origin:
    commune = session.get(Commune, insee.strip().upper())
    if commune is None:
        raise NotFoundError(f"Unknown commune INSEE code {insee!r}.",
                            f"Code INSEE de commune inconnu « {insee} ».")
    return Origin(commune.insee, commune.name, commune.latitude, commune.longitude)


def patient_origin(session: Session, *, patient: Patient) -> Origin:
    """A patient is placed at her address's commune."""
    if not patient.commune_insee:
        raise InputError("This patient has no commune in her address: she cannot be placed.",
                         "Ce patient n'a pas de commune dans son adresse : impossible de "
                         "chercher autour de chez lui.")
    return commune_origin(session, insee=patient.commune_insee)


_CANDIDATES = """
SELECT a.practitioner_id, a.id, c.latitude, c.longitude
FROM commune_rtree AS r
JOIN practitioner_activity AS a ON a.place_insee = r.insee {activity_filter}
JOIN commune AS c ON c.insee = r.insee
JOIN practitioner AS p ON p.id = a.practitioner_id
WHERE r.max_lat >= :min_lat AND r.min_lat <= :max_lat
  AND r.max_lon >= :min_lon AND r.min_lon <= :max_lon
  AND p.active {practitioner_filter}
"""

_DETAILS = """
SELECT p.id, p.id_type, p.identifier, p.civility, p.last_name, p.first_name,
       a.id, a.profession_code, pc.label, a.specialty_code, sc.label, a.place_insee, c.name,
       a.phone, a.site_name, a.address,
       (SELECT min(m.address) FROM practitioner_mailbox AS m
        WHERE m.practitioner_id = p.id AND m.active) AS mssante
FROM practitioner_activity AS a
JOIN practitioner AS p ON p.id = a.practitioner_id
JOIN commune AS c ON c.insee = a.place_insee
LEFT JOIN directory_code AS pc ON pc.kind = 'profession' AND pc.code = a.profession_code
LEFT JOIN directory_code AS sc ON sc.kind = 'specialty' AND sc.code = a.specialty_code
WHERE a.id IN ({ids})
"""


def _box(origin: Origin, half_km: float) -> dict[str, float]:
    dlat = half_km / KM_PER_DEGREE
    dlon = half_km / (KM_PER_DEGREE * max(math.cos(math.radians(origin.latitude)), 0.01))
    return {"min_lat": origin.latitude - dlat, "max_lat": origin.latitude + dlat,
            "min_lon": origin.longitude - dlon, "max_lon": origin.longitude + dlon}


def _candidate_query(profession: str | None, specialty: str | None,
                     name: str | None) -> tuple[str, dict[str, Any]]:
    activity, practitioner, params = "", "", {}
    if profession:
        activity += " AND a.profession_code = :profession"
        params["profession"] = profession
    if specialty:
        activity += " AND a.specialty_code = :specialty"
        params["specialty"] = specialty
    for index, word in enumerate(fold(name or "").split()):
        practitioner += f" AND p.search_text LIKE :word{index}"
        params[f"word{index}"] = f"%{word}%"
    return _CANDIDATES.format(activity_filter=activity, practitioner_filter=practitioner), params


def nearest_practitioners(session: Session, *, origin: Origin, profession: str | None = None,
                          specialty: str | None = None, name: str | None = None,
                          radius_km: float = 30.0, limit: int = 20
                          ) -> list[NearbyPractitioner]:
    """Active practitioners nearest `origin`, one row each at their nearest site.

    `profession` and `specialty` are directory codes (see resolve_code). Nearest first;
    equal distances in name order.
    """
    if radius_km <= 0 or limit <= 0:
        return []
    sql, params = _candidate_query(profession, specialty, name)
    statement = text(sql)
    half = min(FIRST_BOX_KM, radius_km)
    while True:
        best: dict[str, tuple[float, int]] = {}
        for practitioner_id, activity_id, lat, lon in session.execute(
                statement, {**params, **_box(origin, half)}):
            distance = haversine_km(origin.latitude, origin.longitude, lat, lon)
            if distance <= half and (practitioner_id not in best
                                     or (distance, activity_id) < best[practitioner_id]):
                best[practitioner_id] = (distance, activity_id)
        if len(best) >= limit or half >= radius_km:
            break
        half = min(half * 2, radius_km)
    return _details(session, best, limit)


def _details(session: Session, best: dict[str, tuple[float, int]],
             limit: int) -> list[NearbyPractitioner]:
    # A cut at `limit` must not split a tie arbitrarily: order needs the names too.
    ranked = sorted(best.items(), key=lambda item: item[1])
    if len(ranked) > limit:
        cutoff = ranked[limit - 1][1][0]
        ranked = [item for item in ranked if item[1][0] <= cutoff]
    if not ranked:
        return []
    distances = {activity_id: distance for _pid, (distance, activity_id) in ranked}
    ids = ",".join(str(activity_id) for activity_id in distances)
    rows = list(session.execute(text(_DETAILS.format(ids=ids))).all())
    rows.sort(key=lambda row: (distances[row[6]], row[4], row[5], row[0]))
    return [
        NearbyPractitioner(
            id=row[0], rpps=row[2] if row[1] == "8" else None, civility=row[3],
            last_name=row[4], first_name=row[5], profession=row[7],
            profession_label=row[8] or KNOWN_CODES["profession"].get(row[7], row[7]),
            specialty=row[9], specialty_label=row[10] if row[9] else None,
            commune=row[11], commune_name=row[12], distance_km=round(distances[row[6]], 2),
            phone=row[13], phone_display=format_phone(row[13]) if row[13] else None,
            site_name=row[14], address=row[15], mssante=row[16])
        for row in rows[:limit]
    ]


def brute_force_nearest(session: Session, *, origin: Origin, profession: str | None = None,
                        specialty: str | None = None, radius_km: float = 30.0,
                        limit: int = 20) -> list[tuple[str, float]]:
    """Every placed activity, haversine in Python: the baseline the benchmark compares."""
    sql = ("SELECT a.practitioner_id, c.latitude, c.longitude FROM practitioner_activity a "
           "JOIN commune c ON c.insee = a.place_insee JOIN practitioner p ON "
           "p.id = a.practitioner_id WHERE p.active")
    params: dict[str, Any] = {}
    if profession:
        sql += " AND a.profession_code = :profession"
        params["profession"] = profession
    if specialty:
        sql += " AND a.specialty_code = :specialty"
        params["specialty"] = specialty
    best: dict[str, float] = {}
    for practitioner_id, lat, lon in session.execute(text(sql), params):
        distance = haversine_km(origin.latitude, origin.longitude, lat, lon)
        if distance <= radius_km and distance < best.get(practitioner_id, math.inf):
            best[practitioner_id] = distance
    return sorted(best.items(), key=lambda item: (item[1], item[0]))[:limit]
