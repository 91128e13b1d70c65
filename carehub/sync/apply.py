"""The workstation's side of a sync: what to send for an outbox entry, and applying what
the hub sent back (patients merged per field, re-keyed by INS, records, actions,
conflicts, receipts). Every local write here is audited; nothing is queued again.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import Table, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, SQLModel, col, select

from carehub.caseload.models import Consent, Patient, PatientBase, PatientPhone, RelatedPerson
from carehub.caseload.services import search_text_for, sort_key_for
from carehub.coordination.audit import Change, record_events
from carehub.coordination.models import CoordinationAction
from carehub.directory.models import Commune
from carehub.errors import InputError
from carehub.phones import parse_phone
from carehub.prevention.models import Reminder
from carehub.sync.clock import Hlc, from_millis
from carehub.sync.hub import PATIENT_LINKED, Outcome, Page, PushEntry
from carehub.sync.models import FieldClock, SyncConflict
from carehub.sync.outbox import OutboxEntry
from carehub.timeutil import utcnow
from carehub.users.models import User
from carehub.users.services import ensure_user

# What a patient's record at the hub holds: the form's fields, where she came from,
# her care manager (by user name: the caseload) and her phones (E.164, in order).
PATIENT_FIELDS: tuple[str, ...] = (*PatientBase.model_fields, "source_system", "source_id",
                                   "care_manager", "phones")
_NAME_FIELDS = frozenset({"birth_name", "used_name", "given_names", "ins", "commune_insee",
                          "phones"})
LOCAL_MODELS: dict[str, type[SQLModel]] = {"related_person": RelatedPerson, "consent": Consent,
                                           "reminder": Reminder}
ALL_FIELDS = "*"


def jsonable(value: Any) -> Any:
    if isinstance(value, (date, time, datetime)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _from_json(table: Table, name: str, value: Any) -> Any:
    """A JSON value back into what the column holds (dates, times, UUIDs)."""
    if value is None or name not in table.c:
        return value
    column_type = table.c[name].type
    column_type = getattr(column_type, "impl", column_type)  # UTCDateTime and other wrappers
    try:
        kind = column_type.python_type
    except NotImplementedError:
        return value
    if kind is date and isinstance(value, str):
        return date.fromisoformat(value)
    if kind is time and isinstance(value, str):
        return time.fromisoformat(value)
    if kind is datetime and isinstance(value, str):
        return datetime.fromisoformat(value)
    if kind is uuid.UUID and isinstance(value, str):
        return uuid.UUID(value)
    return value


_PARSERS: dict[type, Any] = {date: date.fromisoformat, time: time.fromisoformat,
                             datetime: datetime.fromisoformat, uuid.UUID: uuid.UUID}


def _converters(table: Table) -> dict[str, Any]:
    """For each column, a function from its JSON value to what the column holds."""
    out: dict[str, Any] = {}
    for column in table.c:
        column_type = getattr(column.type, "impl", column.type)
        try:
            kind = column_type.python_type
        except NotImplementedError:
            kind = None
        parser = _PARSERS.get(kind) if kind is not None else None
        out[column.name] = (lambda v, p=parser: p(v) if isinstance(v, str) else v) \
            if parser else (lambda v: v)
    return out


def entry_clock(entry: Any, node: str) -> str:
    """The entry's clock; entries queued before clocks existed get their creation time."""
    if entry.hlc:
        return str(entry.hlc)
    created = entry.created_at if entry.created_at.tzinfo else \
        entry.created_at.replace(tzinfo=UTC)
    return str(from_millis(int(created.timestamp() * 1000), node))


# ------------------------------------------------------------------------------ pushing

def patient_snapshot(session: Session, patient_id: uuid.UUID) -> dict[str, Any]:
    """The patient's synced fields as they are here now (JSON values)."""
    patient = session.get(Patient, patient_id)
    if patient is None:
        return {}
    values = {name: jsonable(getattr(patient, name)) for name in PATIENT_FIELDS
              if name not in ("care_manager", "phones")}
    manager = session.get(User, patient.care_manager_id) if patient.care_manager_id else None
    values["care_manager"] = manager.name if manager else None
    values["phones"] = list(session.exec(
        select(PatientPhone.e164).where(PatientPhone.patient_id == patient_id)
        .order_by(col(PatientPhone.position))))
    return values


