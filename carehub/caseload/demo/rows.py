"""Row buffers: the generated rows of each table, bulk-inserted a chunk at a time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Dialect, Table
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect
from sqlmodel import Session

from carehub.caseload.models import (
    FACT_COPIED,
    ClinicalFact,
    Consent,
    FactCoding,
    Patient,
    PatientPhone,
    RelatedPerson,
)
from carehub.changes import log_changes
from carehub.coordination.audit import Change

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
