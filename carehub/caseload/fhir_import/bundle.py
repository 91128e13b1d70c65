"""Reading the Bundle: the file, its entries, each resource checked against its R4B model."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from carehub.errors import InputError

BUNDLE_TYPES = ("collection", "batch", "transaction")
FACT_KINDS_BY_TYPE = {
    "Condition": "condition", "MedicationStatement": "medication",
    "MedicationRequest": "medication", "Observation": "observation", "Procedure": "procedure",
    "Immunization": "immunization", "Encounter": "encounter", "AllergyIntolerance": "allergy",
}
# Read for what facts and patients refer to; not stored themselves.
SUPPORTING_TYPES = frozenset({"Practitioner", "Organization", "Medication"})


@dataclass
class ImportReport:
    """What an import did; `summary()` is the CLI's line, `as_dict()` its --json."""

    source: str
    bundle_type: str = ""
    resources: int = 0
    patients_created: int = 0
    patients_updated: int = 0
    patients_unchanged: int = 0
    facts_added: int = 0
    facts_updated: int = 0
    facts_unchanged: int = 0
    ignored: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    warnings_fr: list[str] = field(default_factory=list)
    patient_ids: list[str] = field(default_factory=list)

    def warn(self, message: str, message_fr: str) -> None:
        self.warnings.append(message)
        self.warnings_fr.append(message_fr)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source, "bundle_type": self.bundle_type, "resources": self.resources,
            "patients": {"created": self.patients_created, "updated": self.patients_updated,
                         "unchanged": self.patients_unchanged},
            "facts": {"added": self.facts_added, "updated": self.facts_updated,
                      "unchanged": self.facts_unchanged},
            "ignored": dict(self.ignored), "warnings": list(self.warnings),
            "patient_ids": list(self.patient_ids),
        }

    def summary(self) -> str:
        line = (f"Imported {self.source}: {self.resources} resources; patients "
                f"{self.patients_created} created, {self.patients_updated} updated, "
                f"{self.patients_unchanged} unchanged; facts {self.facts_added} added, "
                f"{self.facts_updated} updated, {self.facts_unchanged} unchanged.")
        if self.ignored:
            kinds = ", ".join(f"{n} {name}" for name, n in sorted(self.ignored.items()))
            line += f" Ignored: {kinds}."
        if self.warnings:
            line += f" {len(self.warnings)} warning(s): " + " ".join(self.warnings)
        return line


@dataclass(frozen=True)
class Entry:
    number: int  # 1-based, as a person counts; Bundle.entry[number - 1]
    resource_type: str
    full_url: str | None
    resource: dict[str, Any]

    @property
    def refs(self) -> list[str]:
        """What a reference to this resource may say: its fullUrl or Type/id."""
        refs = [self.full_url] if self.full_url else []
        if isinstance(self.resource.get("id"), str):
            refs.append(f"{self.resource_type}/{self.resource['id']}")
        return refs


def entry_error(source: str, entry: Entry, field_path: str, problem: str,
                problem_fr: str) -> InputError:
    return InputError(
        f"{source}: entry {entry.number} ({entry.resource_type}, Bundle.entry"
        f"[{entry.number - 1}]), field {field_path}: {problem}. Nothing was imported.",
        f"{source} : entrée {entry.number} ({entry.resource_type}) : champ {field_path} "
        f"invalide ({problem_fr}). Rien n'a été importé.",
    )


def _bundle_error(source: str, problem: str, problem_fr: str) -> InputError:
    return InputError(f"{source}: {problem}. Nothing was imported.",
                      f"{source} : {problem_fr}. Rien n'a été importé.")


def read_bundle_file(path: Path) -> dict[str, Any]:
    """The JSON object in `path`, or InputError (missing file, not JSON: line and column)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"No such file: {path}.", f"Fichier introuvable : {path}.") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a folder, not a FHIR Bundle file.",
                         f"{path} est un dossier, pas un fichier FHIR.") from None
    except UnicodeDecodeError:
        raise InputError(f"{path} is not UTF-8 text: is it a FHIR JSON file?",
                         f"{path} n'est pas un texte UTF-8 : est-ce un fichier FHIR JSON ?"
                         ) from None
    except OSError as exc:
        raise InputError(f"Cannot read {path}: {exc.strerror}.",
                         f"Impossible de lire {path} : {exc.strerror}.") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path.name}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}. "
            "Nothing was imported.",
            f"{path.name} : JSON invalide ligne {exc.lineno}, colonne {exc.colno} ({exc.msg}). "
            "Rien n'a été importé.") from None
    if not isinstance(data, dict):
        raise _bundle_error(path.name, "the file holds no JSON object, not a FHIR Bundle",
                            "le fichier ne contient pas de Bundle FHIR")
    return data


def bundle_entries(bundle: dict[str, Any], source: str, report: ImportReport) -> list[Entry]:
    """The Bundle's entries that carry a resource, each validated against its R4 model."""
    if bundle.get("resourceType") != "Bundle":
        found = bundle.get("resourceType")
        raise _bundle_error(source, f"not a FHIR Bundle (resourceType is {found!r})",
                            f"ce n'est pas un Bundle FHIR (resourceType vaut « {found} »)")
    report.bundle_type = str(bundle.get("type"))
    if bundle.get("type") not in BUNDLE_TYPES:
        raise _bundle_error(
            source, f"Bundle type {bundle.get('type')!r} is not imported "
            f"(expected {', '.join(BUNDLE_TYPES)})",
            f"le type de Bundle « {bundle.get('type')} » n'est pas importé "
            f"(attendu : {', '.join(BUNDLE_TYPES)})")
    raw_entries = bundle.get("entry", [])
    if not isinstance(raw_entries, list):
        raise _bundle_error(source, "Bundle.entry is not a list",
                            "Bundle.entry n'est pas une liste")
    entries = []
    ignored: Counter[str] = Counter()
    for number, raw in enumerate(raw_entries, start=1):
        entry = _entry(source, number, raw)
        if entry is None:
            ignored["entries without a resource"] += 1
            continue
        if entry.resource_type in FACT_KINDS_BY_TYPE or entry.resource_type in SUPPORTING_TYPES \
                or entry.resource_type == "Patient":
            entry = clean_texts(source, entry, report)  # before the model echoes a bad text
            validate_resource(source, entry)
            entries.append(entry)
        else:
            validate_resource(source, entry)
            ignored[entry.resource_type] += 1
    report.resources = len(entries)
    report.ignored = dict(ignored)
    for name, count in sorted(ignored.items()):
        report.warn(f"{count} {name} ignored (not used by CareHub).",
                    f"{count} {name} ignoré(s) (non utilisés par CareHub).")
    return entries


