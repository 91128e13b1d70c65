"""Setting up the team hub, as its owner: schema migrations, members, revocation.

Run by the hub's administrator (`carehub hub ...`), never by a care manager's sync: a
care manager's role may read and write rows, not change the schema or the team.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import psycopg
from alembic import command
from psycopg import sql
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from carehub.sync.hub import SEQ_LOCK, HubError, connect, parse_hub_url
from carehub.sync.hub_schema import hub_config as _config
from carehub.sync.hub_schema import hub_script

MEMBER_ROLE = "carehub_member"
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_.-]{0,62}$")


def migrate_hub(url: str, *, password: str | None = None) -> str:
    """Create or upgrade the hub's schema to the head of migrations/hub; returns it."""
    address = parse_hub_url(url)
    engine = create_engine(
        "postgresql+psycopg://", poolclass=NullPool,
        creator=lambda: connect(address, password or address.password,
                                application_name="carehub-hub-admin"))
    try:
        with engine.begin() as conn:
            config = _config()
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
    finally:
        engine.dispose()
    head = hub_script().get_current_head()
    assert head is not None
    return head


def _admin(url: str, password: str | None) -> psycopg.Connection[Any]:
    address = parse_hub_url(url)
    return connect(address, password or address.password,
                   application_name="carehub-hub-admin")


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
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (SEQ_LOCK,))
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
        if cur.fetchone() is None:
            cur.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        else:
            cur.execute(sql.SQL("ALTER ROLE {} LOGIN").format(sql.Identifier(role)))
        if role_password is not None:
            cur.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(role_password)))
        cur.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(MEMBER_ROLE),
                                                     sql.Identifier(role)))
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


def revoke_member(url: str, *, role: str, password: str | None = None) -> int:
    """A stolen laptop: the role can no longer log in, loses its caseloads, and its open
    sessions are closed. Returns how many sessions were closed."""
    _check_role(role)
    with _admin(url, password) as conn, conn.transaction(), conn.cursor() as cur:
        cur.execute(sql.SQL("ALTER ROLE {} NOLOGIN").format(sql.Identifier(role)))
        cur.execute("DELETE FROM caseload_member WHERE member = %s", (role,))
        cur.execute("UPDATE hub_user SET active = false, revoked_at = now() "
                    "WHERE role_name = %s", (role,))
        cur.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE usename = %s AND pid <> pg_backend_pid()", (role,))
        row = cur.fetchone()
    return int(row[0]) if row else 0
