"""The import plan: each fact given its patient, each address its commune."""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from carehub.caseload.fhir_import.bundle import FACT_KINDS_BY_TYPE, Entry, ImportReport, entry_error
from carehub.caseload.fhir_import.datatypes import _lookup, _reference
from carehub.caseload.fhir_import.facts import FactDraft, _fact_draft, _subject
from carehub.caseload.fhir_import.patients import PatientDraft, _patient_draft
from carehub.caseload.models import (
    Patient,
)
from carehub.directory.models import Commune
from carehub.identifiers import (
    INS_SYSTEMS,
    normalize_ins,
)
from carehub.text import fold

CHUNK = 500  # ids per IN (...): far below SQLite's bound-parameter limit


@dataclass
class Plan:
    patients: list[PatientDraft]
    facts: list[FactDraft]


def _plan(session: Session, entries: list[Entry], source: str, report: ImportReport) -> Plan:
    by_ref = {ref: entry for entry in entries for ref in entry.refs}
    patients: list[PatientDraft] = []
    patient_by_ref: dict[str, int] = {}
    seen_ins: dict[str, Entry] = {}
    seen_source: dict[tuple[str, str], Entry] = {}
    for entry in entries:
        if entry.resource_type != "Patient":
            continue
        draft = _patient_draft(source, entry, by_ref, report)
        twin = seen_ins.get(draft.ins) if draft.ins else None
        twin = twin or seen_source.get((draft.source_system, draft.source_id))
        if twin is not None:
            raise entry_error(source, entry, "identifier",
                              f"same patient as entry {twin.number} (same INS or identifier)",
                              f"même patient que l'entrée {twin.number}")
        if draft.ins:
            seen_ins[draft.ins] = entry
        seen_source[(draft.source_system, draft.source_id)] = entry
        for ref in entry.refs:
            patient_by_ref[ref] = len(patients)
        patients.append(draft)
    facts = [_fact_draft(source, entry, by_ref) for entry in entries
             if entry.resource_type in FACT_KINDS_BY_TYPE]
    _assign_owners(session, source, entries, facts, patients, patient_by_ref)
    unique: dict[tuple[Any, str, str], FactDraft] = {}
    for fact in facts:
        unique.setdefault((fact.owner, *fact.key), fact)
    if len(unique) < len(facts):
        report.warn(f"{len(facts) - len(unique)} duplicate resource(s) kept once.",
                    f"{len(facts) - len(unique)} ressource(s) en double gardée(s) une fois.")
    return Plan(patients, list(unique.values()))


def _assign_owners(session: Session, source: str, entries: list[Entry], facts: list[FactDraft],
                   patients: list[PatientDraft], patient_by_ref: dict[str, int]) -> None:
    """Each fact's patient: one in the Bundle, else one already in the database."""
    entry_by_number = {e.number: e for e in entries}
    unresolved: list[tuple[FactDraft, Any]] = []
    for fact in facts:
        subject = _subject(entry_by_number[fact.entry_number])
        index = _lookup(patient_by_ref, subject)
        if index is None:
            unresolved.append((fact, subject))
        else:
            fact.owner = index
            patients[index].facts.append(fact)
    known = _known_patients(session, [s for _, s in unresolved])
    for fact, subject in unresolved:
        patient_id = known.get(_subject_key(subject))
        if patient_id is None:
            entry = entry_by_number[fact.entry_number]
            shown = _reference(subject) or "nothing"
            field_name = "patient" if entry.resource_type in ("Immunization",
                                                              "AllergyIntolerance") else "subject"
            raise entry_error(source, entry, field_name,
                              f"refers to {shown}, a patient neither in the Bundle nor known",
                              f"patient « {shown} » absent du Bundle et inconnu")
        fact.owner = patient_id


def _subject_key(subject: Any) -> str:
    if not isinstance(subject, dict):
        return ""
    identifier = subject.get("identifier")
    if isinstance(identifier, dict) and identifier.get("value"):
        return f"{identifier.get('system')}|{identifier['value']}"
    return _reference(subject) or ""


