"""Import of the Annuaire Santé extract `PS_LibreAcces_Personne_activite.txt` (DOMAIN.md §4).

Streamed: the file is parsed a MiB at a time (extract_parse; in a child process for a
large file, so parsing and writing each have a core) and written in batches with
executemany, so the national file (~1.1 million rows, ~760 MB) imports in bounded memory.
A large file next to what the directory holds is written without the secondary indexes,
built again at the end. Everything happens in the caller's transaction: a malformed line
raises InputError naming the file and line, and the rollback leaves the directory (its
indexes too) as it was.

A newer extract updates in place: practitioners are upserted by their national id
(Identification nationale PP); the activities of every practitioner in the file are
replaced by the file's; practitioners absent from the file stay, marked inactive.
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from queue import Full, Queue
from typing import Any

from sqlalchemy import Connection, Index
from sqlmodel import Session, SQLModel

from carehub.childproc import can_start_child, items_from_child
from carehub.directory.communes import gazetteer_rows
from carehub.directory.extract_parse import (
    Batch,
    ImportProgress,
    ParseSetup,
    ProgressCallback,
    column_indexes,
    decode,
    open_file,
    parse_file,
)
from carehub.directory.import_records import finish_import, start_import
from carehub.directory.mailbox_import import (
    MailboxImportReport,
    import_mailboxes,
    is_mailbox_header,
)
from carehub.text import fold

# A file this big, and at least half as many rows as the directory holds (counting
# BYTES_PER_ROW_AT_LEAST per row), is imported without the secondary indexes, which are
# then built again in one sort each: far cheaper than a million random index inserts.
BULK_MIN_BYTES = 8 << 20
PARALLEL_FROM_BYTES = 8 << 20  # below, a child process costs more than it saves
BYTES_PER_ROW_AT_LEAST = 200

# Empty strings become NULL in SQL: the driver binds a Python None ~1 µs slower than a
# string, which at 18 columns and a million rows is most of the import's time. The
# import's id is written into the statements: one value fewer to bind on every row.
_ACTIVITY_INSERT = (
    "INSERT INTO practitioner_activity (practitioner_id, import_id, profession_code, address, "
    "specialty_code, mode_code, site_name, postal_code, commune_code, city, "
    "country_code, country, place_insee, phone, phone2, unparsed_phone, email, finess_site) "
    "VALUES (?, {import_id}, ?, ?" + ", NULLIF(?, '')" * 14 + ")"
)
_PRACTITIONER_UPSERT = (
    "INSERT INTO practitioner (id, id_type, identifier, identifier_valid, civility, last_name, "
    "first_name, search_text, active, import_id) "
    "VALUES (?, ?, ?, ?, NULLIF(?, ''), ?, ?, ?, 1, {import_id}) "
    "ON CONFLICT (id) DO UPDATE SET id_type = excluded.id_type, "
    "identifier = excluded.identifier, identifier_valid = excluded.identifier_valid, "
    "civility = excluded.civility, last_name = excluded.last_name, "
    "first_name = excluded.first_name, search_text = excluded.search_text, active = 1, "
    "import_id = excluded.import_id"
)
_CODE_UPSERT = (
    "INSERT INTO directory_code (kind, code, label, folded) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (kind, code) DO UPDATE SET label = excluded.label, folded = excluded.folded"
)


@dataclass
class ImportReport:
    file_name: str
    rows: int = 0
    practitioners: int = 0
    placed_rows: int = 0
    abroad_rows: int = 0
    unplaced_rows: int = 0
    invalid_rpps: int = 0
    unparsed_phones: int = 0
    deactivated: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        return (f"{self.file_name}: {self.rows} rows, {self.practitioners} practitioners "
                f"({self.deactivated} no longer listed, marked inactive); "
                f"{self.placed_rows} rows placed, {self.abroad_rows} abroad, "
                f"{self.unplaced_rows} without a known commune; "
                f"{self.invalid_rpps} RPPS failing their check (kept, flagged); "
                f"{self.unparsed_phones} phone numbers not understood (kept aside).")


_END = object()


def _prefetched(batches: Iterator[Batch], depth: int = 2) -> Iterator[Batch]:
    """`batches` computed on a thread, at most `depth` ahead of the consumer.

    The thread parses (small files) or reads the parsing child's pipe (large ones) while
    the consumer writes. An error while parsing is raised here, in the consumer's thread.
    """
    queue: Queue[object] = Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                queue.put(item, timeout=0.1)
                return True
            except Full:
                continue
        return False

    def produce() -> None:
        try:
            for batch in batches:
                if not put(batch):
                    return
            put(_END)
        except BaseException as exc:  # handed to the consumer, never lost
            put(exc)
        finally:
            close = getattr(batches, "close", None)
            if close is not None:
                close()  # a child process parsing the rest is stopped

    thread = threading.Thread(target=produce, name="directory-import-parser", daemon=True)
    thread.start()
    try:
        while (item := queue.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, Batch)
            yield item
    finally:
        stop.set()
        thread.join()


@contextlib.contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """No cyclic collection while a million acyclic row tuples are unpickled and bound.

    Each batch's allocations would trigger collections that walk everything still alive,
    up to five times the cost of unpickling itself. Left as found when the caller (the
    Qt app, see ui/gui_gc.py) had already switched automatic collection off.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _secondary_indexes() -> list[Index]:
    """The directory's indexes other than primary keys, as the models declare them."""
    tables = SQLModel.metadata.tables
    return sorted((index for name in ("practitioner", "practitioner_activity")
                   for index in tables[name].indexes), key=lambda index: str(index.name))


