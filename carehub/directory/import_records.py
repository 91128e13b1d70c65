"""The record every directory file import leaves: a directory_import row and its audit."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlmodel import Session

from carehub.changes import log_change
from carehub.coordination.audit import Change
from carehub.directory.models import DirectoryImport


def start_import(session: Session, *, file_name: str, actor: str) -> int:
    """A new import's id: rows it writes carry it, so later imports can tell them apart."""
    started = DirectoryImport(file_name=file_name[:260], actor=actor)
    session.add(started)
    session.flush()
    assert started.id is not None
    return started.id


def finish_import(session: Session, *, import_id: int, file_name: str, actor: str,
                  counts: dict[str, int], details: dict[str, Any]) -> None:
    """The import's counts on its record, and the audit event (with `details`)."""
    session.execute(update(DirectoryImport).where(DirectoryImport.id == import_id)  # type: ignore[arg-type]
                    .values(**counts))
    log_change(session, Change(actor, "directory_import", str(import_id), "import",
                               {"file": file_name, **details}))