def _known_patients(session: Session, subjects: list[Any]) -> dict[str, uuid.UUID]:
    """Patients of earlier imports that a fact may name: by INS or source identifier, by
    local id (Patient/<uuid>), or by the fullUrl/id they were imported under."""
    found: dict[str, uuid.UUID] = {}
    keys = {_subject_key(s) for s in subjects} - {""}
    for key in keys:
        system, _, value = key.rpartition("|") if "|" in key else ("", "", key)
        query = select(Patient.id)
        if system in INS_SYSTEMS:
            query = query.where(Patient.ins == normalize_ins(value))
        elif system:
            query = query.where(Patient.source_system == system, Patient.source_id == value)
        elif value.startswith("Patient/") and _is_uuid(value[8:]):
            query = query.where(Patient.id == uuid.UUID(value[8:]))
        elif value.startswith("Patient/"):
            query = query.where(Patient.source_system == "fhir:Patient",
                                Patient.source_id == value[8:])
        else:
            query = query.where(Patient.source_system == "fhir:fullUrl",
                                Patient.source_id == value)
        patient_id = session.exec(query).first()
        if patient_id is not None:
            found[key] = patient_id
    return found


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _city_key(city: str) -> str:
    """A city as Commune.normalized spells it: folded, no punctuation, St -> saint."""
    words = re.sub(r"[^a-z0-9]+", " ", fold(city)).split()
    if "cedex" in words:
        words = words[:words.index("cedex")]
    spelled = {"st": "saint", "ste": "sainte"}
    return " ".join(spelled.get(w, w) for w in words)


def _department_of(postal: str) -> tuple[str, ...]:
    if postal.startswith("20"):
        return ("2A", "2B")
    return (postal[:3],) if postal.startswith("97") else (postal[:2],)


def resolve_communes(session: Session, addresses: Iterable[tuple[str | None, str | None,
                                                               str | None]]
                     ) -> dict[tuple[str | None, str | None, str | None], Commune]:
    """INSEE commune of each (postal code, city, stated INSEE): the stated code when it exists,
    else the commune of that postal code with that name, else the only one of that name in
    the department. Unplaced addresses are absent from the result."""
    wanted = {a for a in addresses if any(a)}
    stated = {a[2] for a in wanted if a[2]}
    postals = {a[0] for a in wanted if a[0]}
    names = {_city_key(a[1]) for a in wanted if a[1]}
    by_insee = {c.insee: c for c in _communes(session, col(Commune.insee), stated)}
    by_postal: dict[str, list[Commune]] = defaultdict(list)
    for commune in _communes(session, col(Commune.postal_codes), postals):
        for code in re.split(r"[\s,;]+", commune.postal_codes):
            by_postal[code].append(commune)
    by_name: dict[str, list[Commune]] = defaultdict(list)
    for commune in _communes(session, col(Commune.normalized), names):
        by_name[commune.normalized].append(commune)
    resolved = {}
    for address in wanted:
        picked = _pick_commune(address, by_insee, by_postal, by_name)
        if picked is not None:
            resolved[address] = picked
    return resolved


def _communes(session: Session, column: Any, values: set[str]) -> Iterator[Commune]:
    ordered = sorted(values)
    for start in range(0, len(ordered), CHUNK):
        yield from session.exec(select(Commune).where(column.in_(ordered[start:start + CHUNK])))


def _pick_commune(address: tuple[str | None, str | None, str | None],
                  by_insee: dict[str, Commune], by_postal: dict[str, list[Commune]],
                  by_name: dict[str, list[Commune]]) -> Commune | None:
    postal, city, insee = address
    if insee and insee in by_insee:
        return by_insee[insee]
    name = _city_key(city) if city else ""
    candidates = by_postal.get(postal or "", [])
    named = [c for c in candidates if c.normalized == name]
    if not named and name:  # "Paris" at 75011: the arrondissement whose city is Paris
        parents = {c.insee for c in by_name.get(name, [])}
        named = [c for c in candidates if c.district_of in parents]
    if len(named) == 1:
        return named[0]
    if len(candidates) == 1 and not named:
        return candidates[0]
    in_department = [c for c in by_name.get(name, [])
                     if not postal or c.department in _department_of(postal)]
    return in_department[0] if len(in_department) == 1 else None
