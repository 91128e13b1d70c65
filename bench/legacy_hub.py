"""The hub's former direct-table path (schema h0001: members wrote the tables under
row-level security, the merge ran on the workstation), kept only as the benchmark's
in-process baseline beside the hub functions of h0002. Never used by CareHub itself.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from carehub.sync import service
from carehub.sync.hub import (
    APPLIED,
    PATIENT_LINKED,
    HubAddress,
    HubSession,
    Outcome,
    Page,
    PushEntry,
    hub_head,
)

SEQ_LOCK = 7_207_201  # pg_advisory_xact_lock key serialising the hub's writers
KEPT_ON_INS_MERGE = frozenset({"care_manager"})


def _refused(code: str, reason: str) -> Outcome:
    return Outcome("refused", code, reason)


@dataclass
class _Row:
    """A patient or linked record as the batch sees it while merging."""

    id: uuid.UUID
    fields: dict[str, Any]
    clocks: dict[str, dict[str, str]]
    patient_id: uuid.UUID | None = None
    entity: str = "patient"
    new: bool = False
    dirty: bool = False


def merge_fields(row: _Row, incoming: dict[str, Any], *, hlc: str, by: str,
                 bases: dict[str, str | None], keep: Iterable[str] = ()
                 ) -> list[dict[str, Any]]:
    """Merge one change into a row, field by field, last writer by clock wins.

    Returns the conflicts: a value replaced by a change that did not know it (its base
    clock is not the replaced value's), or a change that arrived after a later one.
    """
    conflicts = []
    kept_fields = set(keep)
    patient_id = row.patient_id or row.id

    def conflict(name: str, kept: Any, kept_clock: dict[str, str], lost: Any,
                 lost_clock: dict[str, str] | None, lost_by: str) -> None:
        conflicts.append({
            "id": uuid.uuid4(), "patient_id": patient_id, "entity": row.entity,
            "entity_id": row.id, "field": name, "kept_value": kept,
            "kept_hlc": kept_clock["hlc"], "kept_from": kept_clock.get("by", ""),
            "overwritten_value": lost,
            "overwritten_hlc": lost_clock["hlc"] if lost_clock else None,
            "overwritten_from": lost_by})

    for name, value in incoming.items():
        current = row.clocks.get(name)
        mine = {"hlc": hlc, "by": by}
        if name in kept_fields and name in row.fields:
            if row.fields[name] != value:
                conflict(name, row.fields[name], current or mine, value, mine, by)
            continue
        if current is None:
            row.fields[name] = value
            row.clocks[name] = mine
            row.dirty = True
        elif hlc > current["hlc"]:
            if row.fields.get(name) != value and bases.get(name) != current["hlc"]:
                conflict(name, value, mine, row.fields.get(name), current,
                         current.get("by", ""))
            row.fields[name] = value
            row.clocks[name] = mine
            row.dirty = True
        elif hlc < current["hlc"] and row.fields.get(name) != value:
            conflict(name, row.fields.get(name), current, value, mine, by)
    return conflicts


class _Batch:
    """One push batch, processed inside one hub transaction."""

    def __init__(self, cur: psycopg.Cursor[Any], entries: Sequence[PushEntry]) -> None:
        self.cur = cur
        self.entries = entries
        self.outcomes: dict[uuid.UUID, Outcome] = {}
        self.fresh: dict[uuid.UUID, Outcome] = {}  # decided now: receipts to write
        self.patients: dict[uuid.UUID, _Row] = {}
        self.records: dict[uuid.UUID, _Row] = {}
        self.aliases: dict[uuid.UUID, uuid.UUID] = {}
        self.new_aliases: list[tuple[uuid.UUID, uuid.UUID, str | None]] = []
        self.conflicts: list[dict[str, Any]] = []
        self.actions: list[dict[str, Any]] = []
        self.keys: dict[uuid.UUID, tuple[str | None, str]] = {}  # id -> (ins, caseload)
        self.by_ins: dict[str, uuid.UUID] = {}
        self.caseloads: set[str] = set()
        self.resolutions: list[tuple[str, str, uuid.UUID]] = []
        self.known_conflicts: set[uuid.UUID] = set()
        self.visible: set[uuid.UUID] = set()

    def run(self) -> dict[uuid.UUID, Outcome]:
        cur = self.cur
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (SEQ_LOCK,))
        cur.execute("SELECT entry_id, status, code, reason FROM receipt "
                    "WHERE entry_id = ANY(%s)", ([e.id for e in self.entries],))
        for entry_id, status, code, reason in cur.fetchall():
            self.outcomes[entry_id] = Outcome(status, code, reason)
        todo = [e for e in self.entries if e.id not in self.outcomes]
        if todo:
            self._load(todo)
            for entry in todo:
                outcome = self._one(entry)
                self.outcomes[entry.id] = self.fresh[entry.id] = outcome
            self._write()
            self._write_receipts()
        return self.outcomes

    # -- reading what the batch touches
    def _load(self, todo: list[PushEntry]) -> None:
        cur = self.cur
        cur.execute("SELECT caseload FROM caseload_member WHERE member = current_user")
        self.caseloads = {r[0] for r in cur.fetchall()}
        ids = {e.entity_id for e in todo if e.entity == "patient"}
        ids |= {p for e in todo if e.entity != "patient"
                if (p := _uuid(e.fields.get("patient_id"))) is not None}
        cur.execute("SELECT alias, canonical FROM patient_alias WHERE alias = ANY(%s)",
                    (list(ids),))
        self.aliases = dict(cur.fetchall())
        ids |= set(self.aliases.values())
        inss = sorted({str(e.fields["ins"]) for e in todo
                       if e.entity == "patient" and e.fields.get("ins")})
        cur.execute("SELECT id, ins, caseload FROM hub_patient_keys(%s, %s)",
                    (list(ids), inss))
        for pid, ins, caseload in cur.fetchall():
            self.keys[pid] = (ins, caseload)
            if ins:
                self.by_ins[ins] = pid
        # Patients the batch may change are read whole and locked; those that actions or
        # records only refer to need no more than a visibility check.
        merged = {self.aliases.get(e.entity_id, e.entity_id) for e in todo
                  if e.entity == "patient"} | {self.by_ins[i] for i in inss if i in self.by_ins}
        cur.execute("SELECT id, fields, clocks FROM patient WHERE id = ANY(%s) FOR UPDATE",
                    (list(merged & set(self.keys)),))
        for pid, fields, clocks in cur.fetchall():
            self.patients[pid] = _Row(pid, fields, clocks)
        cur.execute("SELECT id FROM patient WHERE id = ANY(%s)",
                    (list(set(self.keys) - merged),))
        self.visible = {r[0] for r in cur.fetchall()}
        record_ids = [e.entity_id for e in todo if e.entity in PATIENT_LINKED]
        if record_ids:
            cur.execute("SELECT id, entity, patient_id, fields, clocks FROM record "
                        "WHERE id = ANY(%s) FOR UPDATE", (record_ids,))
            for rid, entity, pid, fields, clocks in cur.fetchall():
                self.records[rid] = _Row(rid, fields, clocks, patient_id=pid, entity=entity)
        conflict_ids = [e.entity_id for e in todo if e.entity == "conflict"]
        if conflict_ids:
            cur.execute("SELECT id FROM conflict WHERE id = ANY(%s)", (conflict_ids,))
            self.known_conflicts = {r[0] for r in cur.fetchall()}
        amended = [a for e in todo if e.entity == "action"
                   if (a := _uuid(e.fields.get("amends_id"))) is not None]
        self.known_actions: dict[uuid.UUID, dict[str, Any]] = {}
        if amended:
            cur.execute("SELECT id, payload FROM action WHERE id = ANY(%s)", (amended,))
            self.known_actions = dict(cur.fetchall())

    # -- deciding each entry
    def _one(self, entry: PushEntry) -> Outcome:
        if entry.entity == "patient":
            return self._patient(entry)
        if entry.entity in PATIENT_LINKED:
            return self._record(entry)
        if entry.entity == "action":
            return self._action(entry)
        if entry.entity == "conflict":
            if entry.entity_id not in self.known_conflicts:
                return _refused("unknown_conflict",
                                f"The hub has no conflict {entry.entity_id} you may see.")
            self.resolutions.append((str(entry.fields.get("resolution")), entry.actor,
                                     entry.entity_id))
            return Outcome(APPLIED)
        return _refused("unknown_entity", f"The hub does not keep {entry.entity!r} records.")

    def _visible(self, patient_id: uuid.UUID | None) -> tuple[uuid.UUID | None, Outcome | None]:
        if patient_id is None:
            return None, _refused("no_patient", "The change names no patient.")
        canonical = self.aliases.get(patient_id, patient_id)
        if canonical in self.patients or canonical in self.visible:
            return canonical, None
        if canonical in self.keys:
            return None, _refused("patient_not_visible",
                                  f"Patient {canonical} is in caseload "
                                  f"{self.keys[canonical][1]!r}, which you neither follow "
                                  "nor cover.")
        return None, _refused("unknown_patient", f"The hub does not know patient {canonical}.")

    def _patient(self, entry: PushEntry) -> Outcome:
        pid = self.aliases.get(entry.entity_id, entry.entity_id)
        fields = dict(entry.fields)
        keep: frozenset[str] = frozenset()
        row = self.patients.get(pid)
        if row is None and pid in self.keys:
            return _refused("patient_not_visible",
                            f"Patient {pid} is in caseload {self.keys[pid][1]!r}, which you "
                            "neither follow nor cover.")
        if row is None:
            ins = fields.get("ins")
            canonical = self.by_ins.get(ins) if ins else None
            if canonical is not None:
                if canonical not in self.patients:
                    return _refused("ins_in_other_caseload",
                                    f"A patient with INS {ins} is already followed in caseload "
                                    f"{self.keys[canonical][1]!r}, which you neither follow "
                                    "nor cover.")
                self.aliases[pid] = canonical
                self.new_aliases.append((pid, canonical, ins))
                row, keep = self.patients[canonical], KEPT_ON_INS_MERGE
            elif entry.op == "update":
                return _refused("unknown_patient", f"The hub does not know patient {pid}.")
            else:
                caseload = str(fields.get("care_manager") or entry.actor)
                if caseload not in self.caseloads:
                    return _refused("not_your_caseload",
                                    f"You neither follow nor cover caseload {caseload!r}.")
                row = _Row(pid, {}, {}, new=True)
        if not row.new and entry.op in ("create", "import"):
            keep = KEPT_ON_INS_MERGE  # a second registration of someone the hub knows
        trial = _Row(row.id, dict(row.fields), dict(row.clocks), new=row.new)
        conflicts = merge_fields(trial, fields, hlc=entry.hlc, by=entry.actor,
                                 bases=entry.bases, keep=keep)
        caseload = str(trial.fields.get("care_manager") or entry.actor)
        if caseload not in self.caseloads:
            return _refused("not_your_caseload",
                            f"You neither follow nor cover caseload {caseload!r}.")
        ins = trial.fields.get("ins")
        if ins and self.by_ins.get(ins, row.id) != row.id:
            return _refused("ins_taken", f"INS {ins} is already another patient's at the hub.")
        trial.fields.setdefault("care_manager", caseload)
        # Written back even if nothing changed: its new sequence number brings it back to
        # the sender's next pull, which then takes the values that beat hers.
        trial.dirty = True
        self.patients[row.id] = trial
        if ins:
            self.by_ins[ins] = row.id
        self.conflicts.extend(conflicts)
        return Outcome(APPLIED)

    def _record(self, entry: PushEntry) -> Outcome:
        row = self.records.get(entry.entity_id)
        fields = dict(entry.fields)
        pid, refusal = self._visible(_uuid(fields.get("patient_id")) or
                                     (row.patient_id if row else None))
        if refusal is not None:
            return refusal
        assert pid is not None
        fields["patient_id"] = str(pid)
        if row is None:
            row = _Row(entry.entity_id, {}, {}, patient_id=pid, entity=entry.entity, new=True)
            self.records[row.id] = row
        row.patient_id = pid
        self.conflicts.extend(merge_fields(row, fields, hlc=entry.hlc, by=entry.actor,
                                           bases=entry.bases))
        row.dirty = True  # back to the sender's next pull, like a patient
        return Outcome(APPLIED)

    def _action(self, entry: PushEntry) -> Outcome:
        payload = dict(entry.fields)
        pid, refusal = self._visible(_uuid(payload.get("patient_id")))
        if refusal is not None:
            return refusal
        assert pid is not None
        payload["patient_id"] = str(pid)
        amends = _uuid(payload.get("amends_id"))
        if amends is not None and amends not in self.known_actions:
            return _refused("unknown_amended_action",
                            f"The action {amends} this one corrects is not at the hub.")
        self.known_actions[entry.entity_id] = payload
        self.actions.append({"id": str(entry.entity_id), "patient_id": str(pid),
                             "type": payload.get("type"), "at": payload.get("at"),
                             "author": payload.get("author") or entry.actor,
                             "payload": payload, "origin_entry": str(entry.id)})
        return Outcome(APPLIED)

    # -- writing it all
    def _write(self) -> None:
        cur = self.cur
        patients = [r for r in self.patients.values() if r.dirty]
        if patients:
            cur.executemany(
                "INSERT INTO patient (id, ins, caseload, fields, clocks) "
                "VALUES (%s, %s, %s, %s::jsonb, %s::jsonb) ON CONFLICT (id) DO UPDATE SET "
                "ins = EXCLUDED.ins, caseload = EXCLUDED.caseload, fields = EXCLUDED.fields, "
                "clocks = EXCLUDED.clocks, seq = nextval('hub_seq'), updated_at = now()",
                [(r.id, r.fields.get("ins") or None, str(r.fields["care_manager"]),
                  _json(r.fields), _json(r.clocks)) for r in patients])
        if self.new_aliases:
            cur.executemany("INSERT INTO patient_alias (alias, canonical, ins) "
                            "VALUES (%s, %s, %s) ON CONFLICT (alias) DO NOTHING",
                            self.new_aliases)
        records = [r for r in self.records.values() if r.dirty]
        if records:
            cur.executemany(
                "INSERT INTO record (id, entity, patient_id, fields, clocks) "
                "VALUES (%s, %s, %s, %s::jsonb, %s::jsonb) ON CONFLICT (id) DO UPDATE SET "
                "patient_id = EXCLUDED.patient_id, fields = EXCLUDED.fields, "
                "clocks = EXCLUDED.clocks, seq = nextval('hub_seq'), updated_at = now()",
                [(r.id, r.entity, r.patient_id, _json(r.fields), _json(r.clocks))
                 for r in records])
        if self.actions:
            # One JSON document for the whole batch: no per-row round trip, no array quoting.
            cur.execute(
                "INSERT INTO action (id, patient_id, type, at, author, payload, origin_entry) "
                "SELECT id, patient_id, type, at, author, payload, origin_entry "
                "FROM jsonb_to_recordset(%s::jsonb) AS x(id uuid, patient_id uuid, type text, "
                "at timestamptz, author text, payload jsonb, origin_entry uuid) "
                "ON CONFLICT (id) DO NOTHING RETURNING id", (_json(self.actions),))
            self._check_existing({r[0] for r in cur.fetchall()})
        if self.conflicts:
            cur.executemany(
                "INSERT INTO conflict (id, patient_id, entity, entity_id, field, kept_value, "
                "kept_hlc, kept_from, overwritten_value, overwritten_hlc, overwritten_from) "
                "VALUES (%(id)s, %(patient_id)s, %(entity)s, %(entity_id)s, %(field)s, "
                "%(kept)s::jsonb, %(kept_hlc)s, %(kept_from)s, %(lost)s::jsonb, "
                "%(overwritten_hlc)s, %(overwritten_from)s)",
                [c | {"kept": _json(c["kept_value"]), "lost": _json(c["overwritten_value"])}
                 for c in self.conflicts])
        if self.resolutions:
            cur.executemany(
                "UPDATE conflict SET resolution = %s, resolved_by = %s, resolved_at = now(), "
                "seq = nextval('hub_seq') WHERE id = %s AND resolved_at IS NULL",
                self.resolutions)
    def _check_existing(self, inserted: set[uuid.UUID]) -> None:
        """An action id already at the hub: the same action again is fine (a retry),
        another content under that id is refused."""
        existing = [a for a in self.actions if uuid.UUID(a["id"]) not in inserted]
        if not existing:
            return
        self.cur.execute("SELECT id, payload FROM action WHERE id = ANY(%s)",
                         ([uuid.UUID(a["id"]) for a in existing],))
        stored = dict(self.cur.fetchall())
        for action in existing:
            action_id = uuid.UUID(action["id"])
            if _comparable(stored.get(action_id, {})) != _comparable(action["payload"]):
                self.outcomes[uuid.UUID(action["origin_entry"])] = \
                    self.fresh[uuid.UUID(action["origin_entry"])] = _refused(
                        "action_id_taken", f"Another action with id {action_id} is at the hub.")

    def _write_receipts(self) -> None:
        cur = self.cur
        if self.fresh:
            cur.execute(
                "INSERT INTO receipt (entry_id, status, code, reason) "
                "SELECT entry_id, status, code, reason FROM jsonb_to_recordset(%s::jsonb) "
                "AS x(entry_id uuid, status text, code text, reason text) "
                "ON CONFLICT (entry_id) DO NOTHING",
                (_json([{"entry_id": str(i), "status": o.status, "code": o.code,
                         "reason": o.reason} for i, o in self.fresh.items()]),))


def _uuid(value: Any) -> uuid.UUID | None:
    if value is None or isinstance(value, uuid.UUID):
        return value
    return uuid.UUID(str(value))


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _comparable(payload: dict[str, Any]) -> str:
    return _json({k: v for k, v in payload.items() if k not in ("patient_id", "ins")})


def push_batch(conn: psycopg.Connection[Any], entries: Sequence[PushEntry]
               ) -> dict[uuid.UUID, Outcome]:
    """Send one batch in one hub transaction; returns each entry's outcome once committed."""
    with conn.transaction(), conn.cursor() as cur:
        outcomes = _Batch(cur, entries).run()
    return outcomes


# ------------------------------------------------------------------------------- pulling

_SEQ_TABLES = ("patient", "record", "action", "conflict", "receipt")
_PATIENT_COLUMNS = "id, ins, caseload, fields, clocks, seq"
_PAGE_QUERIES = (  # Page attribute, columns, table
    ("patients", _PATIENT_COLUMNS, "patient"),
    ("records", "id, entity, patient_id, fields, clocks, seq", "record"),
    ("actions", "id, patient_id, payload, seq", "action"),
    ("conflicts", "*", "conflict"),
    ("receipts", "entry_id, status, code, reason", "receipt"),
)


def pull_page(conn: psycopg.Connection[Any], *, after: int, limit: int,
              local_patients: Callable[[set[uuid.UUID]], set[uuid.UUID]]) -> Page:
    """The next page of changes, read in one snapshot; `local_patients` says which of a
    set of patient ids the workstation already has (so each record comes with its patient)."""
    # Each table's next `limit` rows by its seq index, then the limit-th smallest of all:
    # every row up to there is in this page, and the page costs O(limit), not O(backlog).
    union = " UNION ALL ".join(
        f"(SELECT seq FROM {t} WHERE seq > %(after)s ORDER BY seq LIMIT %(limit)s)"
        for t in _SEQ_TABLES)
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cur.execute(f"SELECT seq FROM ({union}) s ORDER BY seq", {"after": after,
                                                                  "limit": limit})
        seqs = [int(r["seq"]) for r in cur.fetchall()]
        upto = seqs[limit - 1] if len(seqs) >= limit else (seqs[-1] if seqs else after)
        page = Page(after=after, upto=upto)
        if page.empty:
            return page
        span = {"after": after, "upto": upto}
        for name, columns, table in _PAGE_QUERIES:
            cur.execute(f"SELECT {columns} FROM {table} "  # RLS: only what she may see
                        "WHERE seq > %(after)s AND seq <= %(upto)s ORDER BY seq", span)
            setattr(page, name, cur.fetchall())
        wanted = {r["patient_id"] for r in (*page.records, *page.actions, *page.conflicts)}
        wanted -= {p["id"] for p in page.patients}
        missing = wanted - local_patients(wanted) if wanted else set()
        if missing:
            cur.execute(f"SELECT {_PATIENT_COLUMNS} FROM patient WHERE id = ANY(%s)",
                        (list(missing),))
            page.patients = cur.fetchall() + page.patients
    return page


def save_cursor(conn: psycopg.Connection[Any], *, workstation: str, cursor: int) -> None:
    """Tell the hub where this workstation's pull stopped (for the team's overview)."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("INSERT INTO sync_cursor (workstation, cursor) VALUES (%s, %s) "
                    "ON CONFLICT (member, workstation) DO UPDATE SET cursor = "
                    "greatest(sync_cursor.cursor, EXCLUDED.cursor), at = now()",
                    (workstation, cursor))


def grant_h0001(admin_url: str, user: str) -> None:
    """A member as the h0001 hub knew one (its role, the group, her own caseload)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (user,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(user)))
        conn.execute(sql.SQL("GRANT carehub_member TO {}").format(sql.Identifier(user)))
        conn.execute("INSERT INTO hub_user (name, role_name) VALUES (%s, %s)", (user, user))
        conn.execute("INSERT INTO caseload_member VALUES (%s, %s, 'follows')", (user, user))


