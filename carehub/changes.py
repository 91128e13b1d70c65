"""One call to log a change: an audit event and, for what syncs, an outbox entry."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import Session

from carehub.coordination.audit import Change, record_events
from carehub.sync.outbox import Outgoing, enqueue

# What the team hub holds (DESIGN.md "The team hub"): the patient record with its
# contacts and consents, actions and reminders. Other audited entities stay local.
SYNCED_ENTITIES = frozenset({"patient", "related_person", "consent", "action", "reminder"})


def log_changes(session: Session, changes: Sequence[Change],
                payloads: Sequence[dict[str, Any] | None] | None = None) -> None:
    """Audit every change; queue those of synced entities with their payload."""
    record_events(session, changes)
    outgoing = []
    for index, change in enumerate(changes):
        if change.entity not in SYNCED_ENTITIES:
            continue
        payload = payloads[index] if payloads is not None else None
        outgoing.append(Outgoing(change.actor, change.entity, change.entity_id, change.action,
                                 payload if payload is not None else change.details))
    enqueue(session, outgoing)


def log_change(session: Session, change: Change, payload: dict[str, Any] | None = None) -> None:
    log_changes(session, [change], [payload])
