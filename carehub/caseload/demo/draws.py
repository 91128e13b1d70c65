"""The seeded draws every part of the demo takes from, and what a drawn patient is."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from carehub.caseload.demo.rows import Rows


@dataclass(frozen=True)
class Place:
    insee: str
    name: str
    postal_code: str


@dataclass
class Person:
    """The draws about one patient that later choices depend on."""

    id: uuid.UUID
    sex: str
    birth: date
    age: int
    conditions: set[str]
    history_end: date
    last_name: str
    given: str


@dataclass(frozen=True)
class DemoSetup:
    """What the generator needs from the database, as plain (picklable) data."""

    seed: int
    as_of: date
    actor: str
    manager_id: uuid.UUID
    homes: list[tuple[Place, float]]
    birth_places: dict[str, list[str]]
    taken_ins: frozenset[str]
    existing_patients: int


class Draws:
    """The seeded draws every part of the demo takes from: ids, chances, days, counts.

    One `random.Random` and one synthetic clock per generator (set by DemoGenerator), so
    the same seed gives the same database.
    """

    rng: random.Random
    clock_ms: int
    s: dict[str, Any]  # resources/demo/settings.toml
    as_of: date
    start: date  # the first day of the history
    rows: Rows

    def uuid_int(self) -> int:
        """A UUIDv7 (RFC 9562) from a synthetic clock and the seeded generator.

        Time-ordered ids make the bulk inserts append to the indexes instead of touching
        random pages: several times faster and a smaller file than random version-4 ids.
        """
        self.clock_ms += 1
        return (self.clock_ms << 80) | (0x7 << 76) | (self.rng.getrandbits(12) << 64) \
            | (0x2 << 62) | self.rng.getrandbits(62)

    def uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.uuid_int())

    def hex_uuid(self) -> str:
        """`uuid().hex` without building the object: the id as stored."""
        return f"{self.uuid_int():032x}"

    def chance(self, rate: float) -> bool:
        return self.rng.random() < rate

    def day_between(self, first: date, last: date) -> date:
        if last <= first:
            return first
        return first + timedelta(days=self.rng.randint(0, (last - first).days))

    def weighted(self, weights: dict[str, float]) -> str:
        return str(self.rng.choices(list(weights), weights=list(weights.values()))[0])

    def count(self, mean: float) -> int:
        """A small event count with the given mean (whole part plus a Bernoulli draw)."""
        whole = int(mean)
        return whole + (1 if self.rng.random() < mean - whole else 0)

    def digits(self, n: int) -> str:
        return f"{self.rng.randrange(10 ** n):0{n}d}"
