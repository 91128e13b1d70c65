"""The team hub (PostgreSQL): connecting, pushing a batch of outbox entries, pulling a page.

Everything here speaks to the hub through psycopg 3 on the care manager's own PostgreSQL
role, which holds no privilege on the hub's tables: it calls the hub's functions
(hub_session, hub_push, hub_pull, hub_save_cursor, migration h0002), which decide from the
connected role alone what she may read and write, check every entry and number the
changes in commit order (a pull that has seen sequence N has seen everything below N).
What comes back is checked here too: a malformed answer is a HubError, never a traceback.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy.engine import URL, make_url

from carehub.errors import CareHubError

PATIENT_LINKED = frozenset({"related_person", "consent", "reminder"})
APPLIED = "applied"
REFUSED = "refused"
HLC_PATTERN = re.compile(r"^[0-9]{13}\.[0-9]{6}\.[A-Za-z0-9_.-]{1,64}$")
# The sync session's own bounds (the hub's administrator sets the same on member roles):
# a stuck statement, lock or open transaction delays nobody for more than seconds.
SYNC_OPTIONS = ("-c statement_timeout=60000 -c lock_timeout=5000 "
                "-c idle_in_transaction_session_timeout=15000")


class HubError(CareHubError):
    """The hub cannot be reached, refuses the credentials, or is not set up."""


# ------------------------------------------------------------------------------ connecting

@dataclass(frozen=True)
class HubAddress:
    conninfo: str  # the libpq URI, as given (its password, if any, removed)
    key: str  # the URL without password: names the hub in local state and the keyring
    user: str
    password: str | None  # a password written in the URL


def parse_hub_url(url: str) -> HubAddress:
    """A standard PostgreSQL URI (`postgresql://user@host:port/db`, `?host=/dir` allowed)."""
    try:
        parsed = make_url(url.replace("postgresql+psycopg://", "postgresql://", 1))
    except Exception as exc:
        raise HubError(f"{url!r} is not a PostgreSQL URL (postgresql://user@host/db): {exc}",
                       f"« {url} » n'est pas une adresse PostgreSQL "
                       "(postgresql://utilisateur@hôte/base).") from exc
    if parsed.drivername not in ("postgresql", "postgres"):
        raise HubError(f"{url!r} is not a PostgreSQL URL (postgresql://user@host/db).",
                       f"« {url} » n'est pas une adresse PostgreSQL "
                       "(postgresql://utilisateur@hôte/base).")
    if not parsed.username or not parsed.database:
        raise HubError(f"The hub URL {url!r} must name the user and the database "
                       "(postgresql://user@host/db).",
                       f"L'adresse du hub « {url} » doit indiquer l'utilisateur et la base "
                       "(postgresql://utilisateur@hôte/base).")
    bare = URL.create("postgresql", username=parsed.username, host=parsed.host,
                      port=parsed.port, database=parsed.database, query=parsed.query)
    key = bare.render_as_string(hide_password=False)
    return HubAddress(conninfo=key, key=key, user=parsed.username,
                      password=parsed.password)


def connect(address: HubAddress, password: str | None, *,
            application_name: str = "carehub-sync",
            bounded: bool = True) -> psycopg.Connection[Any]:
    """A connection as the care manager's role, or a HubError saying why not.

    `bounded` (a member's sync): statement, lock and idle-in-transaction timeouts."""
    try:
        if bounded:
            return psycopg.connect(address.conninfo, password=password, connect_timeout=5,
                                   application_name=application_name, options=SYNC_OPTIONS)
        return psycopg.connect(address.conninfo, password=password, connect_timeout=5,
                               application_name=application_name)
    except psycopg.OperationalError as exc:
        raise connection_error(address, exc) from exc


def connection_error(address: HubAddress, exc: BaseException) -> HubError:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    lowered = str(exc).lower()
    if any(s in lowered for s in ("password authentication failed", "not permitted to log in",
                                  "does not exist", "no password supplied",
                                  "authentication failed")):
        return HubError(
            f"The hub {address.key} refused the credentials of {address.user} ({text}). "
            "Ask the hub's administrator; nothing was changed here.",
            f"Le hub a refusé les identifiants de {address.user}. Demandez à "
            "l'administrateur du hub ; rien n'a été modifié ici.")
    if "terminat" in lowered or "server closed the connection" in lowered \
            or "consuming input failed" in lowered:
        return HubError(
            f"The connection to the hub {address.key} was cut ({text}). What the hub had "
            "not committed will be sent again at the next sync.",
            "La connexion au hub a été coupée. Ce qui n'a pas été enregistré par le hub "
            "sera renvoyé à la prochaine synchronisation.")
    return HubError(
        f"The hub {address.key} cannot be reached ({text}). Work goes on offline; "
        "changes wait in the outbox.",
        "Le hub est injoignable. Le travail continue hors ligne ; les modifications "
        "attendent dans la file d'envoi.")


def hub_head() -> str:
    from carehub.sync.hub_schema import hub_script  # alembic loads when a hub is checked

    head = hub_script().get_current_head()
    assert head is not None
    return head


@dataclass(frozen=True)
class HubSession:
    """Who the hub says the connected role is (hub_session())."""

    user: str  # her CareHub user name: the author of everything she pushes
    role: str
    follows: tuple[str, ...]
    covers: tuple[str, ...]
    head: str

    @property
    def caseloads(self) -> tuple[str, ...]:
        return tuple(sorted({*self.follows, *self.covers}))


def malformed(address: HubAddress, what: str) -> HubError:
    return HubError(
        f"The hub {address.key} sent a malformed answer ({what}); nothing of it was kept "
        "here. Tell the hub's administrator.",
        "Le hub a envoyé une réponse mal formée ; rien n'en a été gardé ici. Prévenez "
        "l'administrateur du hub.")


def _schema_found(conn: psycopg.Connection[Any]) -> str:
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT version_num FROM alembic_version")
            row = cur.fetchone()
        conn.commit()
        return str(row[0]) if row else "none"
    except psycopg.Error:
        conn.rollback()
        return "none"


def check_hub(conn: psycopg.Connection[Any], address: HubAddress) -> HubSession:
    """The hub's schema is ours and the role is an active member with caseloads."""
    head = hub_head()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT hub_session()")
            row = cur.fetchone()
        conn.commit()
    except psycopg.errors.UndefinedFunction:
        conn.rollback()
        row = None
    except psycopg.errors.InsufficientPrivilege as exc:
        conn.rollback()
        raise not_a_member(address) from exc
    found = None
    if row is not None:
        doc = row[0]
        try:
            session = HubSession(user=str(doc["user"]), role=str(doc["role"]),
                                 follows=tuple(str(c) for c in doc["follows"]),
                                 covers=tuple(str(c) for c in doc["covers"]),
                                 head=str(doc["head"]))
        except (KeyError, TypeError) as exc:
            raise malformed(address, "who you are") from exc
        if session.head == head:
            if not session.caseloads:
                raise not_a_member(address)
            return session
        found = session.head
    found = found or _schema_found(conn)
    raise HubError(
        f"The hub {address.key} is not set up for this CareHub (schema {found}, "
        f"expected {head}). Its administrator runs `carehub hub migrate`.",
        "Le hub n'est pas prêt pour cette version de CareHub. Son administrateur doit "
        "lancer « carehub hub migrate ».")


def not_a_member(address: HubAddress) -> HubError:
    return HubError(
        f"{address.user} follows or covers no caseload at the hub {address.key}: access was "
        "not granted or was revoked. Nothing was changed here.",
        f"{address.user} ne suit ni ne remplace aucune file active sur le hub : accès non "
        "accordé ou révoqué. Rien n'a été modifié ici.")


# ------------------------------------------------------------------------------- pushing

@dataclass
class PushEntry:
    id: uuid.UUID
    entity: str
    entity_id: uuid.UUID
    op: str
    actor: str
    hlc: str
    fields: dict[str, Any]  # patient and linked records: field values; actions: the payload
    bases: dict[str, str | None] = field(default_factory=dict)  # clock each field replaced

    def document(self) -> dict[str, Any]:
        return {"id": str(self.id), "entity": self.entity, "entity_id": str(self.entity_id),
                "op": self.op, "actor": self.actor, "hlc": self.hlc, "fields": self.fields,
                "bases": self.bases}


@dataclass(frozen=True)
class Outcome:
    status: str  # applied | refused
    code: str | None = None
    reason: str | None = None

    @property
    def applied(self) -> bool:
        return self.status == APPLIED


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def push_batch(conn: psycopg.Connection[Any], entries: Sequence[PushEntry], *,
               address: HubAddress | None = None) -> dict[uuid.UUID, Outcome]:
    """Send one batch through hub_push (one hub transaction); each entry's outcome."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SELECT hub_push(%s::json)", (_json([e.document() for e in entries]),))
        row = cur.fetchone()
    where = address or HubAddress("?", "?", "?", None)
    receipts = row[0] if row else None
    if not isinstance(receipts, list) or len(receipts) != len(entries):
        raise malformed(where, "the receipts of a push")
    outcomes: dict[uuid.UUID, Outcome] = {}
    for entry, receipt in zip(entries, receipts, strict=True):
        if not isinstance(receipt, dict) or receipt.get("id") != str(entry.id) \
                or receipt.get("status") not in (APPLIED, REFUSED):
            raise malformed(where, "the receipts of a push")
        outcomes[entry.id] = Outcome(receipt["status"], _text(receipt.get("code")),
                                     _text(receipt.get("reason")))
    return outcomes


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


# ------------------------------------------------------------------------------- pulling

@dataclass
class Page:
    """Everything the hub changed in (after, upto] that this role may see."""

    after: int
    upto: int
    patients: list[dict[str, Any]] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    receipts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.upto <= self.after


def _clock(value: Any) -> str:
    if not isinstance(value, str) or not HLC_PATTERN.match(value):
        raise ValueError(f"clock {value!r}")
    return value


def _clocks(value: Any) -> dict[str, dict[str, str]]:
    if not isinstance(value, dict):
        raise ValueError("clocks")
    out = {}
    for name, clock in value.items():
        if not isinstance(clock, dict):
            raise ValueError(f"clock of {name}")
        out[str(name)] = {"hlc": _clock(clock.get("hlc")), "by": str(clock.get("by") or "")}
    return out


def _fields(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError("fields")
    return value


def _moment(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


def _patient_row(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": uuid.UUID(row["id"]), "ins": row.get("ins"), "caseload": str(row["caseload"]),
            "fields": _fields(row["fields"]), "clocks": _clocks(row["clocks"]),
            "seq": int(row["seq"])}


def _page(doc: Any, after: int) -> tuple[Page, list[dict[str, Any]]]:
    upto = int(doc["upto"])
    if upto < after:
        raise ValueError("a page that goes back")
    page = Page(after=after, upto=upto)
    page.patients = [_patient_row(r) for r in doc["patients"]]
    page.records = [{"id": uuid.UUID(r["id"]), "entity": str(r["entity"]),
                     "patient_id": uuid.UUID(r["patient_id"]), "fields": _fields(r["fields"]),
                     "clocks": _clocks(r["clocks"]), "seq": int(r["seq"])}
                    for r in doc["records"]]
    page.actions = [{"id": uuid.UUID(r["id"]), "patient_id": uuid.UUID(r["patient_id"]),
                     "payload": _fields(r["payload"]), "seq": int(r["seq"])}
                    for r in doc["actions"]]
    page.conflicts = [{
        "id": uuid.UUID(r["id"]), "patient_id": uuid.UUID(r["patient_id"]),
        "entity": str(r["entity"]), "entity_id": uuid.UUID(r["entity_id"]),
        "field": str(r["field"]), "kept_value": r.get("kept_value"),
        "kept_hlc": _clock(r["kept_hlc"]), "kept_from": str(r.get("kept_from") or ""),
        "overwritten_value": r.get("overwritten_value"),
        "overwritten_hlc": None if r.get("overwritten_hlc") is None
        else _clock(r["overwritten_hlc"]),
        "overwritten_from": str(r.get("overwritten_from") or ""), "at": _moment(r["at"]),
        "resolved_at": _moment(r.get("resolved_at")), "resolved_by": r.get("resolved_by"),
        "resolution": r.get("resolution"), "seq": int(r["seq"])} for r in doc["conflicts"]]
    page.receipts = [{"entry_id": uuid.UUID(r["entry_id"]), "status": str(r["status"]),
                      "code": _text(r.get("code")), "reason": _text(r.get("reason"))}
                     for r in doc["receipts"]]
    if any(r["status"] not in (APPLIED, REFUSED) for r in page.receipts):
        raise ValueError("receipt status")
    referenced = [_patient_row(r) for r in doc["referenced"]]
    return page, referenced


def pull_page(conn: psycopg.Connection[Any], *, after: int, limit: int,
              local_patients: Callable[[set[uuid.UUID]], set[uuid.UUID]],
              address: HubAddress | None = None) -> Page:
    """The next page of changes (hub_pull, one snapshot); `local_patients` says which of a
    set of patient ids the workstation already has (so each record comes with its patient)."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cur.execute("SELECT hub_pull(%s, %s)", (after, limit))
        row = cur.fetchone()
    try:
        page, referenced = _page(row[0] if row else None, after)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise malformed(address or HubAddress("?", "?", "?", None),
                        f"a pulled page: {exc}") from exc
    if referenced:
        wanted = {p["id"] for p in referenced}
        missing = wanted - local_patients(wanted)
        page.patients = [p for p in referenced if p["id"] in missing] + page.patients
    return page


def save_cursor(conn: psycopg.Connection[Any], *, workstation: str, cursor: int) -> None:
    """Tell the hub where this workstation's pull stopped (for the team's overview)."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SELECT hub_save_cursor(%s, %s)", (workstation, cursor))
