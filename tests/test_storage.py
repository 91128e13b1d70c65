"""Storage: encryption at rest, the key in the keyring, and every way opening can fail.

Each failure must say what is wrong (English and French) and leave the file untouched.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text

from carehub.caseload.services import PatientInput, create_patient, list_patients
from carehub.db import Database, create_database, default_db_path, open_database
from carehub.errors import KeyStoreError, StorageError
from carehub.keystore import KeyFileStore, key_store


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def _add_patient(database: Database) -> None:
    with database.transaction() as session:
        create_patient(session, data=PatientInput(
            birth_name="Petit", given_names="Louis", sex="M", birth_date="1941-07-14"),
            actor="alice")


def _checkpoint(database: Database) -> None:
    with database.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    database.close()


def test_default_location_is_the_user_data_folder(tmp_path: Path) -> None:
    assert default_db_path() == tmp_path / "xdg-data" / "CareHub" / "carehub.db"


def test_new_database_is_encrypted_with_a_key_kept_only_in_the_keyring(tmp_path: Path) -> None:
    path = tmp_path / "new" / "carehub.db"
    database = create_database(path, key_store())
    _add_patient(database)
    _checkpoint(database)
    key = key_store().get(path)
    assert key is not None and len(bytes.fromhex(key)) == 32
    for file in path.parent.iterdir():
        content = file.read_bytes()
        assert not content.startswith(b"SQLite format 3")
        assert key.encode() not in content.lower() and b"Petit" not in content


def test_database_uses_wal_and_foreign_keys(db: Database) -> None:
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_each_database_gets_its_own_random_key(tmp_path: Path) -> None:
    first, second = tmp_path / "a.db", tmp_path / "b.db"
    create_database(first, key_store()).close()
    create_database(second, key_store()).close()
    assert key_store().get(first) != key_store().get(second)


def test_init_refuses_to_overwrite_an_existing_database(db_path: Path) -> None:
    before = _digest(db_path)
    with pytest.raises(StorageError, match="already exists"):
        create_database(db_path, key_store())
    assert _digest(db_path) == before


def test_wrong_key_is_reported_and_file_untouched(db_path: Path) -> None:
    before, files = _digest(db_path), _files(db_path.parent)
    key_store().put(db_path, "ab" * 32)
    with pytest.raises(StorageError, match="Wrong encryption key") as caught:
        open_database(db_path, key_store())
    assert "Clé de chiffrement incorrecte" in caught.value.message_fr
    assert _digest(db_path) == before and _files(db_path.parent) == files


def test_wrong_key_without_key_check_file_still_refused(db_path: Path) -> None:
    db_path.with_name(db_path.name + ".keycheck").unlink()
    before = _digest(db_path)
    key_store().put(db_path, "ab" * 32)
    with pytest.raises(StorageError, match="wrong key, or the file is damaged"):
        open_database(db_path, key_store())
    assert _digest(db_path) == before


def test_missing_key_is_reported(db_path: Path) -> None:
    key_store().remove(db_path)
    before = _digest(db_path)
    with pytest.raises(StorageError, match=r"key of .* is missing") as caught:
        open_database(db_path, key_store())
    assert "introuvable" in caught.value.message_fr
    assert _digest(db_path) == before


def test_no_usable_keyring_is_reported_and_init_creates_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import keyring
    from keyring.backends.fail import Keyring as NoKeyring

    # What a headless machine without a Secret Service gets.
    monkeypatch.setattr(keyring.core, "_keyring_backend", NoKeyring())
    path = tmp_path / "nokeyring" / "carehub.db"
    with pytest.raises(KeyStoreError, match="No usable keyring") as caught:
        create_database(path, key_store())
    assert "--key-file" in caught.value.message and "trousseau" in caught.value.message_fr
    assert not path.exists()


def test_explicit_key_file_is_private_to_its_owner(tmp_path: Path) -> None:
    key_file = tmp_path / "secret" / "carehub.key"
    path = tmp_path / "carehub.db"
    create_database(path, KeyFileStore(key_file)).close()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    open_database(path, KeyFileStore(key_file)).close()


def test_missing_database_is_reported(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="carehub init"):
        open_database(tmp_path / "absent.db", key_store())
    assert not (tmp_path / "absent.db").exists()


def test_truncated_file_is_reported_and_untouched(db: Database, db_path: Path) -> None:
    _add_patient(db)
    _checkpoint(db)
    with db_path.open("r+b") as handle:
        handle.truncate(db_path.stat().st_size // 2 + 100)
    before = _digest(db_path)
    with pytest.raises(StorageError, match=r"damaged .*truncated"):
        open_database(db_path, key_store())
    assert _digest(db_path) == before


def test_truncated_at_a_page_boundary_is_reported(db: Database, db_path: Path) -> None:
    _checkpoint(db)
    with db_path.open("r+b") as handle:
        handle.truncate(db_path.stat().st_size - 4096 * 3)
    with pytest.raises(StorageError, match="truncated"):
        open_database(db_path, key_store())


def test_damaged_first_page_is_told_apart_from_a_wrong_key(db: Database, db_path: Path) -> None:
    _checkpoint(db)
    with db_path.open("r+b") as handle:
        handle.seek(100)
        handle.write(os.urandom(64))
    before = _digest(db_path)
    with pytest.raises(StorageError, match="is damaged") as caught:
        open_database(db_path, key_store())
    assert "endommagée" in caught.value.message_fr
    assert _digest(db_path) == before


def test_damage_found_while_reading_becomes_a_clear_error(db: Database, db_path: Path) -> None:
    for _ in range(40):
        _add_patient(db)
    _checkpoint(db)
    size = db_path.stat().st_size
    with db_path.open("r+b") as handle:  # scribble over every page but the first
        for offset in range(4096, size, 4096):
            handle.seek(offset + 200)
            handle.write(os.urandom(32))
    with pytest.raises(StorageError, match="is damaged"):
        database = open_database(db_path, key_store(), migrate=False)
        with database.session() as session:
            list_patients(session)


def test_database_from_a_newer_version_is_refused_untouched(db: Database, db_path: Path) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    _checkpoint(db)
    before = _digest(db_path)
    with pytest.raises(StorageError, match="newer version of CareHub") as caught:
        open_database(db_path, key_store())
    assert "plus récente" in caught.value.message_fr
    assert _digest(db_path) == before


NEXT_MIGRATION = '''
import sqlalchemy as sa
from alembic import op

revision = "9001"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("app_user", sa.Column("nickname", sa.String(40)))
    {extra}


def downgrade() -> None:
    op.drop_column("app_user", "nickname")
'''


def _with_next_migration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: str) -> None:
    import carehub.db
    from carehub.paths import migrations_dir

    folder = tmp_path / "migrations"
    shutil.copytree(migrations_dir(), folder, ignore=shutil.ignore_patterns("__pycache__"))
    head = ScriptDirectory(str(folder)).get_current_head()  # not the highest file number
    (folder / "versions" / "9001_next.py").write_text(
        NEXT_MIGRATION.format(head=head, extra=extra))
    monkeypatch.setattr(carehub.db, "migrations_dir", lambda: folder)


def _columns(database: Database) -> list[str]:
    with database.engine.connect() as conn:
        return [row[1] for row in conn.exec_driver_sql("PRAGMA table_info(app_user)")]


def test_migration_at_start_up_runs_after_an_encrypted_backup(
        db: Database, db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _add_patient(db)
    db.close()
    _with_next_migration(tmp_path, monkeypatch, extra="pass")
    migrated = open_database(db_path, key_store())
    assert "nickname" in _columns(migrated)
    migrated.close()
    [backup] = (db_path.parent / "backups").iterdir()
    assert not backup.read_bytes().startswith(b"SQLite format 3")
    key_store().put(backup, key_store().get(db_path) or "")
    old = open_database(backup, key_store(), migrate=False)
    assert "nickname" not in _columns(old)
    with old.session() as session:
        assert [p["birth_name"] for p in list_patients(session)] == ["Petit"]


def test_failed_migration_changes_nothing(
        db: Database, db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db.close()
    _with_next_migration(tmp_path, monkeypatch, extra="raise RuntimeError('disk full')")
    with pytest.raises(StorageError, match=r"failed .*disk full.*nothing was changed"):
        open_database(db_path, key_store())
    database = open_database(db_path, key_store(), migrate=False)
    assert "nickname" not in _columns(database)
    database.close()


def test_a_failed_write_leaves_nothing_behind(db: Database) -> None:
    with pytest.raises(RuntimeError), db.transaction() as session:
        create_patient(session, data=PatientInput(
            birth_name="Roux", given_names="Anne", sex="F", birth_date="1950-01-01"),
            actor="alice")
        raise RuntimeError("power cut")
    with db.session() as session:
        assert list_patients(session) == []


def test_a_plain_text_keyring_is_never_picked_up_silently(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import keyring
    from keyrings.alt.file import PlaintextKeyring

    monkeypatch.delenv("PYTHON_KEYRING_BACKEND")
    monkeypatch.setattr(keyring.core, "_keyring_backend", PlaintextKeyring())
    path = tmp_path / "carehub.db"
    with pytest.raises(KeyStoreError, match="does not protect secrets"):
        create_database(path, key_store())
    assert not path.exists()