def local_clocks(session: Session, entity: str, ids: Iterable[str]
                 ) -> dict[tuple[str, str], str]:
    ids = list(set(ids))
    clocks: dict[tuple[str, str], str] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for row in session.exec(select(FieldClock).where(
                FieldClock.entity == entity, col(FieldClock.entity_id).in_(chunk))):
            clocks[(row.entity_id, row.field)] = row.hlc
    return clocks


def push_entries(session: Session, entries: Sequence[Any], node: str
                 ) -> list[PushEntry]:
    """What the hub gets for each outbox entry, with the clock each field replaced."""
    merged = [e for e in entries if e.entity == "patient" or e.entity in PATIENT_LINKED]
    clocks: dict[str, dict[tuple[str, str], str]] = {}
    for entity in {e.entity for e in merged}:
        clocks[entity] = local_clocks(session, entity,
                                      (e.entity_id for e in merged if e.entity == entity))
    out = []
    for entry in entries:
        hlc = entry_clock(entry, node)
        fields = dict(entry.payload)
        bases: dict[str, str | None] = {}
        if entry.entity == "patient":
            if entry.op in ("create", "import"):
                fields = {**patient_snapshot(session, uuid.UUID(entry.entity_id)), **fields}
            fields = {k: v for k, v in fields.items() if k in PATIENT_FIELDS}
        elif entry.entity == "consent":
            fields.setdefault("recorded_by", entry.actor)
        if entry.entity in clocks:
            known = clocks[entry.entity]
            for name in fields:
                bases[name] = known.get((entry.entity_id, name))
                known[(entry.entity_id, name)] = hlc
        out.append(PushEntry(id=entry.id, entity=entry.entity,
                             entity_id=uuid.UUID(entry.entity_id), op=entry.op,
                             actor=entry.actor, hlc=hlc, fields=fields, bases=bases))
    return out


def _set_clocks(session: Session, rows: dict[tuple[str, str, str], tuple[str, str]]) -> None:
    """Field clocks, each kept only if later than the one stored."""
    if not rows:
        return
    values = [{"entity": e, "entity_id": i, "field": f, "hlc": h, "by": b}
              for (e, i, f), (h, b) in rows.items()]
    statement = sqlite_insert(FieldClock)
    statement = statement.on_conflict_do_update(
        index_elements=["entity", "entity_id", "field"],
        set_={"hlc": statement.excluded.hlc, "by": statement.excluded.by},
        where=col(FieldClock.hlc) < statement.excluded.hlc)
    for start in range(0, len(values), 500):
        session.execute(statement, values[start:start + 500])


def record_outcomes(session: Session, entries: Sequence[PushEntry],
                    outcomes: dict[uuid.UUID, Outcome], *, actor: str, hub: str) -> None:
    """After the hub committed: entries sent or refused (with the hub's reason), clocks of
    the fields that went out, one audit event for the batch and one per refusal."""
    now = utcnow()
    applied = [e for e in entries if e.id in outcomes and outcomes[e.id].applied]
    refused = [e for e in entries if e.id in outcomes and not outcomes[e.id].applied]
    for start in range(0, len(applied), 500):
        chunk = [e.id for e in applied[start:start + 500]]
        session.execute(update(OutboxEntry).where(col(OutboxEntry.id).in_(chunk),
                                                  col(OutboxEntry.sent_at).is_(None))
                        .values(sent_at=now))
    for entry in refused:
        outcome = outcomes[entry.id]
        session.execute(update(OutboxEntry).where(col(OutboxEntry.id) == entry.id,
                                                  col(OutboxEntry.refused_at).is_(None))
                        .values(refused_at=now, refusal_code=outcome.code,
                                refusal_reason=outcome.reason))
    clocks = {(e.entity, str(e.entity_id), name): (e.hlc, e.actor)
              for e in applied if e.entity == "patient" or e.entity in PATIENT_LINKED
              for name in e.fields}
    _set_clocks(session, clocks)
    events = [Change(actor, e.entity, str(e.entity_id), "sync_refused",
                     {"entry": str(e.id), "code": outcomes[e.id].code,
                      "reason": outcomes[e.id].reason, "hub": hub}) for e in refused]
    if entries:
        events.insert(0, Change(actor, "sync", hub, "push",
                                {"entries": len(entries), "applied": len(applied),
                                 "refused": len(refused)}))
    record_events(session, events)


