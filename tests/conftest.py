"""Shared fixtures: an isolated keyring and data folder per test, a ready database."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

# Before Qt is imported anywhere: no display in CI.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["PYTHON_KEYRING_BACKEND"] = "keyrings.alt.file.PlaintextKeyring"

from carehub.db import Database, create_database, open_database
from carehub.directory.communes import ensure_communes
from carehub.keystore import KeyFileStore, key_store


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
