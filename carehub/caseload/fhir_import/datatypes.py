"""FHIR datatypes read into Python values: dates, periods, codings, references."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import date
from typing import Any, TypeVar

from carehub.caseload.coding import normalize_code, system_key
from carehub.caseload.fhir_import.bundle import Entry

_T = TypeVar("_T")


def fhir_date(value: Any) -> date | None:
    """A FHIR date/dateTime/instant as a date; a partial date is its first day."""
    if not isinstance(value, str) or len(value) < 4:
        return None
    year, month, day = value[:4], value[5:7] or "01", value[8:10] or "01"
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


def _period(period: Any) -> tuple[date | None, date | None]:
    if not isinstance(period, dict):
        return None, None
    return fhir_date(period.get("start")), fhir_date(period.get("end"))


def _choice_dates(resource: dict[str, Any], prefix: str) -> tuple[date | None, date | None]:
    """onset[x], effective[x]...: a dateTime/instant, or a Period; Age, Range, string ignored."""
    for suffix in ("DateTime", "Instant", "Date"):
        if f"{prefix}{suffix}" in resource:
            return fhir_date(resource[f"{prefix}{suffix}"]), None
    return _period(resource.get(f"{prefix}Period"))


def _clip(text: Any, length: int) -> str | None:
    return text.strip()[:length] if isinstance(text, str) and text.strip() else None


def _concept_display(concept: Any) -> str | None:
    if not isinstance(concept, dict):
        return None
    if concept.get("text"):
        return _clip(concept["text"], 300)
    for coding in concept.get("coding", []):
        if coding.get("display"):
            return _clip(coding["display"], 300)
    return None


def _code_of(concept: Any) -> str | None:
    """First code of a CodeableConcept or Coding."""
    if not isinstance(concept, dict):
        return None
    if concept.get("code"):
        return str(concept["code"])
    for coding in concept.get("coding", []):
        if coding.get("code"):
            return str(coding["code"])
    return None


def _codings(concept: Any, default_system: str | None = None) -> Iterator[dict[str, Any]]:
    """FactCoding values of every coding with a code; unknown systems kept as their URI."""
    if not isinstance(concept, dict):
        return
    codings = concept.get("coding") if "coding" in concept or "code" not in concept \
        else [concept]  # a bare Coding (Encounter.class)
    for coding in codings or []:
        code = coding.get("code")
        if not isinstance(code, str) or not code.strip():
            continue
        uri = coding.get("system") or default_system
        yield {"system": system_key(uri)[:200], "code": normalize_code(code)[:64],
               "system_uri": uri[:200] if uri else None, "original_code": code[:64],
               "display": _clip(coding.get("display"), 300)}


def _source_key(entry: Entry) -> tuple[str, str]:
    """(system, id) that names this resource in its source: first identifier, else fullUrl/id,
    else a digest of its content (so an identical re-import still matches)."""
    for identifier in entry.resource.get("identifier", []):
        if identifier.get("value"):
            return _bounded(identifier.get("system") or "urn:unknown", str(identifier["value"]))
    if entry.full_url:
        return _bounded("fhir:fullUrl", entry.full_url)
    if entry.resource.get("id"):
        return _bounded(f"fhir:{entry.resource_type}", str(entry.resource["id"]))
    digest = hashlib.sha256(json.dumps(entry.resource, sort_keys=True).encode()).hexdigest()
    return "fhir:sha256", digest[:64]


def _bounded(system: str, value: str) -> tuple[str, str]:
    # Columns hold 200/100 characters: a longer key is replaced by its digest, still stable.
    if len(value) > 100:
        value = "sha256:" + hashlib.sha256(value.encode()).hexdigest()[:64]
    if len(system) > 200:
        system = "sha256:" + hashlib.sha256(system.encode()).hexdigest()[:64]
    return system, value


def _lookup(targets: dict[str, _T], reference: Any) -> _T | None:
    """The target of a reference by fullUrl, Type/id, or an absolute URL ending in Type/id."""
    ref = _reference(reference)
    if ref is None:
        return None
    if ref in targets:
        return targets[ref]
    parts = ref.rstrip("/").split("/")
    return targets.get("/".join(parts[-2:])) if len(parts) > 2 else None


def _reference(value: Any) -> str | None:
    if isinstance(value, dict) and isinstance(value.get("reference"), str):
        return str(value["reference"]).split("/_history/")[0]
    return None