def _check_hub(conn: psycopg.Connection[Any], address: HubAddress) -> HubSession:
    with conn.cursor() as cur:
        cur.execute("SELECT caseload FROM caseload_member WHERE member = current_user")
        caseloads = tuple(r[0] for r in cur.fetchall())
    conn.commit()
    return HubSession(user=address.user, role=address.user, follows=caseloads, covers=(),
                      head=hub_head())


def _push(conn: psycopg.Connection[Any], entries: Sequence[PushEntry], *,
          address: HubAddress | None = None) -> dict[uuid.UUID, Outcome]:
    return push_batch(conn, entries)


def _pull(conn: psycopg.Connection[Any], *, after: int, limit: int,
          local_patients: Callable[[set[uuid.UUID]], set[uuid.UUID]],
          address: HubAddress | None = None) -> Page:
    return pull_page(conn, after=after, limit=limit, local_patients=local_patients)


@contextmanager
def direct_path() -> Iterator[None]:
    """carehub.sync.service.sync over the h0001 tables instead of the hub functions."""
    saved = (service.check_hub, service.push_batch, service.pull_page, service.save_cursor)
    service.check_hub, service.push_batch, service.pull_page, service.save_cursor = (  # type: ignore[assignment]
        _check_hub, _push, _pull, save_cursor)
    try:
        yield
    finally:
        service.check_hub, service.push_batch, service.pull_page, service.save_cursor = saved  # type: ignore[assignment]
