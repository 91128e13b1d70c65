"""Clinical resources (Condition, Observation...) mapped to fact drafts of a patient."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from carehub.caseload.fhir_import.bundle import FACT_KINDS_BY_TYPE, Entry
from carehub.caseload.fhir_import.datatypes import (
    _choice_dates,
    _clip,
    _code_of,
    _codings,
    _concept_display,
    _lookup,
    _period,
    _source_key,
    fhir_date,
)

V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"


@dataclass
class FactDraft:
    entry_number: int
    owner: int | uuid.UUID  # index of a PatientDraft, or an already known patient's id
    row: dict[str, Any]  # ClinicalFact columns but ids and created_at
    codings: list[dict[str, Any]]

    @property
    def key(self) -> tuple[str, str]:
        return self.row["source_system"], self.row["source_id"]

    def fingerprint(self) -> tuple[Any, ...]:
        return _fact_fingerprint(self.row, self.codings)
FACT_COMPARED = ("kind", "status", "start_date", "end_date", "display", "value_num",
                 "value_unit", "value_text", "encounter_class")


def _fact_fingerprint(row: dict[str, Any], codings: Iterable[dict[str, Any]]) -> tuple[Any, ...]:
    coded = sorted((c["system"], c["code"], c["system_uri"] or "", c["original_code"] or "",
                    c["display"] or "") for c in codings)
    return (*(row[name] for name in FACT_COMPARED), tuple(coded))


def _fact_draft(source: str, entry: Entry, by_ref: dict[str, Entry]) -> FactDraft:
    resource = entry.resource
    kind = FACT_KINDS_BY_TYPE[entry.resource_type]
    row: dict[str, Any] = dict.fromkeys(("status", "start_date", "end_date", "display", "value_num",
                                         "value_unit", "value_text", "encounter_class"))
    row["kind"] = kind
    row["source_system"], row["source_id"] = _source_key(entry)
    concepts = _fact_concepts(entry, by_ref)
    codings = [c for concept in concepts for c in _codings(concept)]
    row["display"] = next((d for d in map(_concept_display, concepts) if d), None)
    row["status"] = _fact_status(resource)
    row["start_date"], row["end_date"] = _fact_dates(entry)
    if entry.resource_type == "Encounter" and resource.get("class"):
        encounter_class = resource["class"]
        codings.extend(_codings(encounter_class, V3_ACT_CODE))
        row["encounter_class"] = _clip(encounter_class.get("code"), 12)
    if entry.resource_type == "Observation":
        row.update(_observation_value(resource))
    unique = {(c["system"], c["code"]): c for c in reversed(codings)}
    return FactDraft(entry.number, -1, row, list(reversed(unique.values())))


def _fact_concepts(entry: Entry, by_ref: dict[str, Entry]) -> list[Any]:
    resource = entry.resource
    match entry.resource_type:
        case "Immunization":
            return [resource.get("vaccineCode")]
        case "Encounter":
            return list(resource.get("type", []))
        case "MedicationStatement" | "MedicationRequest":
            if "medicationCodeableConcept" in resource:
                return [resource["medicationCodeableConcept"]]
            medication = _lookup(by_ref, resource.get("medicationReference"))
            if medication is not None:
                return [medication.resource.get("code")]
            return [{"text": resource.get("medicationReference", {}).get("display")}]
        case _:
            return [resource.get("code")]


def _fact_status(resource: dict[str, Any]) -> str | None:
    verification = _code_of(resource.get("verificationStatus"))
    if verification in ("refuted", "entered-in-error"):
        return verification  # never counted as an active condition
    status = _code_of(resource.get("clinicalStatus")) or resource.get("status")
    return _clip(status, 20)


def _fact_dates(entry: Entry) -> tuple[date | None, date | None]:
    resource = entry.resource
    match entry.resource_type:
        case "Condition" | "AllergyIntolerance":
            start = _choice_dates(resource, "onset")[0] or fhir_date(resource.get("recordedDate"))
            abated_on, abatement_end = _choice_dates(resource, "abatement")
            return start, abatement_end or abated_on
        case "MedicationStatement":
            start, end = _choice_dates(resource, "effective")
            return start or fhir_date(resource.get("dateAsserted")), end
        case "MedicationRequest":
            validity = resource.get("dispenseRequest", {}).get("validityPeriod")
            return fhir_date(resource.get("authoredOn")), _period(validity)[1]
        case "Observation":
            start, end = _choice_dates(resource, "effective")
            return start or fhir_date(resource.get("issued")), end
        case "Procedure":
            return _choice_dates(resource, "performed")
        case "Immunization":
            return _choice_dates(resource, "occurrence")[0], None
        case _:
            return _period(resource.get("period"))


def _observation_value(resource: dict[str, Any]) -> dict[str, Any]:
    if isinstance(resource.get("valueQuantity"), dict):
        quantity = resource["valueQuantity"]
        value = quantity.get("value")
        return {"value_num": float(value) if value is not None else None,
                "value_unit": _clip(quantity.get("unit") or quantity.get("code"), 30)}
    for name in ("valueInteger", "valueBoolean"):
        if name in resource:
            return {"value_num": float(resource[name])}
    if "valueString" in resource:
        return {"value_text": _clip(resource["valueString"], 300)}
    if "valueCodeableConcept" in resource:
        concept = resource["valueCodeableConcept"]
        return {"value_text": _concept_display(concept) or _code_of(concept)}
    return {}


def _subject(entry: Entry) -> Any:
    key = "patient" if entry.resource_type in ("Immunization", "AllergyIntolerance") else "subject"
    return entry.resource.get(key)
