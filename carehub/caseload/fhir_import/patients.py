"""A Patient resource mapped to a patient draft: INS, names, phones, address, GP."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from carehub.caseload.fhir_import.bundle import Entry, ImportReport, entry_error
from carehub.caseload.fhir_import.datatypes import _bounded, _clip, _code_of, _lookup, fhir_date
from carehub.caseload.fhir_import.facts import FactDraft
from carehub.errors import CareHubError
from carehub.identifiers import (
    IDNPS_SYSTEM,
    INS_SYSTEMS,
    ins_problem,
    ins_problem_fr,
    normalize_ins,
)
from carehub.phones import parse_phone

INSEE_EXTENSION = "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-address-insee-code"
IDENTITY_RELIABILITY = "fr-core-identity-reliability"
IDENTITY_STATUS_BY_CODE = {"VIDE": "provisional", "PROV": "provisional",
                           "VALI": "validated", "QUAL": "qualified"}
IDENTITY_RANK = {"provisional": 0, "validated": 1, "qualified": 2}
INS_PREFERENCE = ("nir", "test", "demo", "nia")  # a NIA is temporary: the NIR wins
PHONE_LABELS = {"home": "domicile", "work": "travail", "mobile": "portable"}
SEX_BY_GENDER = {"female": "F", "male": "M"}
_INSEE_SHAPE = re.compile(r"^[0-9][0-9AB][0-9]{3}$")


@dataclass
class PatientDraft:
    entry: Entry
    ins: str | None
    source_system: str
    source_id: str
    fields: dict[str, Any]  # Patient columns the source gives (absent ones are left alone)
    phones: list[tuple[str, str, str | None]]  # e164, kind, label
    address: tuple[str | None, str | None, str | None] = (None, None, None)  # postal, city, insee
    facts: list[FactDraft] = field(default_factory=list)


def _patient_draft(source: str, entry: Entry, by_ref: dict[str, Entry],
                   report: ImportReport) -> PatientDraft:
    resource = entry.resource
    ins, ins_kind = _patient_ins(source, entry)
    source_system, source_id = _patient_source(source, entry)
    fields: dict[str, Any] = _names(source, entry)
    birth = resource.get("birthDate")
    if not isinstance(birth, str) or len(birth) != 10:
        raise entry_error(source, entry, "birthDate",
                          "a full birth date YYYY-MM-DD is required" if birth is None
                          else f"incomplete date {birth!r}: the full date is required",
                          "date de naissance complète obligatoire")
    fields["birth_date"] = fhir_date(birth)
    if resource.get("gender"):
        fields["sex"] = SEX_BY_GENDER.get(resource["gender"], "U")
    if ins:
        fields["ins"], fields["ins_kind"] = ins, ins_kind
    identity = _identity_status(resource)
    if identity == "qualified" and not ins:
        report.warn(f"Entry {entry.number}: a qualified identity without INS is kept as validated.",
                    f"Entrée {entry.number} : identité qualifiée sans INS gardée comme validée.")
        identity = "validated"
    if identity:
        fields["identity_status"] = identity
    phones, email = _telecom(source, entry)
    if email:
        fields["email"] = email
    address = _address(resource)
    if address is not None:
        line, postal = address[0], address[1]
        fields.update({k: v for k, v in (("address_line", line), ("postal_code", postal)) if v})
    language = _language(resource)
    if language:
        fields["language"] = language
    fields.update(_general_practitioner(resource, by_ref))
    if resource.get("deceasedBoolean") or resource.get("deceasedDateTime"):
        fields["status"] = "deceased"
        deceased_on = fhir_date(resource.get("deceasedDateTime"))
        if deceased_on:
            fields["deceased_date"] = deceased_on
    draft = PatientDraft(entry, ins, source_system, source_id, fields, phones)
    if address is not None:
        draft.address = (address[1], address[2], address[3])
    return draft


def _patient_ins(source: str, entry: Entry) -> tuple[str | None, str | None]:
    found: list[tuple[int, str, str]] = []
    for index, identifier in enumerate(entry.resource.get("identifier", [])):
        kind = INS_SYSTEMS.get(str(identifier.get("system", "")).strip())
        if kind is None or not identifier.get("value"):
            continue
        raw = str(identifier["value"])
        problem = ins_problem(raw)
        if problem:
            raise entry_error(source, entry, f"identifier[{index}].value", problem,
                              (ins_problem_fr(raw) or problem).rstrip("."))
        found.append((INS_PREFERENCE.index(kind), normalize_ins(raw), kind))
    if not found:
        return None, None
    _, ins, kind = min(found)
    return ins, kind


def _patient_source(source: str, entry: Entry) -> tuple[str, str]:
    """The practice software's own key: first identifier that is not an INS, else fullUrl/id."""
    for identifier in entry.resource.get("identifier", []):
        if identifier.get("value") and identifier.get("system") not in INS_SYSTEMS:
            return _bounded(identifier.get("system") or "urn:unknown", str(identifier["value"]))
    if entry.full_url:
        return _bounded("fhir:fullUrl", entry.full_url)
    if entry.resource.get("id"):
        return _bounded("fhir:Patient", str(entry.resource["id"]))
    # Only an INS names this patient: the INS is then the key.
    for identifier in entry.resource.get("identifier", []):
        if identifier.get("value"):
            return _bounded(str(identifier.get("system")), normalize_ins(identifier["value"]))
    raise entry_error(source, entry, "identifier", "no identifier, fullUrl nor id",
                      "ni identifiant, ni fullUrl, ni id")


