"""The demo's reference data (resources/demo/): rates, names and codes, read once."""

from __future__ import annotations

import bisect
import csv
import random
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from itertools import accumulate
from pathlib import Path
from typing import Any

from carehub.identifiers import luhn_ok
from carehub.paths import resources_dir

Coding = tuple[str, str, str]  # system key, code as published, display


def demo_dir() -> Path:
    return resources_dir() / "demo"


@dataclass(frozen=True)
class Weighted:
    """Values with cumulative weights, for fast seeded draws."""

    values: tuple[Any, ...]
    cumulative: tuple[float, ...]

    @classmethod
    def of(cls, pairs: Sequence[tuple[Any, float]]) -> Weighted:
        return cls(tuple(v for v, _ in pairs), tuple(accumulate(w for _, w in pairs)))

    def draw(self, rng: random.Random) -> Any:
        index = bisect.bisect(self.cumulative, rng.random() * self.cumulative[-1])
        return self.values[min(index, len(self.values) - 1)]


@dataclass(frozen=True)
class Catalogue:
    settings: dict[str, Any]
    given_names: dict[tuple[str, str], Weighted]  # (sex, generation) -> names
    last_names: Weighted


@lru_cache(maxsize=1)
def load_catalogue() -> Catalogue:
    folder = demo_dir()
    with (folder / "caseload.toml").open("rb") as handle:
        settings = tomllib.load(handle)
    given: dict[tuple[str, str], list[tuple[str, float]]] = {}
    with (folder / "first_names.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            key = (row["sex"], row["generation"])
            given.setdefault(key, []).append((row["name"], float(row["weight"])))
    with (folder / "last_names.csv").open(encoding="utf-8", newline="") as handle:
        last = [(row["name"], float(row["weight"])) for row in csv.DictReader(handle)]
    return Catalogue(settings, {k: Weighted.of(v) for k, v in given.items()}, Weighted.of(last))


def by_age(table: dict[str, Any], age: int) -> Any:
    """The value of the age band (keyed by its lower bound) that `age` falls in."""
    best: Any = None
    best_bound = -1
    for bound_text, value in table.items():
        bound = int(bound_text)
        if best_bound < bound <= age:
            best, best_bound = value, bound
    return best if best is not None else 0.0


def coding(entry: Sequence[Any]) -> Coding:
    """A [system key, code, display] entry of caseload.toml."""
    system, code, display = entry
    return str(system), str(code), str(display)


def age_at(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def rpps_with_key(first10: str) -> str:
    """An 11-digit RPPS number: ten digits and the Luhn check digit."""
    return next(first10 + str(d) for d in range(10) if luhn_ok(first10 + str(d)))
