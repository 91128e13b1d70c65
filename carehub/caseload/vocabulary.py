"""The clinical vocabulary (resources/vocabulary.toml): concepts and the codes that mean them.

Prevention rules, cohort queries and the patient summary all match facts through
`coding_condition`, so a clinician who edits the TOML file changes them all at once.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_
from sqlmodel import col

from carehub.caseload.coding import SHORT_KEYS, normalize_code
from carehub.caseload.models import FactCoding
from carehub.errors import InputError
from carehub.paths import resources_dir

CATEGORIES = frozenset(
    {"vaccine", "screening", "procedure", "condition", "medication", "lab", "contact",
     "encounter"}
)
_META_KEYS = frozenset({"label", "category", "sex"})
_CODE = re.compile(r"^[A-Z0-9-]+\*?$")


@dataclass(frozen=True)
class Concept:
    """A named concept and its codes per system key; prefixes keep their trailing '*'."""

    name: str
    label: str
    category: str
    sex: str | None
    codes: dict[str, tuple[str, ...]]

    def applies_to(self, sex: str) -> bool:
        return self.sex is None or self.sex == sex


@dataclass(frozen=True)
class Vocabulary:
    path: Path
    concepts: dict[str, Concept]

    def concept(self, name: str) -> Concept:
        """The concept called `name`, or InputError listing the known ones."""
        found = self.concepts.get(name.strip().lower())
        if found is None:
            known = ", ".join(sorted(self.concepts))
            raise InputError(f"Unknown concept {name!r}; known concepts: {known}.",
                             f"Concept inconnu « {name} » ; concepts connus : {known}.")
        return found

    def in_category(self, category: str) -> list[Concept]:
        """Concepts of one category, in file order."""
        return [c for c in self.concepts.values() if c.category == category]


def default_vocabulary_path() -> Path:
    return resources_dir() / "vocabulary.toml"


def vocabulary() -> Vocabulary:
    """The shipped vocabulary, read once per process."""
    return load_vocabulary(default_vocabulary_path())


@lru_cache(maxsize=8)
def load_vocabulary(path: Path) -> Vocabulary:
    """Read and check a vocabulary file; InputError names the file, line and concept."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read the vocabulary ({exc.strerror}).",
                         f"{path} : lecture du vocabulaire impossible ({exc.strerror}).") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML: {exc}.",
                         f"{path} : fichier TOML invalide : {exc}.") from exc
    concepts = {name: _concept(path, text, name, entry) for name, entry in data.items()}
    return Vocabulary(path=path, concepts=concepts)


def _line_of(text: str, name: str) -> int | None:
    """The line of a concept's [section] header, so that errors point at it."""
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip() == f"[{name}]":
            return number
    return None


def _problem(path: Path, text: str, name: str, english: str, french: str) -> InputError:
    line = _line_of(text, name)
    where = f"{path}, line {line}" if line else str(path)
    where_fr = f"{path}, ligne {line}" if line else str(path)
    return InputError(f"{where}, concept [{name}]: {english}.",
                      f"{where_fr}, concept [{name}] : {french}.")


def _concept(path: Path, text: str, name: str, entry: Any) -> Concept:
    if not isinstance(entry, dict):
        raise _problem(path, text, name, "expected a [section] of fields",
                       "une section [nom] de champs est attendue")
    label = entry.get("label")
    if not isinstance(label, str) or not label.strip():
        raise _problem(path, text, name, "missing French label (label = \"...\")",
                       "libellé manquant (label = \"...\")")
    category = entry.get("category")
    if category not in CATEGORIES:
        raise _problem(path, text, name, f"category must be one of {', '.join(sorted(CATEGORIES))}",
                       f"la catégorie est l'une de {', '.join(sorted(CATEGORIES))}")
    sex = entry.get("sex")
    if sex not in (None, "F", "M"):
        raise _problem(path, text, name, "sex must be \"F\" or \"M\"",
                       "le sexe est \"F\" ou \"M\"")
    codes = {key: _codes(path, text, name, key, value)
             for key, value in entry.items() if key not in _META_KEYS}
    if not codes:
        raise _problem(path, text, name, "no codes", "aucun code")
    return Concept(name=name, label=label.strip(), category=str(category), sex=sex, codes=codes)


def _codes(path: Path, text: str, name: str, key: str, value: Any) -> tuple[str, ...]:
    if key not in SHORT_KEYS:
        known = ", ".join(sorted(SHORT_KEYS))
        raise _problem(path, text, name, f"unknown code system {key!r} (known: {known})",
                       f"système de codes inconnu « {key} » (connus : {known})")
    if not isinstance(value, list) or not value:
        raise _problem(path, text, name, f"{key}: empty code list",
                       f"{key} : liste de codes vide")
    codes = []
    for raw in value:
        code = normalize_code(raw) if isinstance(raw, str) else ""
        if not _CODE.match(code) or code == "*":
            raise _problem(path, text, name, f"{key}: invalid code {raw!r}",
                           f"{key} : code invalide « {raw} »")
        codes.append(code)
    return tuple(codes)


def _next_prefix(prefix: str) -> str:
    """The smallest string greater than every string starting with `prefix`."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


PrefixTest = Callable[[str, str, str], ColumnElement[bool]]  # (system, low, high) -> on code


def prefix_range(_system: str, low: str, high: str) -> ColumnElement[bool]:
    return and_(col(FactCoding.code) >= low, col(FactCoding.code) < high)


def coding_condition(concept: Concept | str) -> ColumnElement[bool]:
    """SQL condition on FactCoding rows meaning `concept` (a Concept or a shipped name)."""
    alternatives = coding_alternatives(concept)
    return or_(*alternatives) if alternatives else false()


def coding_alternatives(concept: Concept | str, *, prefix_test: PrefixTest = prefix_range
                        ) -> list[ColumnElement[bool]]:
    """The conditions on FactCoding rows, one per system's exact codes and one per prefix,
    any of which means `concept`.

    A prefix P* matches P <= code < next(P): the same rows as code LIKE 'P%' for our
    upper-case normalised codes, but SQLite can answer it from an index on (system, code).
    Each alternative names its system (system = K AND code range), so that SQLite reads
    each one as its own range of the index, not every code of the system. `prefix_test`
    may write the test on the code of a prefix otherwise (the cohort compiler does, and
    asks each alternative apart: SQLite answers an OR of index ranges by reading the
    table's rows, a UNION ALL of them from the index alone).
    """
    found = concept if isinstance(concept, Concept) else vocabulary().concept(concept)
    alternatives: list[ColumnElement[bool]] = []
    for key, codes in found.codes.items():
        system = col(FactCoding.system) == key
        exact = [c for c in codes if not c.endswith("*")]
        if exact:
            alternatives.append(and_(system, col(FactCoding.code).in_(exact)))
        prefixes = [c[:-1] for c in codes if c.endswith("*")]
        alternatives.extend(and_(system, prefix_test(key, p, _next_prefix(p)))
                            for p in prefixes)
    return alternatives
