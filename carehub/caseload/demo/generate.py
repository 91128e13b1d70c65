"""`carehub demo`: the caseload generated in chunks, in a child process when large."""

from __future__ import annotations

import time as clock
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, text
from sqlmodel import Session, col, select

from carehub.caseload.demo.catalogue import load_catalogue
from carehub.caseload.demo.draws import DemoSetup, Place
from carehub.caseload.demo.patients import DemoGenerator
from carehub.caseload.demo.rows import Chunk, Rows
from carehub.caseload.models import Patient
from carehub.childproc import can_start_child, items_from_child, serve
from carehub.directory.models import Commune
from carehub.errors import InputError
from carehub.users.services import ensure_user

PATIENTS_PER_CHUNK = 2000
PARALLEL_FROM = 5000  # patients; below, a child process costs more than it saves
MAX_PATIENTS = 1_000_000


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
    yield from items_from_child("carehub.caseload.demo.generate:child_main", (setup, patients))


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
