"""Import of the Annuaire Santé MSSanté file `Extraction_Correspondance_MSSante_*.txt`.

The national directory publishes, beside the activity extract, the list of MSSanté
mailboxes (secure health messaging between professionals): UTF-8, `|`-separated, a header
row, 31 columns from "Type de BAL" and "Adresse BAL" to the structure's address. Columns
are found by their header name; the import keeps the personal mailboxes (Type de BAL
PER) that name a practitioner by "Identification nationale PP", the same key as the
activity extract. Organisation mailboxes, and personal ones tied to no national id, are
counted and left aside.

Like the activity extract: everything in the caller's transaction, a malformed line
(wrong number of fields, bad encoding) is refused with its line number and nothing
changes; a newer file upserts the mailboxes it lists and marks the others inactive.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlmodel import Session

from carehub.directory.extract_parse import (
    ImportProgress,
    ProgressCallback,
    blocks,
    decode,
    open_file,
    refuse,
)
from carehub.directory.import_records import finish_import, start_import

MAILBOX_COLUMNS = {"kind": "Type de BAL", "address": "Adresse BAL",
                   "national_id": "Identification nationale PP"}
PERSONAL = "PER"
BATCH_ROWS = 20_000

_UPSERT = (
    "INSERT INTO practitioner_mailbox (practitioner_id, address, kind, active, import_id) "
    "VALUES (?, ?, ?, 1, {import_id}) ON CONFLICT (practitioner_id, address) DO UPDATE SET "
    "kind = excluded.kind, active = 1, import_id = excluded.import_id"
)


def is_mailbox_header(header_line: str) -> bool:
    """Whether a file's first line is the MSSanté file's header."""
    names = header_line.removeprefix("\ufeff").rstrip("\r\n").split("|")
    return all(name in names for name in MAILBOX_COLUMNS.values())


@dataclass
class MailboxImportReport:
    file_name: str
    rows: int = 0
    mailboxes: int = 0  # personal mailboxes of practitioners, as listed
    practitioners: int = 0  # practitioners with at least one
    in_directory: int = 0  # of whom the directory lists (others wait for their extract)
    other_rows: int = 0  # organisation mailboxes, or tied to no national id
    unreadable: int = 0  # not an e-mail address: left aside
    deactivated: int = 0  # mailboxes a newer file no longer lists

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        return (f"{self.file_name}: {self.rows} rows, {self.mailboxes} MSSanté mailboxes of "
                f"{self.practitioners} practitioners ({self.in_directory} in the directory); "
                f"{self.other_rows} organisation or unattached mailboxes left aside; "
                f"{self.unreadable} addresses not understood; "
                f"{self.deactivated} no longer listed, marked inactive.")


def import_mailboxes(session: Session, *, path: Path, actor: str,
                     progress: ProgressCallback | None = None) -> MailboxImportReport:
    """Import one MSSanté file in the caller's transaction; InputError if malformed."""
    import_id = start_import(session, file_name=path.name, actor=actor)
    connection = session.connection()
    upsert = _UPSERT.format(import_id=int(import_id))
    report = MailboxImportReport(file_name=path.name)
    with open_file(path) as handle:
        total = os.fstat(handle.fileno()).st_size
        header = handle.readline()
        names = decode(path, header, 1).removeprefix("\ufeff").rstrip("\r\n").split("|")
        missing = [name for name in MAILBOX_COLUMNS.values() if name not in names]
        if missing:
            shown = ", ".join(repr(m) for m in missing)
            raise refuse(path, 1, f"not an MSSanté mailbox file header (missing columns "
                         f"{shown})", f"en-tête de fichier des BAL MSSanté attendu "
                         f"(colonnes absentes : {shown})")
        width = len(names)
        kind_at, address_at, national_at = (names.index(MAILBOX_COLUMNS[key]) for key in
                                            ("kind", "address", "national_id"))
        rows: list[tuple[str, str, str]] = []
        for lines, first_line, bytes_read in blocks(path, handle, line_no=2,
                                                    bytes_read=len(header)):
            for line_no, text in enumerate(lines, start=first_line):
                if not text:
                    continue
                f = text.split("|")
                # A trailing separator, as the activity extract has, is taken either way.
                if len(f) != width and not (len(f) == width + 1 and not f[-1]):
                    raise refuse(path, line_no, f"{len(f)} fields where the header has "
                                 f"{width}", f"{len(f)} champs au lieu de {width}")
                report.rows += 1
                kind, address, national_id = f[kind_at], f[address_at].strip(), f[national_at]
                if kind != PERSONAL or not national_id:
                    report.other_rows += 1
                elif "@" not in address or " " in address:
                    report.unreadable += 1
                else:
                    rows.append((national_id, address, kind))
            if len(rows) >= BATCH_ROWS:
                connection.exec_driver_sql(upsert, rows)
                report.mailboxes += len(rows)
                rows = []
            if progress is not None:
                progress(ImportProgress(path.name, bytes_read, total, report.rows))
        if rows:
            connection.exec_driver_sql(upsert, rows)
            report.mailboxes += len(rows)
    report.deactivated = connection.exec_driver_sql(
        "UPDATE practitioner_mailbox SET active = 0 WHERE import_id < ? AND active",
        (import_id,)).rowcount
    listed, known = connection.exec_driver_sql(
        "SELECT count(DISTINCT m.practitioner_id), count(DISTINCT p.id) "
        "FROM practitioner_mailbox AS m LEFT JOIN practitioner AS p ON p.id = m.practitioner_id "
        "WHERE m.import_id = ?", (import_id,)).one()
    report.practitioners, report.in_directory = int(listed), int(known)
    counts = {"rows": report.rows, "practitioners": report.practitioners,
              "deactivated": report.deactivated}
    details = {k: v for k, v in report.as_dict().items() if k != "file_name"}
    finish_import(session, import_id=import_id, file_name=path.name, actor=actor,
                  counts=counts, details={"kind": "mssante", **details})
    return report
