"""Saved searches: a name for a query, kept on the workstation and audited.

Saving under a name already used replaces that search's query (the audit event keeps the
one it replaced); deleting one is audited with its query, so nothing goes silently.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from carehub.changes import log_change
from carehub.cohort.models import SavedSearch
from carehub.cohort.parser import parse_query
from carehub.coordination.audit import Change
from carehub.errors import InputError, NotFoundError
from carehub.timeutil import utcnow

NAME_MAX = 120


@dataclass(frozen=True)
class SavedSearchRow:
    id: uuid.UUID
    name: str
    expr: str
    created_by: str
    updated_at: datetime


def save_search(session: Session, *, name: str, expr: str, actor: str) -> uuid.UUID:
    """Store `expr` under `name` (replacing the query of a search of that name); its id.

    InputError when the name is empty or too long, or the query does not parse (with the
    column); nothing is written then.
    """
    name = " ".join(name.split())
    if not name:
        raise InputError("A saved search needs a name.", "Donnez un nom à la recherche.")
    if len(name) > NAME_MAX:
        raise InputError(f"A search name has at most {NAME_MAX} characters.",
                         f"Le nom d'une recherche a au plus {NAME_MAX} caractères.")
    expr = expr.strip()
    parse_query(expr)
    existing = session.exec(select(SavedSearch).where(col(SavedSearch.name) == name)).first()
    if existing is None:
        search = SavedSearch(name=name, expr=expr, created_by=actor)
        session.add(search)
        session.flush()
        log_change(session, Change(actor, "saved_search", str(search.id), "create",
                                   {"name": name, "expr": expr}))
        return search.id
    if existing.expr != expr:
        log_change(session, Change(actor, "saved_search", str(existing.id), "update",
                                   {"name": name, "expr": expr, "before": existing.expr}))
        existing.expr = expr
        existing.updated_at = utcnow()
        session.flush()
    return existing.id


def list_saved_searches(session: Session) -> list[SavedSearchRow]:
    """Every saved search, by name."""
    rows = session.exec(select(SavedSearch).order_by(col(SavedSearch.name)))
    return [SavedSearchRow(s.id, s.name, s.expr, s.created_by, s.updated_at) for s in rows]


def delete_saved_search(session: Session, *, search_id: uuid.UUID, actor: str) -> None:
    """Remove a saved search; the audit event keeps its name and query."""
    search = session.get(SavedSearch, search_id)
    if search is None:
        raise NotFoundError(f"No saved search {search_id}.",
                            "Cette recherche enregistrée n'existe plus.")
    log_change(session, Change(actor, "saved_search", str(search.id), "delete",
                               {"name": search.name, "expr": search.expr}))
    session.delete(search)
    session.flush()
