"""The outbox: every change that must reach the team hub, written in the same transaction.

Each entry carries a hybrid logical clock (carehub.sync.clock) issued when the change was
made, so the hub can merge patient fields by last writer whatever the order of arrival.
An entry is `sent` once the hub committed it, `acked_at` once the hub's receipt came back
in a pull, or `refused` with the hub's reason (kept here, never retried silently).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, func, insert
from sqlmodel import Field, Session, SQLModel, col, select

from carehub.sync.clock import Hlc, tick
from carehub.sync.models import SyncMeta
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
    hlc: str | None = Field(default=None, max_length=64)
    acked_at: datetime | None = None
    refused_at: datetime | None = None
    refusal_code: str | None = Field(default=None, max_length=32)
    refusal_reason: str | None = None


@dataclass(frozen=True)
class Outgoing:
    actor: str
    entity: str
    entity_id: str
    op: str
    payload: dict[str, Any]


def node_id(session: Session) -> str:
    """This workstation's id in clocks (made once, by migration 0006)."""
    meta = session.get(SyncMeta, "node")
    if meta is None:
        meta = SyncMeta(key="node", value=uuid.uuid4().hex[:12])
        session.add(meta)
        session.flush()
    return meta.value


def last_clock(session: Session) -> Hlc | None:
    meta = session.get(SyncMeta, "hlc")
    return Hlc.parse(meta.value) if meta is not None else None


def save_clock(session: Session, clock: Hlc) -> None:
    meta = session.get(SyncMeta, "hlc")
    if meta is None:
        session.add(SyncMeta(key="hlc", value=str(clock)))
    elif meta.value < str(clock):
        meta.value = str(clock)
    session.flush()


def enqueue(session: Session, entries: Iterable[Outgoing]) -> None:
    """Queue changes for the hub; the caller's transaction makes them land or not."""
    batch = list(entries)
    if not batch:
        return
    now = utcnow()
    node = node_id(session)
    clock = last_clock(session)
    rows = []
    for e in batch:
        clock = tick(clock, node)
        rows.append({"id": uuid.uuid4(), "created_at": now, "actor": e.actor, "entity": e.entity,
                     "entity_id": e.entity_id, "op": e.op, "payload": e.payload,
                     "hlc": str(clock)})
    session.execute(insert(OutboxEntry), rows)
    assert clock is not None
    save_clock(session, clock)


def pending_count(session: Session) -> int:
    """Changes not yet committed by the hub (refused ones are counted apart)."""
    return session.exec(
        select(func.count()).select_from(OutboxEntry).where(
            col(OutboxEntry.sent_at).is_(None), col(OutboxEntry.refused_at).is_(None))
    ).one()
