"""A reproducible synthetic caseload (`carehub demo`): old rural patients with ten years of history.

Everything random comes from one seeded `random.Random`, UUIDs included, so the same seed and
as-of date give the same database content. Rates, names and codes come from resources/demo/
so that a clinician can read and adjust them. Rows are built as dicts and bulk-inserted with
SQLAlchemy Core in chunks: 50,000 patients and their ~1.5 million facts in well under a minute.
"""

from __future__ import annotations

import bisect
import csv
import random
import time as clock
import tomllib
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import accumulate
from pathlib import Path
from typing import Any

from sqlalchemy import Dialect, Table, func, text
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect
from sqlmodel import Session, col, select

from carehub.caseload.coding import normalize_code
from carehub.caseload.models import (
    FACT_COPIED,
    ClinicalFact,
    Consent,
    FactCoding,
    Patient,
    PatientPhone,
    RelatedPerson,
)
from carehub.caseload.services import search_text_for, sort_key_for
from carehub.changes import log_changes
from carehub.childproc import can_start_child, items_from_child, serve
from carehub.coordination.audit import Change
from carehub.directory.models import Commune
from carehub.errors import InputError
from carehub.identifiers import ins_key, luhn_ok
from carehub.paths import resources_dir
from carehub.text import fold
from carehub.users.services import ensure_user

PATIENTS_PER_CHUNK = 2000
PARALLEL_FROM = 5000  # patients; below, a child process costs more than it saves
MAX_PATIENTS = 1_000_000
Coding = tuple[str, str, str]  # system key, code as published, display


def demo_dir() -> Path:
    return resources_dir() / "demo"


@dataclass(frozen=True)
class DemoReport:
    """What one `carehub demo` run added."""

    patients: int
    phones: int
    related_persons: int
    consents: int
    facts: int
    codings: int
    department: str
    seed: int
    seconds: float

    def summary(self) -> str:
        return (f"Added {self.patients} demo patients (seed {self.seed}, département "
                f"{self.department}): {self.facts} clinical facts ({self.codings} codings), "
                f"{self.phones} phones, {self.related_persons} related persons, "
                f"{self.consents} consents in {self.seconds:.1f} s.")


# --------------------------------------------------------------------------- reference data


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


# --------------------------------------------------------------------------- row buffers

# Facts and codings are most of the rows: they are built directly as tuples of stored values
# in these column orders (no per-row conversion); the other tables go through the columns'
# own bind processors, so they are stored exactly as the ORM would store them.
FACT_COLUMNS = ("id", "patient_id", "kind", "status", "start_date", "end_date", "display",
                "value_num", "value_unit", "value_text", "encounter_class", "created_at")
CODING_COLUMNS = ("fact_id", "patient_id", "system", "code", "system_uri", "original_code",
                  "display", *FACT_COPIED)


