"""Where a site is: its commune, else its postal code, else the code of its Bureau cedex.

Communes come from resources/communes-fr.csv (already in the `commune` table; see
communes.gazetteer_rows). The lookup is held in memory (35,000 communes, a few MB) so the
import places a row with a few dict reads; results are cached per distinct address key.
No database import here: the parsing child process builds its gazetteer from those rows.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from carehub.text import fold

# INSEE country codes that mean France (the extract leaves the field empty for most rows).
FRANCE_COUNTRY_CODES = frozenset({"", "99100"})
_CEDEX = re.compile(r"\bcedex\b.*$")
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
_LEADING_POSTAL = re.compile(r"^\s*(\d{5})\b")


def name_key(text: str) -> str:
    """A commune name as communes-fr.csv's NORMALIZED column spells it: 'l abergement'."""
    folded = _CEDEX.sub("", fold(text))
    return _NOT_ALNUM.sub(" ", folded).strip()


def department_of_postal(postal: str) -> tuple[str, ...]:
    """The department codes a postal code may belong to (Corsica's 20 is 2A or 2B)."""
    if postal.startswith("20"):
        return ("2A", "2B")
    if postal.startswith("97") or postal.startswith("98"):
        return (postal[:3],)
    return (postal[:2],)


@dataclass
class Gazetteer:
    """Communes by INSEE code, by postal code and by (department, name)."""

    insee_codes: frozenset[str]
    by_postal: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    by_name: dict[tuple[str, str], str] = field(default_factory=dict)

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str, str, str]]) -> Gazetteer:
        """Rows of (insee, normalized name, department, postal codes)."""
        by_postal: dict[str, list[tuple[str, str]]] = defaultdict(list)
        by_name: dict[tuple[str, str], str] = {}
        codes = set()
        for insee, normalized, department, postal_codes in sorted(rows):
            codes.add(insee)
            for postal in re.split(r"[;,\s]+", postal_codes):
                if postal:
                    by_postal[postal].append((insee, normalized))
            by_name.setdefault((department, normalized), insee)
        return cls(frozenset(codes), dict(by_postal), by_name)

    def __post_init__(self) -> None:
        self.place = lru_cache(maxsize=65536)(self._place)

    def _place(self, commune_code: str, postal: str, cedex: str, city: str,
               country_code: str) -> str | None:
        """The INSEE code a site sits at, or None (abroad or unknown)."""
        if country_code not in FRANCE_COUNTRY_CODES:
            return None
        if commune_code in self.insee_codes:
            return commune_code
        if not postal:
            match = _LEADING_POSTAL.match(cedex)
            postal = match.group(1) if match else ""
            city = cedex[match.end():] if match else city
        if not postal:
            return None
        return self._by_postal(postal, name_key(city))

    def _by_postal(self, postal: str, name: str) -> str | None:
        candidates = self.by_postal.get(postal)
        if candidates:
            for insee, normalized in candidates:
                if normalized == name:
                    return insee
            return candidates[0][0]  # same postal code: a few km apart at most
        # A cedex code is no commune's postal code: the city name within its department.
        for department in department_of_postal(postal):
            found = self.by_name.get((department, name))
            if found:
                return found
        return None
