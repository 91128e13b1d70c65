"""Shared fixtures: an isolated keyring and data folder per test, a ready database."""

from __future__ import annotations

import itertools
import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# Before Qt is imported anywhere: no display in CI.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["PYTHON_KEYRING_BACKEND"] = "keyrings.alt.file.PlaintextKeyring"

from sqlalchemy import text

from carehub.db import Database, create_database, open_database
from carehub.directory.communes import ensure_communes
from carehub.keystore import KeyFileStore, key_store
from carehub.sync.hub_admin import add_member, lock_database, migrate_hub
from tests.hub_server import PgServer


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets its own keyring file and user data folder, and no inherited choices."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    for name in ("CAREHUB_DB", "CAREHUB_USER", "CAREHUB_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A migrated database with the communes loaded, built once and copied per test."""
    folder = tmp_path_factory.mktemp("template")
    key_file = folder / "key"
    path = folder / "carehub.db"
    database = create_database(path, KeyFileStore(key_file))
    with database.transaction() as session:
        ensure_communes(session)
    database.close()
    return path, key_file.read_text().strip()


@pytest.fixture
def db_path(tmp_path: Path, template_db: tuple[Path, str]) -> Path:
    """A fresh copy of the template database whose key is in this test's keyring."""
    source, key = template_db
    target = tmp_path / "data" / "carehub.db"
    target.parent.mkdir()
    shutil.copy(source, target)
    shutil.copy(source.with_name(source.name + ".keycheck"),
                target.with_name(target.name + ".keycheck"))
    key_store().put(target, key)
    return target


@pytest.fixture
def db(db_path: Path) -> Iterator[Database]:
    database = open_database(db_path, key_store())
    yield database
    database.close()


# ------------------------------------------------------------------ the team hub (PostgreSQL)

@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One PostgreSQL server for the whole run, on a Unix socket in a temporary folder."""
    server = PgServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def hub_template(pg_server: PgServer) -> str:
    """A hub database migrated once; each test's hub is a copy of it."""
    pg_server.execute("CREATE DATABASE hub_template")
    migrate_hub(pg_server.url("postgres", "hub_template"))
    return "hub_template"


@dataclass
class Hub:
    server: PgServer
    name: str

    @property
    def admin_url(self) -> str:
        return self.server.url("postgres", self.name)

    def url(self, role: str) -> str:
        return self.server.url(role, self.name)

    def grant(self, user: str, *, follows: Sequence[str] = (), covers: Sequence[str] = (),
              role: str | None = None) -> None:
        add_member(self.admin_url, user=user, role=role, follows=follows, covers=covers)

    def query(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        return self.server.query(sql, params, database=self.name)

    def count(self, table: str) -> int:
        return int(self.query(f"SELECT count(*) FROM {table}")[0][0])


_hub_numbers = itertools.count(1)


@pytest.fixture
def hub(pg_server: PgServer, hub_template: str) -> Iterator[Hub]:
    """A fresh hub database for this test (a copy of the migrated template)."""
    name = f"hub_{os.getpid()}_{next(_hub_numbers)}"
    pg_server.execute(f"CREATE DATABASE {name} TEMPLATE {hub_template}")
    lock_database(pg_server.url("postgres", name))  # a copy does not carry the database's ACL
    yield Hub(pg_server, name)
    pg_server.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture
def workstation(tmp_path: Path, template_db: tuple[Path, str]
                ) -> Iterator[Callable[[str], Database]]:
    """Open a fresh local database per name: one nurse's workstation each."""
    opened: list[Database] = []
    source, key = template_db

    def make(name: str) -> Database:
        target = tmp_path / "ws" / name / "carehub.db"
        target.parent.mkdir(parents=True)
        shutil.copy(source, target)
        shutil.copy(source.with_name(source.name + ".keycheck"),
                    target.with_name(target.name + ".keycheck"))
        key_store().put(target, key)
        database = open_database(target, key_store())
        # A workstation's clock node is its own, not the template's.
        with database.transaction() as session:
            session.execute(text("UPDATE sync_meta SET value = :v WHERE key = 'node'"),
                            {"v": uuid.uuid4().hex[:12]})
        opened.append(database)
        return database

    yield make
    for database in opened:
        database.close()
