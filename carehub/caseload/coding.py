"""Code systems (DOMAIN.md §2): FHIR system URIs to short keys, and code normalisation.

Unknown systems are kept under their URI, never dropped.
"""

from __future__ import annotations

SYSTEM_KEYS: dict[str, str] = {
    "http://hl7.org/fhir/sid/icd-10": "icd10",
    "urn:oid:2.16.840.1.113883.6.3": "icd10",
    "http://hl7.org/fhir/sid/icd-10-fr": "icd10",
    "https://mos.esante.gouv.fr/NOS/TRE_R310-CIM10/FHIR/TRE-R310-CIM10": "icd10",
    "https://smt.esante.gouv.fr/terminologie-cim-10": "icd10",
    "http://hl7.org/fhir/sid/icpc-2": "icpc2",
    "urn:oid:2.16.840.1.113883.6.139": "icpc2",
    "https://mos.esante.gouv.fr/NOS/TRE_R313-CISP2/FHIR/TRE-R313-CISP2": "icpc2",
    "http://www.whocc.no/atc": "atc",
    "http://data.esante.gouv.fr/whocc/atc": "atc",
    "http://loinc.org": "loinc",
    "http://snomed.info/sct": "snomed",
    "http://hl7.org/fhir/sid/cvx": "cvx",
    "https://mos.esante.gouv.fr/NOS/TRE_R38-ActeCCAM/FHIR/TRE-R38-ActeCCAM": "ccam",
    "https://smt.esante.gouv.fr/terminologie-ccam": "ccam",
    "http://terminology.hl7.org/CodeSystem/v3-ActCode": "v3-actcode",
}
SHORT_KEYS = frozenset(SYSTEM_KEYS.values())
URI_BY_KEY: dict[str, str] = {}
for _uri, _key in SYSTEM_KEYS.items():
    URI_BY_KEY.setdefault(_key, _uri)


def system_key(uri: str | None) -> str:
    """The short key of a known system (icd10, loinc...), else the URI itself."""
    if not uri:
        return "unknown"
    stripped = uri.strip().rstrip("/")
    if stripped in SYSTEM_KEYS:
        return SYSTEM_KEYS[stripped]
    lowered = stripped.lower()
    for known, key in SYSTEM_KEYS.items():
        if known.lower() == lowered:
            return key
    if "cim-10" in lowered or "cim10" in lowered:
        return "icd10"
    if "ccam" in lowered:
        return "ccam"
    return stripped


def normalize_code(code: str) -> str:
    """Codes compare without dots and case-insensitively: E04.9 == e049."""
    return code.strip().replace(".", "").upper()