# ------------------------------------------------------------------------------ pulling

def pending_fields(session: Session, entity: str, ids: Iterable[str]) -> dict[str, set[str]]:
    """Fields with a local change the hub has not committed yet: a pull leaves them be."""
    ids = list(set(ids))
    pending: dict[str, set[str]] = defaultdict(set)
    for start in range(0, len(ids), 500):
        query = select(OutboxEntry.entity_id, OutboxEntry.op, OutboxEntry.payload).where(
            OutboxEntry.entity == entity, col(OutboxEntry.entity_id).in_(ids[start:start + 500]),
            col(OutboxEntry.sent_at).is_(None), col(OutboxEntry.refused_at).is_(None))
        for entity_id, op, payload in session.exec(query):
            if op in ("create", "import"):
                pending[entity_id].add(ALL_FIELDS)
            pending[entity_id].update(payload)
    return pending


@dataclass
class PullCounts:
    patients: int = 0
    records: int = 0
    actions: int = 0
    conflicts: int = 0
    rekeyed: int = 0
    latest_clock: str | None = None
    events: list[Change] = field(default_factory=list)


class PageApplier:
    """Applies one pulled page inside the caller's local transaction."""

    def __init__(self, session: Session, *, actor: str, hub: str) -> None:
        self.session = session
        self.actor = actor
        self.hub = hub
        self.counts = PullCounts()
        self.clock_rows: dict[tuple[str, str, str], tuple[str, str]] = {}
        self.pending: dict[str, dict[str, set[str]]] = {}
        self.clocks: dict[str, dict[tuple[str, str], str]] = {}

    def apply(self, page: Page) -> PullCounts:
        # What is pending or clocked here for the page's rows, read once, not row by row.
        for entity, rows in (("patient", page.patients), *(
                (e, [r for r in page.records if r["entity"] == e]) for e in PATIENT_LINKED)):
            ids = [str(r["id"]) for r in rows]
            self.pending[entity] = pending_fields(self.session, entity, ids)
            self.clocks[entity] = local_clocks(self.session, entity, ids)
        seen: set[uuid.UUID] = set()
        for row in page.patients:
            if row["id"] not in seen:
                seen.add(row["id"])
                self._patient(row)
        self.session.flush()
        for row in page.records:
            self._record(row)
        self._actions(page.actions)
        self._conflicts(page.conflicts)
        self._receipts(page.receipts)
        _set_clocks(self.session, self.clock_rows)
        record_events(self.session, self.counts.events)
        return self.counts

    def _note_clock(self, clock: str | None) -> None:
        if clock and (self.counts.latest_clock is None or clock > self.counts.latest_clock):
            self.counts.latest_clock = clock

    def _take(self, entity: str, entity_id: str, hub_fields: dict[str, Any],
              hub_clocks: dict[str, dict[str, str]], *, fresh: bool) -> dict[str, Any]:
        """The hub's fields that should replace ours: later clock, no local change pending."""
        if entity not in self.pending:  # a conflict's restore: one record, read now
            self.pending[entity] = pending_fields(self.session, entity, [entity_id])
            self.clocks[entity] = local_clocks(self.session, entity, [entity_id])
        pending = self.pending[entity].get(entity_id, set())
        if ALL_FIELDS in pending and not fresh:
            return {}
        mine = self.clocks[entity]
        taken = {}
        for name, value in hub_fields.items():
            clock = hub_clocks.get(name, {})
            self._note_clock(clock.get("hlc"))
            if not fresh and name in pending:
                continue
            local = mine.get((entity_id, name))
            if fresh or local is None or (clock.get("hlc") or "") > local:
                taken[name] = value
                if clock.get("hlc"):
                    self.clock_rows[(entity, entity_id, name)] = (clock["hlc"],
                                                                  clock.get("by", ""))
        return taken

    # -- patients
    def _patient(self, row: dict[str, Any]) -> None:
        session = self.session
        pid: uuid.UUID = row["id"]
        fields: dict[str, Any] = row["fields"]
        patient = session.get(Patient, pid)
        if patient is None and fields.get("ins"):
            twin = session.exec(select(Patient).where(Patient.ins == fields["ins"])).first()
            if twin is not None:
                rekey_patient(session, old=twin.id, new=pid, actor=self.actor, hub=self.hub)
                self.counts.rekeyed += 1
                patient = session.get(Patient, pid)
        fresh = patient is None
        taken = self._take("patient", str(pid), fields, row["clocks"], fresh=fresh)
        if not taken:
            return
        if patient is None:
            patient = Patient(id=pid, birth_name=str(fields.get("birth_name") or "?"),
                              given_names=str(fields.get("given_names") or "?"),
                              birth_date=_from_json(Patient.__table__, "birth_date",  # type: ignore[attr-defined]
                                                    fields.get("birth_date")) or date(1900, 1, 1))
            session.add(patient)
            session.flush()
        changed = self.set_patient_fields(patient, taken)
        self.counts.patients += 1
        self.counts.events.append(Change(self.actor, "patient", str(pid),
                                         "sync_create" if fresh else "sync_update",
                                         {"changed": changed, "hub": self.hub}))

    def set_patient_fields(self, patient: Patient, taken: dict[str, Any]) -> dict[str, Any]:
        session = self.session
        table: Table = Patient.__table__  # type: ignore[attr-defined]
        changed: dict[str, Any] = {}
        for name, value in taken.items():
            if name == "care_manager":
                if value:
                    patient.care_manager_id = ensure_user(session, name=str(value)).id
                changed[name] = value
            elif name == "phones":
                self._set_phones(patient.id, list(value or []))
                changed[name] = value
            elif name == "ins" and value and _other_has(session, Patient.ins == value, patient.id):
                continue  # another local patient holds it: kept apart, seen in the review
            elif name in ("source_system", "source_id"):
                continue
            elif name in table.c:
                setattr(patient, name, _from_json(table, name, value))
                changed[name] = value
        source = (taken.get("source_system"), taken.get("source_id"))
        if source[0] and source[1] and not _other_has(
                session, (col(Patient.source_system) == source[0]) &
                (col(Patient.source_id) == source[1]), patient.id):
            patient.source_system, patient.source_id = source
        if _NAME_FIELDS & set(changed):
            phones = list(session.exec(select(PatientPhone.e164).where(
                PatientPhone.patient_id == patient.id).order_by(col(PatientPhone.position))))
            commune = session.get(Commune, patient.commune_insee) if patient.commune_insee \
                else None
            patient.search_text = search_text_for(
                names=[patient.birth_name, patient.used_name, patient.given_names],
                ins=patient.ins, phones=phones, commune_name=commune.name if commune else None)
            patient.sort_key = sort_key_for(used_name=patient.used_name,
                                            birth_name=patient.birth_name,
                                            given_names=patient.given_names)
        patient.updated_at = utcnow()
        session.add(patient)
        return changed

    def _set_phones(self, patient_id: uuid.UUID, numbers: list[str]) -> None:
        session = self.session
        for old in session.exec(select(PatientPhone).where(PatientPhone.patient_id == patient_id)):
            session.delete(old)
        session.flush()
        for position, number in enumerate(numbers):
            try:
                kind = parse_phone(number).kind
                needs_check = False
            except InputError:
                kind, needs_check = "other", True
            session.add(PatientPhone(patient_id=patient_id, e164=number, kind=kind,
                                     position=position, needs_check=needs_check))

    # -- contacts, consents, reminder states
    def _record(self, row: dict[str, Any]) -> None:
        model = LOCAL_MODELS.get(row["entity"])
        if model is None:
            return
        session = self.session
        rid = str(row["id"])
        current = session.get(model, row["id"])
        fresh = current is None
        taken = self._take(row["entity"], rid, row["fields"], row["clocks"], fresh=fresh)
        if not taken:
            return
        table: Table = model.__table__  # type: ignore[attr-defined]
        values = {"patient_id": row["patient_id"]} | {
            name: _from_json(table, name, value) for name, value in taken.items()
            if name in table.c and name not in ("id", "patient_id")}
        if row["entity"] == "related_person" and "phone" in taken:
            values["phone_e164"] = taken["phone"]
            values["phone_kind"] = _phone_kind(taken["phone"])
        if current is None:
            current = model(id=row["id"], **values)
        else:
            for name, value in values.items():
                setattr(current, name, value)
        session.add(current)
        self.counts.records += 1
        self.counts.events.append(Change(self.actor, row["entity"], rid,
                                         "sync_create" if fresh else "sync_update",
                                         {"changed": {k: jsonable(v) for k, v in taken.items()},
                                          "hub": self.hub}))

    # -- actions, append-only
    def _actions(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        session = self.session
        ids = [r["id"] for r in rows]
        known: set[uuid.UUID] = set()
        for start in range(0, len(ids), 500):
            known.update(session.exec(select(CoordinationAction.id).where(
                col(CoordinationAction.id).in_(ids[start:start + 500]))))
        table: Table = CoordinationAction.__table__  # type: ignore[attr-defined]
        converters = _converters(table)
        values = []
        for row in rows:
            if row["id"] in known:
                continue
            known.add(row["id"])
            payload = row["payload"]
            value: dict[str, Any] = {name: convert(payload[name]) if payload[name] is not None
                                     else None
                                     for name, convert in converters.items() if name in payload}
            value.update(id=row["id"], patient_id=row["patient_id"],
                         details=payload.get("details") or {})
            value.setdefault("recorded_at", utcnow())
            values.append(value)
            self.counts.events.append(Change(self.actor, "action", str(row["id"]), "sync_create",
                                             {"patient_id": str(row["patient_id"]),
                                              "type": payload.get("type"), "hub": self.hub}))
        statement = sqlite_insert(table).on_conflict_do_nothing()  # Core: no ORM per row
        for start in range(0, len(values), 500):
            session.execute(statement, values[start:start + 500])
        self.counts.actions += len(values)

    # -- conflicts and receipts
    def _conflicts(self, rows: list[dict[str, Any]]) -> None:
        session = self.session
        for row in rows:
            current = session.get(SyncConflict, row["id"])
            if current is None:
                current = SyncConflict(
                    id=row["id"], patient_id=row["patient_id"], entity=row["entity"],
                    entity_id=str(row["entity_id"]), field=row["field"],
                    kept_value=row["kept_value"], overwritten_value=row["overwritten_value"],
                    kept_hlc=row["kept_hlc"], overwritten_hlc=row["overwritten_hlc"],
                    kept_from=row["kept_from"], overwritten_from=row["overwritten_from"],
                    at=row["at"])
                self.counts.conflicts += 1
                self.counts.events.append(Change(
                    self.actor, "sync_conflict", str(row["id"]), "sync_create",
                    {"patient_id": str(row["patient_id"]), "field": row["field"],
                     "hub": self.hub}))
            elif row["resolved_at"] is None or current.resolved_at is not None:
                continue
            if row["resolved_at"] is not None:
                current.resolved_at = row["resolved_at"]
                current.resolved_by = row["resolved_by"]
                current.resolution = row["resolution"]
                self.counts.events.append(Change(
                    self.actor, "sync_conflict", str(row["id"]), "sync_resolved",
                    {"resolution": row["resolution"], "by": row["resolved_by"],
                     "hub": self.hub}))
            session.add(current)

    def _receipts(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        session = self.session
        now = utcnow()
        applied = [r["entry_id"] for r in rows if r["status"] == "applied"]
        for start in range(0, len(applied), 500):
            chunk = applied[start:start + 500]
            session.execute(update(OutboxEntry).where(col(OutboxEntry.id).in_(chunk),
                                                      col(OutboxEntry.acked_at).is_(None))
                            .values(acked_at=now))
            session.execute(update(OutboxEntry).where(col(OutboxEntry.id).in_(chunk),
                                                      col(OutboxEntry.sent_at).is_(None))
                            .values(sent_at=now))
        for row in rows:
            if row["status"] != "applied":
                session.execute(update(OutboxEntry).where(
                    col(OutboxEntry.id) == row["entry_id"], col(OutboxEntry.refused_at).is_(None))
                    .values(refused_at=now, refusal_code=row["code"],
                            refusal_reason=row["reason"]))
        self.counts.events.append(Change(self.actor, "sync", self.hub, "receipts",
                                         {"acknowledged": len(applied),
                                          "refused": len(rows) - len(applied)}))


def _other_has(session: Session, condition: Any, patient_id: uuid.UUID) -> bool:
    other = session.exec(select(Patient.id).where(condition)).first()
    return other is not None and other != patient_id


def _phone_kind(number: Any) -> str | None:
    if not number:
        return None
    try:
        return parse_phone(str(number)).kind
    except InputError:
        return "other"


def existing_patients(session: Session, ids: set[uuid.UUID]) -> set[uuid.UUID]:
    found: set[uuid.UUID] = set()
    listed = list(ids)
    for start in range(0, len(listed), 500):
        found.update(session.exec(select(Patient.id).where(
            col(Patient.id).in_(listed[start:start + 500]))))
    return found


# ------------------------------------------------------------------------------ re-keying

def rekey_patient(session: Session, *, old: uuid.UUID, new: uuid.UUID, actor: str,
                  hub: str) -> None:
    """Give a local patient the hub's id for her INS, and everything that refers to her."""
    from carehub.schema import metadata

    session.flush()
    session.connection().exec_driver_sql("PRAGMA defer_foreign_keys = ON")
    patient_table: Table = Patient.__table__  # type: ignore[attr-defined]
    for table in metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table is patient_table and fk.column.name == "id":
                column = fk.parent
                session.execute(update(table).where(column == old).values({column.name: new}))
    session.execute(update(patient_table).where(patient_table.c.id == old).values(id=new))
    session.execute(update(SyncConflict).where(col(SyncConflict.patient_id) == old)
                    .values(patient_id=new))
    for clock in session.exec(select(FieldClock).where(FieldClock.entity == "patient",
                                                       FieldClock.entity_id == str(old))):
        session.delete(clock)
        session.flush()
        session.merge(FieldClock(entity="patient", entity_id=str(new), field=clock.field,
                                 hlc=clock.hlc, by=clock.by))
    # Changes not yet pushed follow her; the hub knows the old id as an alias anyway.
    for entry in session.exec(select(OutboxEntry).where(col(OutboxEntry.sent_at).is_(None))):
        if entry.entity == "patient" and entry.entity_id == str(old):
            entry.entity_id = str(new)
        elif entry.payload.get("patient_id") == str(old):
            entry.payload = {**entry.payload, "patient_id": str(new)}
        else:
            continue
        session.add(entry)
    session.flush()
    session.expire_all()
    record_events(session, [Change(actor, "patient", str(new), "sync_rekey",
                                   {"from": str(old), "reason": "same INS at the hub",
                                    "hub": hub})])


def latest(a: str | None, b: str | None) -> Hlc | None:
    best = max((x for x in (a, b) if x), default=None)
    return Hlc.parse(best) if best else None
