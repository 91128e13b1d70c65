"""Audit events: every change leaves one, chained by hash so tampering shows.

Each event stores the hash of the one before it; `verify_chain` recomputes them.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, insert
from sqlmodel import Field, Session, SQLModel, col, select

from carehub.timeutil import utcnow

GENESIS_HASH = "0" * 64


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"

    seq: int | None = Field(default=None, primary_key=True)
    id: uuid.UUID = Field(default_factory=uuid.uuid4, unique=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor: str = Field(max_length=64)
    entity: str = Field(max_length=32)
    entity_id: str = Field(max_length=64, index=True)
    action: str = Field(max_length=32)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


@dataclass(frozen=True)
class Change:
    """One change to log: what happened to which record, by whom."""

    actor: str
    entity: str
    entity_id: str
    action: str
    details: dict[str, Any]


def _event_hash(prev_hash: str, event_id: str, at: datetime, change: Change) -> str:
    body = json.dumps(
        [prev_hash, event_id, at.isoformat(), change.actor, change.entity, change.entity_id,
         change.action, change.details],
        sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"),
    )
    return hashlib.sha256(body.encode()).hexdigest()


def _last_hash(session: Session) -> str:
    last = session.exec(
        select(AuditEvent.hash).order_by(col(AuditEvent.seq).desc()).limit(1)
    ).first()
    return last or GENESIS_HASH


def record_events(session: Session, changes: Iterable[Change]) -> None:
    """Append events to the chain in one statement (bulk imports call this too)."""
    prev = _last_hash(session)
    rows = []
    at = utcnow()
    for change in changes:
        event_id = uuid.uuid4()
        digest = _event_hash(prev, event_id.hex, at, change)
        rows.append({
            "id": event_id, "at": at, "actor": change.actor, "entity": change.entity,
            "entity_id": change.entity_id, "action": change.action,
            "details": change.details, "prev_hash": prev, "hash": digest,
        })
        prev = digest
    if rows:
        session.execute(insert(AuditEvent), rows)


@dataclass(frozen=True)
class ChainReport:
    events: int
    first_broken_seq: int | None

    @property
    def intact(self) -> bool:
        return self.first_broken_seq is None


def verify_chain(session: Session) -> ChainReport:
    """Recompute every hash in order; report the first event that does not match."""
    prev = GENESIS_HASH
    count = 0
    for event in session.exec(select(AuditEvent).order_by(col(AuditEvent.seq))):
        count += 1
        change = Change(event.actor, event.entity, event.entity_id, event.action, event.details)
        expected = _event_hash(prev, event.id.hex, event.at, change)
        if event.prev_hash != prev or event.hash != expected:
            return ChainReport(events=count, first_broken_seq=event.seq)
        prev = event.hash
    return ChainReport(events=count, first_broken_seq=None)