def _entry(source: str, number: int, raw: Any) -> Entry | None:
    placeholder = Entry(number, "?", None, {})
    if not isinstance(raw, dict):
        raise entry_error(source, placeholder, "entry", "not a JSON object", "pas un objet JSON")
    resource = raw.get("resource")
    if resource is None:
        return None  # e.g. a DELETE request: we never delete, and say so in the report
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        raise entry_error(source, placeholder, "resource.resourceType", "missing",
                          "absent")
    full_url = raw.get("fullUrl")
    return Entry(number, resource["resourceType"], full_url if isinstance(full_url, str) else None,
                 resource)


def validate_resource(source: str, entry: Entry) -> None:
    """Parse with the R4B model of its type; the first error names the field."""
    try:
        model_class = get_fhir_model_class(entry.resource_type)
    except (ValueError, KeyError):
        raise entry_error(source, entry, "resourceType",
                          f"{entry.resource_type!r} is not a FHIR R4 resource type",
                          f"« {entry.resource_type} » n'est pas un type de ressource FHIR R4"
                          ) from None
    try:
        model_class.model_validate(entry.resource)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = _field_path(first.get("loc", ()))
        message = str(first.get("msg", "")).removeprefix("Value error, ").rstrip(".")
        value = first.get("input")
        if isinstance(value, (str, int, float)):
            raise entry_error(source, entry, path, f"{message} (got {value!r})",
                              f"valeur « {value} » refusée") from None
        raise entry_error(source, entry, path, message, message) from None


def _field_path(loc: Sequence[Any]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(resource)"


# --------------------------------------------------------------------- control characters

# A text of a kept resource may not hold a control character: NUL makes PostgreSQL (the team
# hub) refuse the row, so the outbox would stay stuck behind it, and the others garble the
# screen, the CSV and the printed page. A lone UTF-16 surrogate is no character at all and
# cannot be stored. Tab, vertical tab and form feed are cleaned to a space (harmless);
# line breaks are kept: a note may have lines. Ignored resources are not read.
_FORBIDDEN = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_SPACED = re.compile("[\t\x0b\x0c]")
_CONTROL_NAMES = {0x00: "NUL", 0x1B: "ESC", 0x7F: "DEL"}


def _forbidden_problem(text: str, at: int) -> tuple[str, str]:
    code = ord(text[at])
    where = f"character {at + 1} of the text"
    if 0xD800 <= code <= 0xDFFF:
        return (f"holds a lone UTF-16 surrogate U+{code:04X} ({where}), which is not a "
                "character", f"le texte contient U+{code:04X}, qui n'est pas un caractère "
                f"(caractère {at + 1})")
    name = f" ({_CONTROL_NAMES[code]})" if code in _CONTROL_NAMES else ""
    return (f"holds the control character U+{code:04X}{name} ({where}), which CareHub "
            "neither stores nor sends to the team hub; correct it in the practice's software",
            f"le texte contient le caractère de contrôle U+{code:04X}{name} (caractère "
            f"{at + 1}), que CareHub ne conserve pas ; corrigez-le dans le logiciel d'origine")


def clean_texts(source: str, entry: Entry, report: ImportReport) -> Entry:
    """`entry` with tabs in its texts made spaces (said in the report); a text holding any
    other control character is refused, naming the entry and field. The caller's Bundle is
    never modified: a cleaned resource is a copy."""
    spaced: list[str] = []

    def clean(value: Any, loc: tuple[Any, ...]) -> Any:
        if isinstance(value, str):
            bad = _FORBIDDEN.search(value)
            if bad is not None:
                problem, problem_fr = _forbidden_problem(value, bad.start())
                raise entry_error(source, entry, _field_path(loc), problem, problem_fr)
            if _SPACED.search(value) is None:
                return value
            spaced.append(_field_path(loc))
            return _SPACED.sub(" ", value)
        if isinstance(value, dict):
            items = {key: clean(item, (*loc, key)) for key, item in value.items()}
            same = all(items[key] is item for key, item in value.items())
            return value if same else items
        if isinstance(value, list):
            elements = [clean(item, (*loc, number)) for number, item in enumerate(value)]
            same = all(new is old for new, old in zip(elements, value, strict=True))
            return value if same else elements
        return value

    resource = clean(entry.resource, ())
    full_url = clean(entry.full_url, ("fullUrl",))
    if not spaced:
        return entry
    fields = ", ".join(spaced)
    report.warn(f"Entry {entry.number} ({entry.resource_type}): tabs replaced by spaces in "
                f"{fields}.",
                f"Entrée {entry.number} ({entry.resource_type}) : tabulations remplacées par "
                f"des espaces dans {fields}.")
    return replace(entry, resource=resource, full_url=full_url)
