"""Setting up the team hub, as its owner: schema migrations, members, revocation, and
the INS collisions a supervisor resolves.

Run by the hub's administrator (`carehub hub ...`), never by a care manager's sync: a
care manager's role holds no privilege on the hub's tables; it calls the hub's functions.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from alembic import command
from psycopg import sql
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from carehub.sync.hub import HubError, connect, parse_hub_url
from carehub.sync.hub_schema import hub_config as _config
from carehub.sync.hub_schema import hub_script

MEMBER_ROLE = "carehub_member"
# Each member role's bounds (migration h0002 sets the same on the roles it finds).
CONNECTION_LIMIT = 4
ROLE_SETTINGS = {"statement_timeout": "60s", "lock_timeout": "5s",
                 "idle_in_transaction_session_timeout": "15s"}
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_.-]{0,62}$")


@dataclass(frozen=True)
class HubMigration:
    before: str | None  # the revision found (None: an empty database)
    head: str
    changes: tuple[str, ...]

    def summary(self) -> str:
        if self.before == self.head and self.changes:
            return f"Hub schema at {self.head}: " + "; ".join(self.changes) + "."
        if self.before == self.head:
            return f"Hub schema at {self.head}: already up to date, nothing changed."
        done = "created" if self.before is None else f"migrated {self.before} -> {self.head}"
        return f"Hub schema at {self.head}: {done}: " + "; ".join(self.changes) + "."


def _revision(cur: psycopg.Cursor[Any]) -> str | None:
    cur.execute("SELECT to_regclass('alembic_version') IS NOT NULL")
    row = cur.fetchone()
    if not row or not row[0]:
        return None
    cur.execute("SELECT version_num FROM alembic_version")
    found = cur.fetchone()
    return str(found[0]) if found else None


def _member_roles(cur: psycopg.Cursor[Any]) -> list[str]:
    cur.execute("SELECT to_regrole(%s) IS NOT NULL", (MEMBER_ROLE,))
    row = cur.fetchone()
    if not row or not row[0]:
        return []
    cur.execute("SELECT m.member::regrole::text FROM pg_auth_members m "
                "WHERE m.roleid = %s::regrole ORDER BY 1", (MEMBER_ROLE,))
    return [str(r[0]) for r in cur.fetchall()]


def _row_counts(cur: psycopg.Cursor[Any]) -> tuple[int, ...]:
    cur.execute("SELECT to_regclass('patient') IS NOT NULL")
    row = cur.fetchone()
    if not row or not row[0]:
        return ()
    counts = []
    for table in ("patient", "record", "action", "conflict", "receipt", "patient_alias"):
        cur.execute(f"SELECT count(*) FROM {table}")
        counted = cur.fetchone()
        counts.append(int(counted[0]) if counted else 0)
    return tuple(counts)


def _lock_database(cur: psycopg.Cursor[Any]) -> bool:
    """Nobody but the owner creates objects or temporary tables in this database. A
    database's own privileges are not carried by a copy (CREATE DATABASE ... TEMPLATE, a
    restore into a new database): checked at every migrate. True if it had to change."""
    cur.execute("SELECT has_database_privilege('public', current_database(), 'CREATE') OR "
                "has_database_privilege('public', current_database(), 'TEMPORARY') OR "
                "has_schema_privilege('public', 'public', 'CREATE')")
    row = cur.fetchone()
    if not row or not row[0]:
        return False
    cur.execute("SELECT current_database()")
    name = cur.fetchone()
    assert name is not None
    cur.execute(sql.SQL("REVOKE CREATE, TEMPORARY ON DATABASE {} FROM PUBLIC").format(
        sql.Identifier(str(name[0]))))
    cur.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    return True


def lock_database(url: str, *, password: str | None = None) -> bool:
    """_lock_database on the hub at `url` (a hub database copied from another)."""
    with _admin(url, password) as conn, conn.transaction(), conn.cursor() as cur:
        return _lock_database(cur)


def migrate_hub(url: str, *, password: str | None = None,
                revision: str = "head") -> HubMigration:
    """Create or upgrade the hub's schema (to the head of migrations/hub, or `revision`),
    in one transaction; says what changed."""
    address = parse_hub_url(url)
    engine = create_engine(
        "postgresql+psycopg://", poolclass=NullPool,
        creator=lambda: connect(address, password or address.password,
                                application_name="carehub-hub-admin", bounded=False))
    try:
        with engine.begin() as conn:
            raw = conn.connection.dbapi_connection
            assert isinstance(raw, psycopg.Connection)
            with raw.cursor() as cur:
                before = _revision(cur)
                rows_before = _row_counts(cur)
            config = _config()
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
            with raw.cursor() as cur:
                after = _revision(cur)
                rows_after = _row_counts(cur)
                members = _member_roles(cur)
                relocked = _lock_database(cur)
    finally:
        engine.dispose()
    assert after is not None
    if rows_before and rows_before != rows_after:
        raise HubError(f"The migration would have changed the hub's rows ({rows_before} -> "
                       f"{rows_after}); it was rolled back.",
                       "La migration aurait modifié les lignes du hub ; elle a été annulée.")
    changes: list[str] = []
    passed = [r.revision for r in hub_script().iterate_revisions(after, before)]
    if "h0002" in passed:
        changes += [
            "members now reach the hub only through hub_session/hub_push/hub_pull/"
            "hub_save_cursor (checked per entry, sequence numbered by the hub)",
            f"{len(members)} member role(s) lost every direct privilege on the hub's "
            "tables, views and sequences",
            "nobody but the owner may create objects or temporary tables in the database",
            "the INS look-up hub_patient_keys was dropped (a same-INS collision goes to "
            "`carehub hub collisions`)",
            f"member roles limited to {CONNECTION_LIMIT} connections each, with statement, "
            "lock and idle-in-transaction timeouts"]
    if relocked and "h0002" not in passed:
        changes.append("CREATE and TEMPORARY on this database taken back from PUBLIC")
    if rows_before and before != after:
        changes.append(f"every row kept ({rows_after[0]} patient(s), {rows_after[2]} "
                       "action(s))")
    if before is None:
        changes.insert(0, "team hub schema created")
    return HubMigration(before=before, head=after, changes=tuple(changes))


def _admin(url: str, password: str | None) -> psycopg.Connection[Any]:
    address = parse_hub_url(url)
    return connect(address, password or address.password,
                   application_name="carehub-hub-admin", bounded=False)


def _take_write_lock(cur: psycopg.Cursor[Any]) -> None:
    """The lock hub_push takes: renumbering rows happens between two pushes, never inside."""
    cur.execute("SELECT 1 FROM hub_write_lock WHERE id = 1 FOR UPDATE")


def _bound_role(cur: psycopg.Cursor[Any], role: str) -> None:
    name = sql.Identifier(role)
    cur.execute(sql.SQL("ALTER ROLE {} CONNECTION LIMIT {}").format(
        name, sql.Literal(CONNECTION_LIMIT)))
    for setting, value in ROLE_SETTINGS.items():
        cur.execute(sql.SQL("ALTER ROLE {} SET {} = {}").format(
            name, sql.Identifier(setting), sql.Literal(value)))


def _check_role(role: str) -> None:
    if not _ROLE_NAME.match(role):
        raise HubError(f"{role!r} is not a usable PostgreSQL role name (lower-case letters, "
                       "digits, _ . -).",
                       f"« {role} » n'est pas un nom de rôle PostgreSQL utilisable.")


def add_member(url: str, *, user: str, role: str | None = None,
               follows: Sequence[str] = (), covers: Sequence[str] = (),
               role_password: str | None = None, password: str | None = None) -> None:
    """Let a care manager sync: her login role, and the caseloads she follows or covers.

    Rows of caseloads she gains get a new hub sequence number, so her next pull brings them.
    """
    role = role or user
    _check_role(role)
    with _admin(url, password) as conn, conn.transaction(), conn.cursor() as cur:
        _take_write_lock(cur)
        cur.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", (role,))
        found = cur.fetchone()
        if found is not None and found[0]:
            raise HubError(f"{role} is a superuser: a member's role must be an ordinary one.",
                           f"{role} est super-utilisateur : le rôle d'un membre doit être "
                           "ordinaire.")
        if found is None:
            cur.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        else:
            cur.execute(sql.SQL("ALTER ROLE {} LOGIN").format(sql.Identifier(role)))
        if role_password is not None:
            cur.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(role_password)))
        cur.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(MEMBER_ROLE),
                                                     sql.Identifier(role)))
        _bound_role(cur, role)
        cur.execute("INSERT INTO hub_user (name, role_name, display_name) VALUES (%s, %s, %s) "
                    "ON CONFLICT (name) DO UPDATE SET role_name = EXCLUDED.role_name, "
                    "active = true, revoked_at = NULL", (user, role, user))
        gained = []
        for kind, caseloads in (("follows", follows), ("covers", covers)):
            for caseload in caseloads:
                cur.execute("INSERT INTO caseload_member (caseload, member, kind) "
                            "VALUES (%s, %s, %s) ON CONFLICT (caseload, member) DO UPDATE "
                            "SET kind = EXCLUDED.kind RETURNING (xmax = 0)",
                            (caseload, role, kind))
                row = cur.fetchone()
                if row and row[0]:
                    gained.append(caseload)
        if gained:
            _renumber_caseloads(cur, gained)


def _renumber_caseloads(cur: psycopg.Cursor[Any], caseloads: list[str]) -> None:
    visible = "patient_id IN (SELECT id FROM patient WHERE caseload = ANY(%(c)s))"
    cur.execute("UPDATE patient SET seq = nextval('hub_seq') WHERE caseload = ANY(%(c)s)",
                {"c": caseloads})
    for table in ("record", "action", "conflict"):
        cur.execute(f"UPDATE {table} SET seq = nextval('hub_seq') WHERE {visible}",
                    {"c": caseloads})


def withdraw_caseloads(url: str, *, role: str, caseloads: Sequence[str],
                       password: str | None = None) -> int:
    """End her following or covering these caseloads (a cover that ends): from her next
    call on, the hub's functions neither give her their changes nor take hers on them.
    Returns how many memberships ended."""
    _check_role(role)
    with _admin(url, password) as conn, conn.transaction(), conn.cursor() as cur:
        cur.execute("DELETE FROM caseload_member WHERE member = %s AND caseload = ANY(%s)",
                    (role, list(caseloads)))
        return cur.rowcount


def revoke_member(url: str, *, role: str, password: str | None = None) -> int:
    """A stolen laptop: the role can no longer log in, loses its caseloads and the member
    group, its hub user is inactive (the functions refuse it), and every session of the
    role is ended, those opened while this runs included. Returns how many were closed."""
    _check_role(role)
    with _admin(url, password) as conn:
        with conn.transaction(), conn.cursor() as cur:
            cur.execute(sql.SQL("ALTER ROLE {} NOLOGIN").format(sql.Identifier(role)))
            cur.execute("SELECT 1 FROM pg_auth_members m WHERE m.roleid = %s::regrole "
                        "AND m.member = %s::regrole", (MEMBER_ROLE, role))
            if cur.fetchone() is not None:
                cur.execute(sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(MEMBER_ROLE),
                                                                sql.Identifier(role)))
            cur.execute("DELETE FROM caseload_member WHERE member = %s", (role,))
            cur.execute("UPDATE hub_user SET active = false, revoked_at = now() "
                        "WHERE role_name = %s", (role,))
        # Committed: no new login can start. A backend that passed its login check just
        # before may show up a moment later, so look until none is seen several times over.
        closed = 0
        quiet = 0
        deadline = time.monotonic() + 30
        while quiet < 5 and time.monotonic() < deadline:
            rows = conn.execute("SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE usename = %s AND pid <> pg_backend_pid()",
                                (role,)).fetchall()
            conn.commit()
            closed += len(rows)
            quiet = 0 if rows else quiet + 1
            time.sleep(0.02)
    return closed


@dataclass(frozen=True)
class Collision:
    id: int
    at: datetime
    member: str
    hub_user: str
    ins: str
    pushed_patient: str
    existing_patient: str
    existing_caseload: str
    resolved_at: datetime | None
    resolved_by: str | None
    resolution: str | None


def list_collisions(url: str, *, unresolved_only: bool = True,
                    password: str | None = None) -> list[Collision]:
    """Patients pushed with an INS the hub holds in a caseload their sender neither follows
    nor covers (refused to her, without saying whose), oldest first."""
    with _admin(url, password) as conn, conn.cursor() as cur:
        cur.execute("SELECT id, at, member, hub_user, ins, pushed_patient::text, "
                    "existing_patient::text, existing_caseload, resolved_at, resolved_by, "
                    "resolution FROM ins_collision "
                    + ("WHERE resolved_at IS NULL " if unresolved_only else "")
                    + "ORDER BY id")
        return [Collision(*row) for row in cur.fetchall()]


def resolve_collisions(url: str, *, ids: Sequence[int], by: str, note: str,
                       password: str | None = None) -> int:
    """Mark collisions resolved (what was done: cover granted, patient handed over...)."""
    if not note.strip():
        raise HubError("Say how the collision was resolved (--note).",
                       "Indiquez comment la collision a été résolue.")
    with _admin(url, password) as conn, conn.transaction(), conn.cursor() as cur:
        cur.execute("UPDATE ins_collision SET resolved_at = now(), resolved_by = %s, "
                    "resolution = %s WHERE id = ANY(%s) AND resolved_at IS NULL RETURNING id",
                    (by, note.strip(), list(ids)))
        done = {int(r[0]) for r in cur.fetchall()}
    unknown = sorted(set(ids) - done)
    if unknown:
        raise HubError(f"No unresolved collision {', '.join(map(str, unknown))}; the others "
                       "were not changed either." if not done else
                       f"No unresolved collision {', '.join(map(str, unknown))}; "
                       f"{len(done)} other(s) resolved.",
                       "Collision introuvable ou déjà résolue.")
    return len(done)