def _build_indexes(connection: Connection, indexes: list[Index]) -> None:
    """Each index built in one sort, the sort spread over the laptop's two cores."""
    threads = connection.exec_driver_sql("PRAGMA threads").scalar()
    connection.exec_driver_sql("PRAGMA threads = 2")
    try:
        for index in indexes:
            index.create(connection)
    finally:
        connection.exec_driver_sql(f"PRAGMA threads = {int(threads or 0)}")


def _bulk_wanted(total_bytes: int, existing_activities: int) -> bool:
    """Whether this file is big next to what the directory holds (see BULK_MIN_BYTES)."""
    return (total_bytes >= BULK_MIN_BYTES
            and total_bytes // BYTES_PER_ROW_AT_LEAST >= existing_activities // 2)


def import_extract(session: Session, *, path: Path, actor: str,
                   progress: ProgressCallback | None = None,
                   bulk: bool | None = None, parallel: bool | None = None) -> ImportReport:
    """Import one extract file in the caller's transaction; InputError if malformed.

    `bulk` drops the directory's secondary indexes for the import and builds them again
    at the end (inside the same transaction); by default only when the file is large next
    to the rows already there. `parallel` parses in a child process while this one
    writes; by default for files large enough to pay for the child's start-up. The
    result is the same either way.
    """
    import_id = start_import(session, file_name=path.name, actor=actor)
    connection = session.connection()
    existing = int(connection.exec_driver_sql(
        "SELECT count(*) FROM practitioner_activity").scalar() or 0)
    report = ImportReport(file_name=path.name)
    codes: dict[tuple[str, str], str] = {}
    with open_file(path) as handle:
        total = os.fstat(handle.fileno()).st_size
        header = handle.readline()
    ix, width = column_indexes(path, decode(path, header, 1))
    if bulk is None:
        bulk = _bulk_wanted(total, existing)
    if parallel is None:
        parallel = total >= PARALLEL_FROM_BYTES and can_start_child()
    indexes = _secondary_indexes() if bulk else []
    for index in indexes:
        connection.exec_driver_sql(f'DROP INDEX "{index.name}"')
    activity_insert = _ACTIVITY_INSERT.format(import_id=int(import_id))
    practitioner_upsert = _PRACTITIONER_UPSERT.format(import_id=int(import_id))
    setup = ParseSetup(str(path), len(header), ix, width, gazetteer_rows(session))
    # Either way the parsing runs ahead of the writing: in the child, or on a thread.
    parsed: Iterator[Batch] = (
        items_from_child("carehub.directory.extract_parse:parser_main", setup) if parallel
        else _prefetched(parse_file(setup)))
    with _cyclic_gc_paused():
        for batch in parsed:
            if batch.practitioners:
                connection.exec_driver_sql(practitioner_upsert,
                                           list(batch.practitioners.values()))
            if batch.activities:
                connection.exec_driver_sql(activity_insert, batch.activities)
            report.rows = batch.rows_so_far
            report.placed_rows += batch.placed
            report.abroad_rows += batch.abroad
            report.unplaced_rows += batch.unplaced
            report.unparsed_phones += batch.unparsed_phones
            codes.update(batch.codes)
            if progress is not None:
                progress(ImportProgress(path.name, batch.bytes_read, total, batch.rows_so_far))
    if existing:
        # The file lists these practitioners' sites afresh: their older sites go.
        connection.exec_driver_sql(
            "DELETE FROM practitioner_activity WHERE import_id < ? AND practitioner_id IN "
            "(SELECT id FROM practitioner WHERE import_id = ?)", (import_id, import_id))
    if indexes:
        _build_indexes(connection, indexes)
    deactivated = connection.exec_driver_sql(
        "UPDATE practitioner SET active = 0 WHERE import_id < ? AND active", (import_id,))
    report.deactivated = deactivated.rowcount
    listed, invalid = connection.exec_driver_sql(
        "SELECT count(*), coalesce(sum(NOT identifier_valid), 0) FROM practitioner "
        "WHERE import_id = ?", (import_id,)).one()
    report.practitioners, report.invalid_rpps = int(listed), int(invalid)
    if codes:
        connection.exec_driver_sql(
            _CODE_UPSERT, [(kind, code, label, fold(label)) for (kind, code), label
                           in sorted(codes.items())])
    counts = {k: v for k, v in report.as_dict().items() if k != "file_name"}
    finish_import(session, import_id=import_id, file_name=path.name, actor=actor,
                  counts=counts, details=counts)
    return report


def import_directory_file(session: Session, *, path: Path, actor: str,
                          progress: ProgressCallback | None = None
                          ) -> ImportReport | MailboxImportReport:
    """An activity extract or an MSSanté mailbox file, told apart by its header."""
    with open_file(path) as handle:
        header = handle.readline()
    if is_mailbox_header(decode(path, header, 1)):
        return import_mailboxes(session, path=path, actor=actor, progress=progress)
    return import_extract(session, path=path, actor=actor, progress=progress)