def _names(source: str, entry: Entry) -> dict[str, Any]:
    names = [n for n in entry.resource.get("name", []) if isinstance(n, dict)]
    by_use: dict[str, dict[str, Any]] = {}
    for name in names:
        by_use.setdefault(name.get("use") or "", name)
    birth = by_use.get("official") or by_use.get("maiden") or by_use.get("") or \
        (names[0] if names else None)
    usual = by_use.get("usual")
    birth_name = _clip((birth or usual or {}).get("family"), 100)
    if not birth_name:
        raise entry_error(source, entry, "name", "a family name is required",
                          "nom de famille obligatoire")
    given_source = [n for n in (birth, usual, *names) if n and n.get("given")]
    given = " ".join(given_source[0]["given"]) if given_source else ""
    if not given.strip():
        raise entry_error(source, entry, "name.given", "a given name is required",
                          "prénom obligatoire")
    used = _clip(usual.get("family"), 100) if usual else None
    fields: dict[str, Any] = {"birth_name": birth_name, "given_names": given.strip()[:150]}
    if used and used != birth_name:
        fields["used_name"] = used
    return fields


def _identity_status(resource: dict[str, Any]) -> str | None:
    for extension in resource.get("extension", []):
        if not str(extension.get("url", "")).endswith(IDENTITY_RELIABILITY):
            continue
        for part in [extension, *extension.get("extension", [])]:
            if part is extension or part.get("url") == "identityStatus":
                code = _code_of(part.get("valueCoding")) or part.get("valueCode")
                if code in IDENTITY_STATUS_BY_CODE:
                    return IDENTITY_STATUS_BY_CODE[code]
    return None


def _telecom(source: str, entry: Entry) -> tuple[list[tuple[str, str, str | None]], str | None]:
    phones: list[tuple[str, str, str | None]] = []
    email = None
    for index, point in enumerate(entry.resource.get("telecom", [])):
        value = point.get("value")
        if not isinstance(value, str) or not value.strip():
            continue
        if point.get("system") in ("phone", "sms"):
            try:
                phone = parse_phone(value)
            except CareHubError as exc:
                raise entry_error(source, entry, f"telecom[{index}].value",
                                  exc.message.rstrip("."), exc.message_fr.rstrip(".")) from None
            if phone.e164 not in {p[0] for p in phones}:
                phones.append((phone.e164, phone.kind, PHONE_LABELS.get(point.get("use", ""))))
        elif point.get("system") == "email" and email is None:
            email = _clip(value, 200)
    return phones, email


def _address(resource: dict[str, Any]
             ) -> tuple[str | None, str | None, str | None, str | None] | None:
    addresses = [a for a in resource.get("address", []) if a.get("use") != "old"]
    if not addresses:
        return None
    home = next((a for a in addresses if a.get("use") == "home"), addresses[0])
    line = _clip(", ".join(home.get("line", [])), 200)
    postal = _clip(home.get("postalCode"), 10)
    postal = postal.replace(" ", "")[:5] if postal else None
    return line, postal, _clip(home.get("city"), 100), _insee_hint(home)


def _insee_hint(address: dict[str, Any]) -> str | None:
    """The INSEE code an address states: FR Core extension (on it or its city), or district."""
    extensions = [*address.get("extension", []), *address.get("_city", {}).get("extension", [])]
    for extension in extensions:
        url = str(extension.get("url", ""))
        if url == INSEE_EXTENSION or "insee" in url.lower():
            code = _code_of(extension.get("valueCoding")) or extension.get("valueCode") \
                or extension.get("valueString")
            if isinstance(code, str) and _INSEE_SHAPE.match(code.strip().upper()):
                return code.strip().upper()
    district = str(address.get("district", "")).strip().upper()
    return district if _INSEE_SHAPE.match(district) else None


def _language(resource: dict[str, Any]) -> str | None:
    communications = resource.get("communication", [])
    chosen = next((c for c in communications if c.get("preferred")),
                  communications[0] if communications else None)
    code = _code_of(chosen.get("language")) if chosen else None
    return code.split("-")[0].lower()[:8] if code else None


def _general_practitioner(resource: dict[str, Any], by_ref: dict[str, Entry]) -> dict[str, Any]:
    for reference in resource.get("generalPractitioner", []):
        target = _lookup(by_ref, reference)
        if target is not None and target.resource_type == "Practitioner":
            practitioner = target.resource
            identifiers = practitioner.get("identifier", [])
            name = _person_name(practitioner.get("name", []))
        elif target is None and isinstance(reference.get("identifier"), dict):
            identifiers, name = [reference["identifier"]], _clip(reference.get("display"), 200)
        else:
            continue
        rpps = _rpps(identifiers)
        found = {k: v for k, v in (("gp_rpps", rpps), ("gp_name", name)) if v}
        if found:
            return found
    return {}


def _rpps(identifiers: Iterable[dict[str, Any]]) -> str | None:
    for identifier in identifiers:
        value = str(identifier.get("value", "")).strip()
        if identifier.get("system") == IDNPS_SYSTEM and len(value) == 12 and value[0] == "8":
            return value[1:]
        if value.isdigit() and len(value) == 11 and "rpps" in str(identifier.get("system")).lower():
            return value
    return None


def _person_name(names: list[dict[str, Any]]) -> str | None:
    if not names:
        return None
    name = names[0]
    text = " ".join([*name.get("prefix", []), *name.get("given", []), name.get("family", "")])
    return _clip(" ".join(text.split()) or name.get("text"), 200)
