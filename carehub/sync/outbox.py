"""The outbox: every change that must reach the team hub, written in the same transaction."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, func, insert
from sqlmodel import Field, Session, SQLModel, col, select

from carehub.timeutil import utcnow


class OutboxEntry(SQLModel, table=True):
    __tablename__ = "outbox_entry"

    seq: int | None = Field(default=None, primary_key=True)
    id: uuid.UUID = Field(default_factory=uuid.uuid4, unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    actor: str = Field(max_length=64)
    entity: str = Field(max_length=32)
    entity_id: str = Field(max_length=64)
    op: str = Field(max_length=16)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    sent_at: datetime | None = Field(default=None, index=True)


@dataclass(frozen=True)
class Outgoing:
    actor: str
    entity: str
    entity_id: str
    op: str
    payload: dict[str, Any]


def enqueue(session: Session, entries: Iterable[Outgoing]) -> None:
    """Queue changes for the hub; the caller's transaction makes them land or not."""
    now = utcnow()
    rows = [
        {"id": uuid.uuid4(), "created_at": now, "actor": e.actor, "entity": e.entity,
         "entity_id": e.entity_id, "op": e.op, "payload": e.payload}
        for e in entries
    ]
    if rows:
        session.execute(insert(OutboxEntry), rows)


def pending_count(session: Session) -> int:
    return session.exec(
        select(func.count()).select_from(OutboxEntry).where(col(OutboxEntry.sent_at).is_(None))
    ).one()