class TableSink:
    """Rows of one table waiting for the next executemany, as the driver takes them."""

    def __init__(self, table: Table, dialect: Dialect, columns: Sequence[str] | None = None):
        self.names = tuple(columns or (c.name for c in table.columns))
        self.processors = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
                           for name in self.names]
        quote = dialect.identifier_preparer.quote
        self.sql = (f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in self.names)})"
                    f" VALUES ({', '.join('?' for _ in self.names)})")
        self.rows: list[tuple[Any, ...]] = []
        self.total = 0

    def add(self, row: dict[str, Any]) -> None:
        """A row of Python values (every column named), converted as SQLAlchemy would."""
        self.rows.append(tuple(
            value if value is None or process is None else process(value)
            for value, process in zip((row[n] for n in self.names), self.processors, strict=True)
        ))

    def encode(self, name: str, value: Any) -> Any:
        process = self.processors[self.names.index(name)]
        return value if process is None else process(value)

    def take(self) -> list[tuple[Any, ...]]:
        rows, self.rows = self.rows, []
        return rows

    def write(self, session: Session, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            session.connection().exec_driver_sql(self.sql, rows)
            self.total += len(rows)


@dataclass
class Chunk:
    """The rows of a few thousand patients, ready for the driver (picklable)."""

    tables: list[list[tuple[Any, ...]]]
    changes: list[Change]
    payloads: list[dict[str, Any] | None]


class Rows:
    """Every table the demo writes, in insertion order (parents first: foreign keys are on)."""

    def __init__(self) -> None:
        dialect = sqlite_dialect()  # the stored forms of the local database

        def sink(model: Any, columns: Sequence[str] | None = None) -> TableSink:
            return TableSink(model.__table__, dialect, columns)

        self.patients = sink(Patient)
        self.phones = sink(PatientPhone)
        self.related = sink(RelatedPerson)
        self.consents = sink(Consent)
        self.facts = sink(ClinicalFact, FACT_COLUMNS)
        self.codings = sink(FactCoding, CODING_COLUMNS)
        self.sinks = (self.patients, self.phones, self.related, self.consents, self.facts,
                      self.codings)
        self.changes: list[Change] = []
        self.payloads: list[dict[str, Any] | None] = []

    def take(self) -> Chunk:
        """The rows built since the last call."""
        chunk = Chunk([sink.take() for sink in self.sinks], self.changes, self.payloads)
        self.changes, self.payloads = [], []
        return chunk

    def write(self, session: Session, chunk: Chunk) -> None:
        for sink, rows in zip(self.sinks, chunk.tables, strict=True):
            sink.write(session, rows)
        self.changes.extend(chunk.changes)
        self.payloads.extend(chunk.payloads)

    def log(self, session: Session) -> None:
        """One audit event and outbox entry per patient created."""
        log_changes(session, self.changes, self.payloads)
        self.changes, self.payloads = [], []


# --------------------------------------------------------------------------- the generator


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


class DemoGenerator:
    """Draws patients one after the other from a single seeded random generator."""

    def __init__(self, setup: DemoSetup, rows: Rows) -> None:
        # A database that already has patients gets other draws (and so other UUIDs).
        self.rng = random.Random(f"carehub-demo/{setup.seed}/{setup.existing_patients}")
        self.cat = load_catalogue()
        self.s = self.cat.settings
        self.as_of = setup.as_of
        self.start = add_years(setup.as_of, -int(self.s["history"]["years"]))
        self.homes = Weighted.of(setup.homes)
        self.birth_places = setup.birth_places
        self.birth_departments = Weighted.of(
            list(self.s["territory"]["birth_departments"].items()))
        self.taken_ins = set(setup.taken_ins)
        self.manager_id = setup.manager_id
        self.actor = setup.actor
        self.seed = setup.seed
        self.rows = rows
        # The ids' clock starts at the as-of date (plus the patients already there).
        self.clock_ms = int(datetime.combine(setup.as_of, time(), UTC).timestamp() * 1000) \
            + setup.existing_patients * 1000
        self.gps = self._gp_pool()

    # ---- small helpers

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

    def given_name(self, sex: str, birth_year: int) -> str:
        generation = "old" if birth_year < 1965 else "young"
        return str(self.cat.given_names[(sex, generation)].draw(self.rng))

    def last_name(self) -> str:
        return str(self.cat.last_names.draw(self.rng))

    def _gp_pool(self) -> list[tuple[str, str]]:
        pool: dict[str, str] = {}
        while len(pool) < int(self.s["care"]["gp_count"]):
            sex = "F" if self.chance(0.5) else "M"
            rpps = rpps_with_key("10" + self.digits(8))
            pool[rpps] = f"Dr {self.given_name(sex, 1975)} {self.last_name()}"
        return sorted(pool.items())

    def mobile(self) -> str:
        prefix = str(self.rng.choice(self.s["territory"]["mobile_prefixes"]))
        return "+33" + (prefix + self.digits(10 - len(prefix)))[1:]

    def landline(self) -> str:
        prefix = str(self.rng.choice(self.s["territory"]["landline_prefixes"]))
        return "+33" + (prefix + self.digits(10 - len(prefix)))[1:]

    # ---- one patient

    def patient(self) -> None:
        person = self._person()
        status, deceased = self._status(person)
        registered = self._registered_on(person, deceased)
        created = datetime.combine(registered, time(9), UTC)
        row = self._identity(person)
        home: Place = self.homes.draw(self.rng)
        row.update(self._address(home))
        phones = self._phones(person)
        row.update(self._contact(person, phones))
        row.update(self._accessibility(person.age))
        row.update(self._care(person, registered))
        row.update(
            id=person.id, status=status, deceased_date=deceased, registered_on=registered,
            care_manager_id=self.manager_id, created_at=created, updated_at=created,
            fragility_level=self._fragility(person),
            search_text=search_text_for(
                names=[row["birth_name"], row["used_name"], row["given_names"]], ins=row["ins"],
                phones=[p["e164"] for p in phones], commune_name=home.name),
            sort_key=sort_key_for(used_name=row["used_name"], birth_name=row["birth_name"],
                                  given_names=row["given_names"]),
        )
        self.rows.patients.add(row)
        for phone in phones:
            self.rows.phones.add(phone)
        self._circle(person)
        self._consents(person, registered)
        History(self, person, created).build()
        self.rows.changes.append(Change(self.actor, "patient", str(person.id), "create",
                                        {"source": "demo", "seed": self.seed}))
        self.rows.payloads.append({
            "ins": row["ins"], "birth_name": row["birth_name"], "used_name": row["used_name"],
            "given_names": row["given_names"], "sex": row["sex"],
            "birth_date": person.birth.isoformat(), "commune_insee": home.insee,
            "status": status, "care_manager": self.actor,
        })

    def _person(self) -> Person:
        ages = self.s["ages"]
        if self.chance(ages["young_rate"]):
            age = self.rng.randint(18, 59)
        else:
            age = min(100, int(self.rng.triangular(60, 101, ages["old_mode"])))
        birth = add_years(self.as_of, -age - 1) + timedelta(days=self.rng.randint(1, 365))
        female_rate = 0.52 if age < 60 else 0.58 if age < 85 else 0.68
        sex = "F" if self.chance(female_rate) else "M"
        person = Person(id=self.uuid(), sex=sex, birth=birth, age=age_at(birth, self.as_of),
                        conditions=set(), history_end=self.as_of, last_name=self.last_name(),
                        given=self.given_name(sex, birth.year))
        person.conditions = self._conditions(person)
        return person

    def _conditions(self, person: Person) -> set[str]:
        found = set()
        for name, spec in self.s["conditions"].items():
            table = spec.get(f"prevalence_{person.sex.lower()}", spec.get("prevalence"))
            if table and self.chance(float(by_age(table, person.age))):
                found.add(name)
        if "diabetes_type1" in found:
            found.discard("diabetes_type2")
        return found

    def _status(self, person: Person) -> tuple[str, date | None]:
        status = self.weighted(self.s["status"]["weights"])
        if status != "deceased":
            return status, None
        deceased = self.day_between(self.as_of - timedelta(days=730),
                                    self.as_of - timedelta(days=2))
        person.history_end = deceased
        return status, deceased

    def _registered_on(self, person: Person, deceased: date | None) -> date:
        if deceased is None and self.chance(self.s["status"]["new_arrival_rate"]):
            return self.as_of - timedelta(days=self.rng.randint(0, 42))
        last = (deceased or self.as_of) - timedelta(days=43)
        return self.day_between(max(self.start, add_years(person.birth, 18)), last)

    def _ins(self, person: Person) -> tuple[str, str | None]:
        """A demo INS consistent with sex and birth, and the birth place it encodes."""
        territory = self.s["territory"]
        if self.chance(territory["birth_abroad_rate"]):
            place = self.rng.choice(territory["birth_countries"])
        else:
            place = self.rng.choice(self.birth_places[self.birth_departments.draw(self.rng)])
        head = f"{1 if person.sex == 'M' else 2}{person.birth.year % 100:02d}" \
               f"{person.birth.month:02d}{place}"
        while True:
            first13 = head + f"{self.rng.randint(1, 999):03d}"
            ins = f"{first13}{ins_key(first13):02d}"
            if ins not in self.taken_ins:
                self.taken_ins.add(ins)
                return ins, place

    def _identity(self, person: Person) -> dict[str, Any]:
        names = self.s["names"]
        ins, birth_place = self._ins(person)
        used = None
        if person.sex == "F" and person.age >= 30 and self.chance(
                names["married_women_used_name_rate"]):
            used = self.last_name()
        given = person.given
        if self.chance(names["second_given_name_rate"]):
            second = self.given_name(person.sex, person.birth.year)
            given = f"{given} {second}" if second != given else given
        birth_name = person.last_name
        person.last_name = used or birth_name  # the name relatives and e-mail go by
        return {
            "ins": ins, "ins_kind": "demo",
            "identity_status": self.weighted(self.s["status"]["identity_weights"]),
            "birth_name": birth_name,
            "used_name": used, "given_names": given, "sex": person.sex,
            "birth_date": person.birth, "birth_place_insee": birth_place,
            "language": "fr", "notes": None, "source_system": None, "source_id": None,
        }

    def _address(self, home: Place) -> dict[str, Any]:
        spec = self.s["address"]
        if self.chance(spec["hamlet_rate"]):
            line = f"Lieu-dit {self.rng.choice(spec['hamlets'])}"
        else:
            line = f"{self.rng.randint(1, 60)} {self.rng.choice(spec['streets'])}"
        return {"address_line": line, "postal_code": home.postal_code, "commune_insee": home.insee}

    def _phones(self, person: Person) -> list[dict[str, Any]]:
        spec = self.s["contact"]
        has_mobile = self.chance(by_age(spec["mobile_rate_by_age"], person.age))
        has_landline = self.chance(by_age(spec["landline_rate_by_age"], person.age))
        numbers: list[tuple[str, str, str]] = []
        if has_landline or not has_mobile:
            numbers.append((self.landline(), "fixed", "Domicile"))
        if has_mobile:
            mobile = (self.mobile(), "mobile", "Portable")
            numbers.insert(0 if person.age < 75 else len(numbers), mobile)
        return [
            {"id": self.uuid(), "patient_id": person.id, "e164": e164, "kind": kind,
             "label": label, "position": position, "needs_check": False,
             "sms_consent": kind == "mobile" and self.chance(spec["sms_consent_rate"])}
            for position, (e164, kind, label) in enumerate(numbers)
        ]

    def _contact(self, person: Person, phones: list[dict[str, Any]]) -> dict[str, Any]:
        spec = self.s["contact"]
        email = None
        if self.chance(by_age(spec["email_rate_by_age"], person.age)):
            local = f"{fold(person.given)}.{fold(person.last_name)}".replace(" ", "").replace(
                "'", "")
            suffix = str(self.rng.randint(1, 99)) if self.chance(0.4) else ""
            email = f"{local}{suffix}@{self.rng.choice(spec['email_domains'])}"
        channel = "phone"
        sms_ok = any(p["sms_consent"] for p in phones)
        roll = self.rng.random()
        if sms_ok and person.age < 75 and roll < 0.2:
            channel = "sms"
        elif email and roll < 0.35:
            channel = "email"
        elif roll > 1 - spec["letter_channel_rate"]:
            channel = "letter"
        elif roll > 1 - spec["letter_channel_rate"] - spec["visit_channel_rate"]:
            channel = "visit"
        after = before = None
        hours_roll = self.rng.random()
        if hours_roll < spec["call_after_rate"]:
            after = time(14, 0)
        elif hours_roll < spec["call_after_rate"] + spec["call_before_rate"]:
            before = time(12, 0)
        note = self.rng.choice(spec["hours_notes"]) if self.chance(spec["hours_note_rate"]) \
            else None
        return {"email": email, "preferred_channel": channel, "call_after": after,
                "call_before": before, "preferred_hours_note": note}

    def _accessibility(self, age: int) -> dict[str, bool]:
        return {need: self.chance(by_age(rates, age))
                for need, rates in self.s["accessibility"].items()}

    def _fragility(self, person: Person) -> int:
        spec = self.s["fragility"]
        weights = by_age(spec["weights"], person.age)
        level = int(self.rng.choices((0, 1, 2, 3), weights=weights)[0])
        if person.conditions & set(spec["worsening_conditions"]):
            level = min(3, level + 1)
        return level

    def _care(self, person: Person, registered: date) -> dict[str, Any]:
        spec = self.s["care"]
        no_gp = spec["no_gp_rate"] * (5 if registered > self.as_of - timedelta(days=43) else 1)
        rpps, gp_name = (None, None) if self.chance(no_gp) else self.rng.choice(self.gps)
        directives = self.chance(by_age(spec["advance_directives_rate"], person.age))
        holder = None
        if directives:
            holder = self.rng.choice(["Médecin traitant", "Personne de confiance",
                                      "Au domicile, dans le dossier de liaison"])
        return {"gp_rpps": rpps, "gp_name": gp_name, "advance_directives": directives,
                "advance_directives_holder": holder}

    def _relative(self, person: Person) -> dict[str, Any]:
        relationship = str(self.rng.choice(self.s["care"]["relationships"]))
        female = relationship in {"fille", "épouse", "belle-fille", "nièce", "voisine", "amie",
                                  "sœur", "petite-fille"}
        if relationship in {"épouse", "époux"}:
            female = person.sex == "M"
        sex = "F" if female else "M"
        family = relationship not in {"voisine", "voisin", "amie"}
        surname = person.last_name if family and self.chance(0.6) else self.last_name()
        given = self.given_name(sex, person.birth.year + (0 if relationship in {
            "épouse", "époux", "sœur", "frère", "voisine", "voisin", "amie"} else 30))
        same_home = relationship in {"épouse", "époux"}
        return {
            "id": self.uuid(), "patient_id": person.id, "name": f"{given} {surname}",
            "relationship": relationship, "is_caregiver": False, "is_trusted_person": False,
            "is_legal_guardian": False, "guardianship": None,
            "guardian_agreement_required": False, "is_emergency_contact": False,
            "phone_e164": self.mobile() if self.chance(0.85) else self.landline(),
            "email": None,
            "address": "Même adresse" if same_home else None,
        }

    def _circle(self, person: Person) -> None:
        spec = self.s["care"]
        people = []
        if self.chance(by_age(spec["caregiver_rate"], person.age)):
            caregiver = self._relative(person)
            caregiver["is_caregiver"] = True
            caregiver["is_trusted_person"] = self.chance(0.7)
            caregiver["is_emergency_contact"] = True
            people.append(caregiver)
        if not people and self.chance(spec["emergency_contact_rate"]):
            contact = self._relative(person)
            contact["is_emergency_contact"] = True
            contact["is_trusted_person"] = self.chance(spec["trusted_person_rate"])
            people.append(contact)
        guardian_rate = by_age(spec["guardianship_rate"], person.age)
        if "dementia" in person.conditions:
            guardian_rate = spec["guardianship_with_dementia_rate"]
        if self.chance(guardian_rate):
            people.append(self._guardian(person))
        for row in people:
            row["phone_kind"] = "mobile" if row["phone_e164"].startswith(("+336", "+337")) \
                else "fixed"
        for row in people:
            self.rows.related.add(row)

    def _guardian(self, person: Person) -> dict[str, Any]:
        tutelle = self.chance(0.4)
        if self.chance(0.5):
            guardian = self._relative(person)
        else:
            guardian = self._relative(person)
            guardian.update(name=self.rng.choice(self.s["care"]["guardian_bodies"]),
                            relationship="mandataire judiciaire", phone_e164=self.landline(),
                            address=None)
        guardian.update(is_legal_guardian=True,
                        guardianship="tutelle" if tutelle else "curatelle",
                        guardian_agreement_required=tutelle or self.chance(0.5))
        return guardian

    def _consents(self, person: Person, registered: date) -> None:
        spec = self.s["care"]
        granted = {"followup": True,
                   "team_sharing": self.chance(spec["team_sharing_consent_rate"]),
                   "dmp": self.chance(spec["dmp_consent_rate"])}
        for kind, given in granted.items():
            on = registered + timedelta(days=0 if kind != "dmp" else self.rng.randint(0, 30))
            on = min(on, self.as_of)
            self._consent(person, kind, given, on)
            if given and kind != "followup" and self.chance(spec["consent_withdrawn_rate"]):
                self._consent(person, kind, False, self.day_between(on, person.history_end))

    def _consent(self, person: Person, kind: str, granted: bool, on: date) -> None:
        self.rows.consents.add({"id": self.uuid(), "patient_id": person.id, "kind": kind,
                                   "granted": granted, "on": on, "recorded_by": self.actor})


class History:
    """Ten years of one patient's clinical facts."""

    def __init__(self, gen: DemoGenerator, person: Person, created: datetime) -> None:
        self.gen = gen
        self.rng = gen.rng
        self.s = gen.s
        self.person = person
        self.created = gen.rows.facts.encode("created_at", created)
        self.patient_hex = person.id.hex
        self.facts = gen.rows.facts.rows
        self.codings = gen.rows.codings.rows
        self.start = gen.start
        self.end = person.history_end
        self.chronic = bool(person.conditions - {"pregnancy", "goitre", "colorectal_adenoma"})

    def build(self) -> None:
        onsets = self.conditions()
        self.allergies()
        self.measurements(onsets)
        self.screenings(onsets)
        self.vaccines()
        self.stays(onsets)

    # ---- emitting rows

    def fact(self, kind: str, start: date, codings: Sequence[Coding], *, status: str,
             end: date | None = None, value_num: float | None = None,
             value_unit: str | None = None, value_text: str | None = None,
             encounter_class: str | None = None, display: str | None = None) -> None:
        fact_id = self.gen.hex_uuid()
        patient_id = self.patient_hex
        # Stored forms (FACT_COLUMNS order): UUIDs as 32 hex digits, dates ISO.
        first, last = start.isoformat(), end.isoformat() if end else None
        self.facts.append((
            fact_id, patient_id, kind, status, first, last, display or codings[0][2],
            value_num, value_unit, value_text, encounter_class, self.created,
        ))
        # No system URI (there is no source document) and the published form of the code
        # only where normalising changed it (E11.9 -> E119): a smaller file. Then the
        # fact's columns every coding carries (FACT_COPIED).
        for system, code, shown in codings:
            normal = normalize_code(code)
            self.codings.append((fact_id, patient_id, system, normal, None,
                                 code if normal != code else None, shown,
                                 kind, status, first, last))

    def day(self, first: date, last: date) -> date:
        return self.gen.day_between(first, last)

    def years(self, first: date) -> list[tuple[date, date]]:
        """Consecutive one-year periods from `first` to the end of the history."""
        periods = []
        while first <= self.end:
            last = min(first + timedelta(days=364), self.end)
            periods.append((first, last))
            first = last + timedelta(days=1)
        return periods

    def age(self, day: date) -> int:
        return age_at(self.person.birth, day)

    # ---- conditions and their treatments

    def conditions(self) -> dict[str, date]:
        onsets: dict[str, date] = {}
        for name in sorted(self.person.conditions):
            spec = self.s["conditions"][name]
            onset = self.onset(name)
            onsets[name] = onset
            codings = [coding(c) for c in spec["codings"]]
            if "alternative" in spec and self.gen.chance(spec["alternative_rate"]):
                codings = [coding(spec["alternative"])]
            if "icpc2" in spec and self.gen.chance(spec["icpc2_rate"]):
                codings.append(coding(spec["icpc2"]))
            self.condition(name, onset, codings, spec)
            for atc, display, rate in spec["medications"]:
                if self.gen.chance(rate):
                    self.medication(onset, atc, display)
        return onsets

    def onset(self, name: str) -> date:
        if name == "pregnancy":
            return self.gen.as_of - timedelta(days=self.rng.randint(20, 250))
        earliest = max(self.start, add_years(self.person.birth, 18))
        return self.day(earliest, self.end - timedelta(days=30))

    def condition(self, name: str, onset: date, codings: list[Coding],
                  spec: dict[str, Any]) -> None:
        if name == "breast_cancer":
            treated = onset + timedelta(days=self.rng.randint(180, 400))
            if treated < self.end:
                self.fact("condition", onset, codings, status="resolved", end=treated)
                self.fact("condition", treated, [coding(spec["history"])], status="active")
                return
        if name == "colorectal_adenoma":  # found and removed at a colonoscopy
            self.colonoscopy(onset)
            self.fact("condition", onset, codings, status="resolved", end=onset)
            return
        self.fact("condition", onset, codings, status="active")

    def medication(self, onset: date, atc: str, display: str) -> None:
        start = min(onset + timedelta(days=self.rng.randint(0, 120)), self.end)
        if self.gen.chance(self.s["history"]["stopped_medication_rate"]):
            stop = self.day(start, self.end)
            self.fact("medication", start, [("atc", atc, display)], status="stopped", end=stop)
        else:
            self.fact("medication", start, [("atc", atc, display)], status="active")

    def allergies(self) -> None:
        spec = self.s["allergies"]
        if self.gen.chance(spec["rate"]):
            system, code, display = self.rng.choice(spec["items"])
            self.fact("allergy", self.day(self.start, self.end), [(system, code, display)],
                      status="active")

    # ---- measurements and labs

    def measurements(self, onsets: dict[str, date]) -> None:
        spec = self.s["history"]
        if self.person.age >= 60 or self.chronic:
            self.weights(spec["weight_per_year"])
        if "hypertension" in onsets:
            self.blood_pressures(onsets["hypertension"],
                                 self.s["conditions"]["hypertension"]["bp_per_year"])
        diabetes = onsets.get("diabetes_type2") or onsets.get("diabetes_type1")
        if diabetes:
            profile = self.gen.weighted(spec["hba1c_profile_weights"])
            self.hba1c(diabetes, spec["hba1c_per_year"][profile])
        kidney_watch = diabetes or onsets.get("heart_failure")
        if kidney_watch:
            self.creatinine(kidney_watch, spec["creatinine_per_year"])

    def dated(self, first: date, per_year: float) -> list[date]:
        days: list[date] = []
        for period_start, period_end in self.years(first):
            days.extend(self.day(period_start, period_end) for _ in range(self.gen.count(per_year)))
        return sorted(days)

    def weights(self, per_year: float) -> None:
        base = self.rng.gauss(64 if self.person.sex == "F" else 78, 11)
        base = min(max(base, 40.0), 140.0)
        for day in self.dated(self.start, per_year):
            value = round(base + self.rng.gauss(0, 1.5), 1)
            self.fact("observation", day, [("loinc", "29463-7", "Poids")], status="final",
                      value_num=value, value_unit="kg")

    def blood_pressures(self, onset: date, per_year: float) -> None:
        for day in self.dated(onset, per_year):
            systolic = int(self.rng.gauss(138, 12))
            diastolic = int(self.rng.gauss(80, 8))
            self.fact("observation", day, [("loinc", "85354-9", "Pression artérielle")],
                      status="final", value_num=float(systolic), value_unit="mm[Hg]",
                      value_text=f"{systolic}/{diastolic}")

    def hba1c(self, onset: date, per_year: float) -> None:
        mean = self.rng.gauss(7.3, 0.8)
        for day in self.dated(onset, per_year):
            value = round(min(max(mean + self.rng.gauss(0, 0.4), 5.2), 13.0), 1)
            self.fact("observation", day, [("loinc", "4548-4", "Hémoglobine A1c")],
                      status="final", value_num=value, value_unit="%")

    def creatinine(self, onset: date, per_year: float) -> None:
        mean = self.rng.gauss(90, 22)
        for day in self.dated(onset, per_year):
            value = round(max(mean + self.rng.gauss(0, 8), 40.0))
            self.fact("observation", day, [("loinc", "2160-0", "Créatinine sérique")],
                      status="final", value_num=float(value), value_unit="umol/L")

    # ---- screening

    def eligible(self, low: int, high: int) -> tuple[date, date] | None:
        """The part of the history during which the patient is aged low..high."""
        first = max(self.start, add_years(self.person.birth, low))
        last = min(self.end, add_years(self.person.birth, high + 1) - timedelta(days=1))
        return (first, last) if first <= last else None

    def schedule(self, window: tuple[date, date], every_days: int, profile: str) -> list[date]:
        """Test dates of a regular or irregular participant; regulars sometimes drop out."""
        if profile == "never":
            return []
        first, last = window
        if profile == "regular" and self.gen.chance(0.2):
            last = self.day(first, last)  # stopped at some point: overdue now
        days: list[date] = []
        day = first + timedelta(days=self.rng.randint(0, every_days))
        while day <= last:
            if profile == "regular" or self.gen.chance(0.4):
                days.append(day)
            day += timedelta(days=every_days + self.rng.randint(-45, 90))
        return days

    def screenings(self, onsets: dict[str, date]) -> None:
        screening = self.s["screening"]
        self.breast(onsets, screening["breast"])
        self.colorectal(onsets, screening["colorectal"])
        if self.person.sex == "F":
            self.cervical(screening["cervical"])

    def breast(self, onsets: dict[str, date], spec: dict[str, Any]) -> None:
        if self.person.sex != "F":
            return
        if "breast_cancer" in onsets:  # high-risk follow-up: yearly imaging
            for day in self.dated(onsets["breast_cancer"], 1.0):
                self.mammography(day)
            return
        window = self.eligible(50, 74)
        if window:
            for day in self.schedule(window, 730, self.gen.weighted(spec["profile_weights"])):
                self.mammography(day)

    def mammography(self, day: date) -> None:
        codings: list[Coding] = [("snomed", "71651007", "Mammographie")]
        if self.gen.chance(0.5):
            codings.append(("ccam", "QEQK004", "Mammographie bilatérale"))
        self.fact("procedure", day, codings, status="completed", display="Mammographie")

    def colonoscopy(self, day: date) -> None:
        self.fact("procedure", day, [("snomed", "73761001", "Coloscopie")], status="completed")

    def colorectal(self, onsets: dict[str, date], spec: dict[str, Any]) -> None:
        if "colorectal_adenoma" in onsets or "ibd" in onsets:
            return
        window = self.eligible(50, 74)
        if window is None:
            return
        for day in self.schedule(window, 730, self.gen.weighted(spec["profile_weights"])):
            positive = self.gen.chance(0.04)
            self.fact("observation", day, [(
                "loinc", "29771-3", "Test immunologique de sang occulte dans les selles")],
                status="final", value_text="positif" if positive else "négatif")
            if positive and day + timedelta(days=60) <= self.end:
                self.colonoscopy(day + timedelta(days=self.rng.randint(20, 60)))
                return
        if self.gen.chance(spec["colonoscopy_rate"]):
            self.colonoscopy(self.day(*window))

    def cervical(self, spec: dict[str, Any]) -> None:
        if self.person.age >= 45 and self.gen.chance(spec["hysterectomy_rate"]):
            surgery = self.day(self.start, self.end)
            self.fact("procedure", surgery, [("snomed", "116140006", "Hystérectomie totale")],
                      status="completed")
            return
        profile = self.gen.weighted(spec["profile_weights"])
        young = self.eligible(25, 29)
        if young:
            for day in self.schedule(young, 1095, profile):
                self.fact("observation", day, [("loinc", "10524-7", "Frottis cervico-utérin")],
                          status="final", value_text="normal")
        older = self.eligible(30, 65)
        if older:
            for day in self.schedule(older, 1826, profile):
                self.fact("observation", day, [("loinc", "21440-3", "Test HPV")],
                          status="final", value_text="négatif")

    # ---- vaccines

    def vaccine(self, day: date, codings: Sequence[Coding]) -> None:
        """A dose coded in CVX, ATC or both, as practice software variously does."""
        if self.start <= day <= self.end:
            roll = self.rng.random()
            chosen = codings if roll < 0.3 else codings[:1] if roll < 0.8 else codings[1:]
            self.fact("immunization", day, chosen, status="completed", display=codings[0][2])

    def vaccines(self) -> None:
        spec = self.s["vaccines"]
        self.flu(spec)
        self.dtp(spec)
        if self.person.age >= 65:
            self.pneumococcal(spec)
            self.shingles(spec)
            self.covid(spec)

    def flu(self, spec: dict[str, Any]) -> None:
        profile = self.gen.weighted(spec["flu_profile_weights"])
        rate = {"regular": 0.9, "occasional": spec["flu_occasional_rate"], "never": 0.0}[profile]
        at_risk = bool(self.person.conditions & {"diabetes_type1", "diabetes_type2", "copd",
                                                  "heart_failure", "pregnancy"})
        for year in range(self.start.year, self.end.year + 1):
            season = date(year, 10, 15)
            if (self.age(season) >= 65 or at_risk) and self.gen.chance(rate):
                self.vaccine(season + timedelta(days=self.rng.randint(0, 70)), [
                    ("cvx", "141", "Vaccin grippe saisonnière"),
                    ("atc", "J07BB02", "Vaccin grippal inactivé")])

    def dtp(self, spec: dict[str, Any]) -> None:
        for age in (25, 45, 65, 75, 85, 95):
            due = add_years(self.person.birth, age)
            if self.gen.chance(spec["dtp_booster_rate"]):
                self.vaccine(due + timedelta(days=self.rng.randint(0, 400)), [
                    ("cvx", "113", "Vaccin dTP (rappel adulte)"),
                    ("atc", "J07CA01", "Vaccin diphtérie-tétanos-poliomyélite")])

    def pneumococcal(self, spec: dict[str, Any]) -> None:
        if self.gen.chance(spec["old_ppsv23_rate"]):
            self.vaccine(self.day(self.start, self.end), [
                ("cvx", "33", "Vaccin pneumococcique polyosidique 23-valent"),
                ("atc", "J07AL01", "Vaccin pneumococcique polyosidique")])
        if self.gen.chance(spec["pneumococcal_rate"]):
            self.vaccine(self.day(self.end - timedelta(days=730), self.end), [
                ("cvx", "216", "Vaccin pneumococcique conjugué 20-valent"),
                ("atc", "J07AL02", "Vaccin pneumococcique conjugué")])

    def shingles(self, spec: dict[str, Any]) -> None:
        codings: list[Coding] = [("cvx", "187", "Vaccin zona recombinant (Shingrix)"),
                                 ("atc", "J07BK03", "Vaccin zona recombinant")]
        roll = self.rng.random()
        if roll < spec["shingles_rate"] + spec["shingles_single_dose_rate"]:
            first = self.day(self.end - timedelta(days=1000), self.end)
            self.vaccine(first, codings)
            if roll < spec["shingles_rate"]:
                self.vaccine(first + timedelta(days=self.rng.randint(60, 120)), codings)

    def covid(self, spec: dict[str, Any]) -> None:
        codings: list[Coding] = [("cvx", "208", "Vaccin COVID-19 à ARNm (Comirnaty)"),
                                 ("atc", "J07BN01", "Vaccin COVID-19 à ARN messager")]
        if self.gen.chance(spec["covid_primary_rate"]):
            first = date(2021, 1, 18) + timedelta(days=self.rng.randint(0, 100))
            self.vaccine(first, codings)
            self.vaccine(first + timedelta(days=self.rng.randint(21, 42)), codings)
        for year in range(2021, self.end.year + 1):
            if self.gen.chance(spec["covid_campaign_rate"]):
                self.vaccine(date(year, 10, 1) + timedelta(days=self.rng.randint(0, 80)), codings)

    # ---- encounters

    def stays(self, onsets: dict[str, date]) -> None:
        spec = self.s["history"]
        base = by_age(spec["hospital_stays_per_year"], self.person.age)
        reasons: list[str] = []
        for first, last in self.years(self.start):
            # A condition makes stays likelier (and gives their reason) from its onset year.
            known = sorted(n for n, onset in onsets.items() if onset <= last)
            rate = base + sum(spec["hospital_stays_extra"].get(n, 0.0) for n in known)
            reasons = [spec["condition_stay_reasons"][n] for n in known
                       if n in spec["condition_stay_reasons"]]
            for _ in range(self.gen.count(rate)):
                self.stay(self.day(first, last), reasons)
        if self.end == self.gen.as_of and self.gen.chance(spec["recent_discharge_rate"]):
            discharge = self.gen.as_of - timedelta(days=self.rng.randint(0, 5))
            self.stay(discharge - timedelta(days=self.rng.randint(2, 12)), reasons, discharge)
        self.etp(onsets)

    def stay(self, admitted: date, reasons: list[str], discharge: date | None = None) -> None:
        if discharge is None:
            discharge = admitted + timedelta(days=1 + int(self.rng.expovariate(1 / 6)))
            if discharge >= self.end:
                return
        pool = reasons if reasons and self.gen.chance(0.6) else self.s["history"]["stay_reasons"]
        self.fact("encounter", admitted, [("v3-actcode", "IMP", "inpatient encounter")],
                  status="finished", end=discharge, encounter_class="IMP",
                  display=f"Hospitalisation : {self.rng.choice(pool)}")

    def etp(self, onsets: dict[str, date]) -> None:
        for name in ("diabetes_type2", "diabetes_type1"):
            if name in onsets and self.gen.chance(self.s["conditions"][name]["etp_rate"]):
                recent = self.gen.chance(0.5)
                first = self.end - timedelta(days=330) if recent else onsets[name]
                for _ in range(self.rng.randint(1, 4)):
                    self.fact("encounter", self.day(max(first, onsets[name]), self.end), [
                        ("snomed", "311401005", "Éducation thérapeutique du patient")],
                        status="finished", encounter_class="AMB")


# --------------------------------------------------------------------------- entry point


def _homes(session: Session, settings: dict[str, Any]) -> list[tuple[Place, float]]:
    territory = settings["territory"]
    communes = session.exec(select(Commune).where(Commune.department == territory["department"])
                            .order_by(col(Commune.insee))).all()
    if not communes:
        raise InputError(
            f"No commune of département {territory['department']} in the database; "
            "run `carehub init` to load the commune table.",
            f"Aucune commune du département {territory['department']} dans la base ; "
            "lancez « carehub init » pour charger les communes.")
    weights = territory["town_weights"]
    return [(Place(c.insee, c.name, c.postal_codes.replace(";", ",").split(",")[0].strip()),
             float(weights.get(c.insee, 1))) for c in communes]


def _birth_places(session: Session, settings: dict[str, Any]) -> dict[str, list[str]]:
    """INSEE codes by department of birth (the commune part of the INS)."""
    wanted = list(settings["territory"]["birth_departments"])
    places: dict[str, list[str]] = {d: [] for d in wanted}
    rows = session.exec(select(Commune.insee, Commune.department)
                        .where(col(Commune.department).in_(wanted)).order_by(col(Commune.insee)))
    for insee, department in rows:
        places[department].append(insee)
    return {d: codes or [f"{d}000"] for d, codes in places.items()}


def generate_chunks(setup: DemoSetup, patients: int) -> Iterator[Chunk]:
    """The caseload's rows, a few thousand patients at a time."""
    rows = Rows()
    generator = DemoGenerator(setup, rows)
    for index in range(patients):
        generator.patient()
        if (index + 1) % PATIENTS_PER_CHUNK == 0:
            yield rows.take()
    yield rows.take()


def _generate_from(setup_and_count: tuple[DemoSetup, int]) -> Iterator[Chunk]:
    return generate_chunks(*setup_and_count)


def child_main() -> None:
    """Entry point of the drawing process (see carehub.childproc)."""
    serve(_generate_from)


def _chunks_from_child(setup: DemoSetup, patients: int) -> Iterator[Chunk]:
    """The same chunks, drawn by a child process while this one writes (the 2nd core)."""
    yield from items_from_child("carehub.caseload.demo:child_main", (setup, patients))


def generate_demo(session: Session, *, patients: int, seed: int, actor: str, as_of: date,
                  parallel: bool | None = None) -> DemoReport:
    """Add `patients` synthetic patients; same seed, as-of date and starting database, same rows.

    `parallel` draws in a child process while this one writes; by default only for large
    caseloads, where it pays for the child's start-up. The rows are the same either way.
    """
    if not 1 <= patients <= MAX_PATIENTS:
        raise InputError(f"The number of demo patients must be between 1 and {MAX_PATIENTS}.",
                         f"Le nombre de patients de démonstration va de 1 à {MAX_PATIENTS}.")
    started = clock.perf_counter()
    settings = load_catalogue().settings
    taken = session.exec(select(Patient.ins).where(col(Patient.ins).is_not(None))).all()
    setup = DemoSetup(
        seed=seed, as_of=as_of, actor=actor, manager_id=ensure_user(session, name=actor).id,
        homes=_homes(session, settings), birth_places=_birth_places(session, settings),
        taken_ins=frozenset(t for t in taken if t),
        existing_patients=session.exec(select(func.count()).select_from(Patient)).one())
    if parallel is None:  # a frozen app has no interpreter to start
        parallel = patients >= PARALLEL_FROM and can_start_child()
    chunks = _chunks_from_child(setup, patients) if parallel else generate_chunks(setup, patients)
    rows = Rows()
    # The whole run is one transaction: a large page cache keeps index updates in memory.
    session.execute(text("PRAGMA cache_size = -2000000"))
    for chunk in chunks:
        rows.write(session, chunk)
    rows.log(session)
    session.execute(text("PRAGMA cache_size = -2000"))
    return DemoReport(
        patients=rows.patients.total, phones=rows.phones.total,
        related_persons=rows.related.total, consents=rows.consents.total,
        facts=rows.facts.total, codings=rows.codings.total,
        department=settings["territory"]["department"], seed=seed,
        seconds=clock.perf_counter() - started)
