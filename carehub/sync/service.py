"""Sync with the team hub, and what the app shows about it (status, delivery, conflicts).

`sync` pushes the outbox in batches, then pulls what changed for the user's caseloads
since her cursor; each batch is one transaction at the hub and one here, so a sync cut at
any point loses and duplicates nothing: the next one starts where the last commit left.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import psycopg
from sqlalchemy import func, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from carehub.caseload.models import Consent, Patient, RelatedPerson
from carehub.coordination.audit import Change, record_events
from carehub.db import Database
from carehub.errors import CareHubError, InputError, NotFoundError
from carehub.sync import credentials
from carehub.sync.apply import (
    PageApplier,
    existing_patients,
    jsonable,
    push_entries,
    record_outcomes,
)
from carehub.sync.clock import Hlc, observe
from carehub.sync.hub import (
    REFUSED,
    HubAddress,
    HubError,
    HubSession,
    Outcome,
    PushEntry,
    check_hub,
    connect,
    connection_error,
    not_a_member,
    parse_hub_url,
    pull_page,
    push_batch,
    save_cursor,
)
from carehub.sync.models import ActionExport, SyncConflict, SyncHub, SyncMeta
from carehub.sync.outbox import (
    OutboxEntry,
    Outgoing,
    enqueue,
    last_clock,
    node_id,
    pending_count,
    save_clock,
)
from carehub.sync.validate import entry_problem
from carehub.timeutil import utcnow

__all__ = ["ConflictRow", "HubError", "SyncReport", "SyncStatus", "action_delivery",
           "list_conflicts", "mark_exported", "resolve_conflict", "sync", "sync_status"]

Delivery = Literal["local", "sent", "acknowledged", "refused", "exported"]


@dataclass(frozen=True)
class SyncReport:
    pushed: int
    pulled: int
    conflicts: int
    refused: int
    started_at: datetime
    finished_at: datetime

    def summary(self) -> str:
        return (f"Sync done: {self.pushed} change(s) sent, {self.pulled} received, "
                f"{self.conflicts} new conflict(s) to review, {self.refused} refused by the "
                f"hub ({(self.finished_at - self.started_at).total_seconds():.1f} s).")


@dataclass(frozen=True)
class SyncStatus:
    pending: int
    last_success_at: datetime | None
    last_error: str | None
    last_error_fr: str | None
    refused: int


@dataclass(frozen=True)
class ConflictRow:
    id: uuid.UUID
    patient_id: uuid.UUID
    field: str
    kept_value: Any
    overwritten_value: Any
    kept_from: str
    overwritten_from: str
    at: datetime
    resolved: bool


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


# ------------------------------------------------------------------------------ sync

def _lock_for_writing(session: Session) -> None:
    """Take SQLite's write lock first: a transaction that reads, then writes, could find
    that another process wrote in between (SQLITE_BUSY, which no timeout cures)."""
    session.execute(update(SyncMeta).where(col(SyncMeta.key) == "node")
                    .values(value=SyncMeta.value))


def _hub_state(session: Session, key: str) -> SyncHub:
    state = session.get(SyncHub, key)
    if state is None:
        state = SyncHub(hub=key)
        session.add(state)
        session.flush()
    return state


def _record_result(database: Database, key: str, user: str, *, error: CareHubError | None,
                   report: dict[str, Any] | None = None) -> None:
    with database.transaction() as session:
        _lock_for_writing(session)
        state = _hub_state(session, key)
        state.last_attempt_at = utcnow()
        if error is None:
            state.last_success_at = state.last_attempt_at
            state.last_error = state.last_error_fr = None
        else:
            state.last_error, state.last_error_fr = error.message, error.message_fr
        session.add(state)
        record_events(session, [Change(user, "sync", key, "sync" if error is None else
                                       "sync_failed",
                                       report or {} if error is None
                                       else {"error": error.message})])


def sync(database: Database, *, hub_url: str, user: str, batch_size: int = 500,
         password: str | None = None, push: bool = True, pull: bool = True) -> SyncReport:
    """Push the outbox, then pull the caseloads' changes; each batch its own transaction
    locally and at the hub. Raises HubError (hub down, credentials refused...).

    `push`/`pull` at False skip that half (the app's "send only" and the tests)."""
    if batch_size < 1:
        raise InputError("The batch size must be at least 1.",
                         "La taille des lots doit être d'au moins 1.")
    address = parse_hub_url(hub_url)
    started = utcnow()
    secret = password or address.password or credentials.get_password(hub=address.key,
                                                                       user=address.user)
    run = _Run(database, address, user, batch_size)
    try:
        conn = connect(address, secret)
        try:
            session = check_hub(conn, address)
            if push:
                run.push(conn, session)
            if pull:
                run.pull(conn)
        finally:
            conn.close()
    except HubError as exc:
        _record_result(database, address.key, user, error=exc)
        raise
    except psycopg.errors.InsufficientPrivilege as exc:
        error = not_a_member(address)
        _record_result(database, address.key, user, error=error)
        raise error from exc
    except psycopg.Error as exc:
        error = connection_error(address, exc) if isinstance(exc, psycopg.OperationalError) \
            else HubError(f"The hub {address.key} refused a batch ({exc}); nothing of that "
                          "batch was kept, it will be sent again.",
                          "Le hub a refusé un lot ; rien de ce lot n'a été gardé, il sera "
                          "renvoyé.")
        _record_result(database, address.key, user, error=error)
        raise error from exc
    report = SyncReport(pushed=run.pushed, pulled=run.pulled, conflicts=run.conflicts,
                        refused=run.refused, started_at=started, finished_at=utcnow())
    _record_result(database, address.key, user, error=None,
                   report={"pushed": run.pushed, "pulled": run.pulled,
                           "conflicts": run.conflicts, "refused": run.refused})
    return report


class _Run:
    def __init__(self, database: Database, address: HubAddress, user: str,
                 batch_size: int) -> None:
        self.database = database
        self.address = address
        self.user = user
        self.batch_size = batch_size
        self.pushed = self.pulled = self.conflicts = self.refused = 0
        with database.transaction() as session:
            _lock_for_writing(session)
            self.node = node_id(session)
            self.cursor = _hub_state(session, address.key).cursor

    def push(self, conn: psycopg.Connection[Any], hub_session: HubSession) -> None:
        """Send the changes she made (the hub signs them with her name: another user's
        changes on this workstation wait for that user's own sync)."""
        seen: set[uuid.UUID] = set()
        while True:
            with self.database.session() as session:
                # Plain rows, not ORM objects: a batch is read in a few milliseconds.
                table = OutboxEntry.__table__  # type: ignore[attr-defined]
                entries = list(session.execute(
                    table.select().where(table.c.sent_at.is_(None), table.c.refused_at.is_(None),
                                         table.c.actor == hub_session.user)
                    .order_by(table.c.seq).limit(self.batch_size)))
                entries = [e for e in entries if e.id not in seen]
                if not entries:
                    return
                batch = push_entries(session, entries, self.node)
            seen.update(e.id for e in entries)
            outcomes: dict[uuid.UUID, Outcome] = {}
            sendable = []
            for entry in batch:
                problem = entry_problem(entry)
                if problem is None:
                    sendable.append(entry)
                else:
                    outcomes[entry.id] = problem
            if sendable:
                outcomes |= self._send(conn, sendable)
            with self.database.transaction() as session:
                _lock_for_writing(session)
                record_outcomes(session, batch, outcomes, actor=self.user,
                                hub=self.address.key)
            refused = sum(1 for e in batch if not outcomes[e.id].applied)
            self.refused += refused
            self.pushed += len(batch) - refused

    def _send(self, conn: psycopg.Connection[Any], batch: list[PushEntry]
              ) -> dict[uuid.UUID, Outcome]:
        """One batch; if the hub rejects it as a whole, its halves, down to the one entry
        it cannot take (refused with the hub's words), so the others still go."""
        try:
            return push_batch(conn, batch, address=self.address)
        except psycopg.DataError as exc:
            if len(batch) == 1:
                text = str(exc).strip().splitlines()[0] if str(exc).strip() else "refused"
                return {batch[0].id: Outcome(REFUSED, "hub_rejected",
                                             f"The hub could not take this change ({text}).")}
            half = len(batch) // 2
            return self._send(conn, batch[:half]) | self._send(conn, batch[half:])

    def _local_patients(self, ids: set[uuid.UUID]) -> set[uuid.UUID]:
        with self.database.session() as session:
            return existing_patients(session, ids)

    def pull(self, conn: psycopg.Connection[Any]) -> None:
        while True:
            page = pull_page(conn, after=self.cursor, limit=self.batch_size,
                             local_patients=self._local_patients, address=self.address)
            if page.empty:
                break
            with self.database.transaction() as session:
                # Take the write lock first, then check no other sync applied this page.
                _lock_for_writing(session)
                state = _hub_state(session, self.address.key)
                session.refresh(state)
                if state.cursor != page.after:
                    self.cursor = state.cursor
                    continue
                counts = PageApplier(session, actor=self.user, hub=self.address.key).apply(page)
                state.cursor = page.upto
                session.add(state)
                if counts.latest_clock:
                    save_clock(session, observe(last_clock(session),
                                                Hlc.parse(counts.latest_clock), self.node))
            self.cursor = page.upto
            self.pulled += counts.patients + counts.records + counts.actions
            self.conflicts += counts.conflicts
        save_cursor(conn, workstation=self.node, cursor=self.cursor)


# ------------------------------------------------------------------------------ status

def sync_status(session: Session) -> SyncStatus:
    """What the status bar shows: pending changes, the last success, the last error."""
    state = session.exec(select(SyncHub).order_by(
        col(SyncHub.last_attempt_at).desc())).first()
    refused = session.exec(select(func.count()).select_from(OutboxEntry).where(
        col(OutboxEntry.refused_at).is_not(None))).one()
    return SyncStatus(
        pending=pending_count(session),
        last_success_at=_aware(max((s.last_success_at for s in session.exec(select(SyncHub))
                                    if s.last_success_at), default=None)),
        last_error=state.last_error if state else None,
        last_error_fr=state.last_error_fr if state else None,
        refused=int(refused))


def action_delivery(session: Session, *, action_ids: Sequence[uuid.UUID]
                    ) -> dict[uuid.UUID, str]:
    """Where each action is: recorded here only, sent, acknowledged by the hub, refused
    (see the refusal), or exported to the shared record. Unknown ids are left out."""
    ids = list(dict.fromkeys(action_ids))
    result: dict[uuid.UUID, str] = {}
    from carehub.coordination.models import CoordinationAction

    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        known = set(session.exec(select(CoordinationAction.id).where(
            col(CoordinationAction.id).in_(chunk))))
        exported = set(session.exec(select(ActionExport.action_id).where(
            col(ActionExport.action_id).in_(chunk))))
        entries = {e.entity_id: e for e in session.exec(select(OutboxEntry).where(
            OutboxEntry.entity == "action", col(OutboxEntry.entity_id).in_(
                [str(i) for i in chunk])))}
        for action_id in chunk:
            if action_id not in known:
                continue
            entry = entries.get(str(action_id))
            status: Delivery
            if entry is not None and entry.refused_at is not None:
                status = "refused"
            elif action_id in exported:
                status = "exported"
            elif entry is None or entry.acked_at is not None:
                status = "acknowledged"  # or it came from the hub
            elif entry.sent_at is not None:
                status = "sent"
            else:
                status = "local"
            result[action_id] = status
    return result


def refusal(session: Session, *, entity_id: str) -> tuple[str | None, str | None] | None:
    """The hub's reason (code, text) for refusing the change of this record, if it did."""
    entry = session.exec(select(OutboxEntry).where(
        OutboxEntry.entity_id == entity_id, col(OutboxEntry.refused_at).is_not(None))
        .order_by(col(OutboxEntry.seq).desc())).first()
    return (entry.refusal_code, entry.refusal_reason) if entry else None


def mark_exported(session: Session, *, action_ids: Sequence[uuid.UUID], target: str) -> None:
    """Record that these actions were written to the shared record at `target`."""
    ids = list(dict.fromkeys(action_ids))
    if not ids:
        return
    now = utcnow()
    session.execute(sqlite_insert(ActionExport).on_conflict_do_nothing(),
                    [{"action_id": i, "target": target, "exported_at": now} for i in ids])
    record_events(session, [Change("sync", "action", str(i), "exported", {"target": target})
                            for i in ids])


# ------------------------------------------------------------------------------ conflicts

def _conflict_row(c: SyncConflict) -> ConflictRow:
    at = _aware(c.at)
    assert at is not None
    return ConflictRow(id=c.id, patient_id=c.patient_id, field=c.field,
                       kept_value=c.kept_value, overwritten_value=c.overwritten_value,
                       kept_from=c.kept_from, overwritten_from=c.overwritten_from, at=at,
                       resolved=c.resolved_at is not None)


def list_conflicts(session: Session, *, unresolved_only: bool = True) -> list[ConflictRow]:
    """Values the hub overwrote by later ones, newest first."""
    query = select(SyncConflict)
    if unresolved_only:
        query = query.where(col(SyncConflict.resolved_at).is_(None))
    return [_conflict_row(c) for c in session.exec(
        query.order_by(col(SyncConflict.at).desc(), col(SyncConflict.id)))]


_ENTITY_MODELS: dict[str, Any] = {"patient": Patient, "related_person": RelatedPerson,
                                  "consent": Consent}


def resolve_conflict(session: Session, *, conflict_id: uuid.UUID,
                     keep: Literal["kept", "overwritten"], actor: str) -> None:
    """Settle a conflict: keep the value the hub kept, or bring the overwritten one back
    (a new change, synced like any other). The resolution reaches the hub too."""
    if keep not in ("kept", "overwritten"):
        raise InputError(f"keep must be 'kept' or 'overwritten', not {keep!r}.",
                         "Choix invalide : garder la valeur retenue ou l'ancienne.")
    conflict = session.get(SyncConflict, conflict_id)
    if conflict is None:
        raise NotFoundError(f"No conflict {conflict_id}.", "Conflit introuvable.")
    if conflict.resolved_at is not None:
        raise InputError(f"Conflict {conflict_id} was already resolved by "
                         f"{conflict.resolved_by}.",
                         f"Ce conflit a déjà été réglé par {conflict.resolved_by}.")
    if keep == "overwritten":
        _restore(session, conflict, actor)
    conflict.resolved_at = utcnow()
    conflict.resolved_by = actor
    conflict.resolution = keep
    session.add(conflict)
    session.flush()
    change = Change(actor, "sync_conflict", str(conflict.id), "resolve",
                    {"resolution": keep, "field": conflict.field,
                     "patient_id": str(conflict.patient_id)})
    record_events(session, [change])
    enqueue(session, [Outgoing(actor, "conflict", str(conflict.id), "resolve",
                               {"resolution": keep})])


def _restore(session: Session, conflict: SyncConflict, actor: str) -> None:
    from carehub.sync.apply import PageApplier

    model = _ENTITY_MODELS.get(conflict.entity)
    record = session.get(model, uuid.UUID(conflict.entity_id)) if model else None
    if record is None:
        raise NotFoundError(f"The {conflict.entity} of conflict {conflict.id} is not here.",
                            "L'enregistrement de ce conflit est introuvable ici.")
    value = conflict.overwritten_value
    applier = PageApplier(session, actor=actor, hub="")
    if conflict.entity == "patient":
        before = {conflict.field: jsonable(getattr(record, conflict.field, None))}
        applier.set_patient_fields(record, {conflict.field: value})
    else:
        before = {conflict.field: jsonable(getattr(record, conflict.field, None))}
        setattr(record, conflict.field, value)
        session.add(record)
    session.flush()
    from carehub.changes import log_change

    log_change(session, Change(actor, conflict.entity, conflict.entity_id, "update",
                               {"changed": {conflict.field: value}, "before": before,
                                "conflict": str(conflict.id)}),
               payload={conflict.field: value})
