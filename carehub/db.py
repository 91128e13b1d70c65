"""The local database: SQLCipher-encrypted SQLite, WAL, foreign keys, Alembic migrations.

Opening checks everything that can be wrong before anything is written: a missing file,
a missing or wrong key, a truncated or damaged file, a schema from a newer CareHub.
Each gets a StorageError with an English and a French message, and the file is untouched.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs
import sqlcipher3
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DatabaseError as SADatabaseError
from sqlalchemy.pool import ConnectionPoolEntry, QueuePool
from sqlmodel import Session

from carehub.errors import StorageError
from carehub.keystore import KeyStore
from carehub.paths import migrations_dir
from carehub.timeutil import utcnow

DB_FILE_NAME = "carehub.db"
# session.info key naming the acting user: the services check what she may see
# (carehub/users/access.py); absent for internal jobs, migrations and imports.
ACTING_USER = "carehub_user"
_KEY_CHECK_LABEL = b"carehub key check v1"


def default_db_path() -> Path:
    """CAREHUB_DB, else carehub.db in the platform's user data folder."""
    if os.environ.get("CAREHUB_DB"):
        return Path(os.environ["CAREHUB_DB"])
    return Path(platformdirs.user_data_dir("CareHub", appauthor=False)) / DB_FILE_NAME


def _key_check_path(path: Path) -> Path:
    return path.with_name(path.name + ".keycheck")


def _key_check(key: str) -> str:
    # A one-way fingerprint of the key: tells a wrong key from a damaged file.
    return hmac.new(bytes.fromhex(key), _KEY_CHECK_LABEL, hashlib.sha256).hexdigest()


def _connect(path: Path, key: str, *, create: bool = False) -> Any:
    mode = "rwc" if create else "rw"
    conn = sqlcipher3.dbapi2.connect(
        f"file:{path}?mode={mode}", uri=True, check_same_thread=False
    )
    conn.execute("PRAGMA cipher_log_level = NONE")
    # A raw 256-bit key: no key derivation on every connection (start-up stays fast).
    conn.execute(f"PRAGMA key = \"x'{key}'\"")
    return conn


def _engine(path: Path, key: str) -> Engine:
    engine = create_engine(
        "sqlite://", creator=lambda: _connect(path, key), module=sqlcipher3.dbapi2,
        # The connection used last is handed out again: its page cache (decrypted pages)
        # is warm, where a round-robin over the pool read and decrypted them afresh.
        poolclass=QueuePool, pool_size=4, max_overflow=4, pool_use_lifo=True,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy, not the driver, open transactions, so DDL is transactional too.
        dbapi_conn.isolation_level = None
        dbapi_conn.execute("PRAGMA foreign_keys = ON")
        dbapi_conn.execute("PRAGMA synchronous = NORMAL")
        dbapi_conn.execute("PRAGMA busy_timeout = 5000")
        # Up to 64 MB of decrypted pages: the 50k-patient caseload stays in memory, so search
        # as you type does not decrypt the patient table again on every keystroke.
        dbapi_conn.execute("PRAGMA cache_size = -65536")

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")

    return engine


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    return config


def _damaged(path: Path, detail: str) -> StorageError:
    return StorageError(
        f"The database {path} is damaged ({detail}). Restore it from a backup "
        "(see the backups folder beside it); the file was left as it is.",
        f"La base de données {path} est endommagée ({detail}). Restaurez-la depuis une "
        "sauvegarde (dossier backups à côté) ; le fichier n'a pas été modifié.",
    )


@dataclass
class Database:
    """An open, migrated local database."""

    path: Path
    engine: Engine
    acting_user: str | None = None  # rides on every session (session.info[ACTING_USER])

    def _session(self) -> Session:
        session = Session(self.engine, expire_on_commit=False)
        if self.acting_user is not None:
            session.info[ACTING_USER] = self.acting_user
        return session

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session for reading; nothing it does is committed."""
        with self._session() as session:
            try:
                yield session
            except SADatabaseError as exc:
                raise _damaged(self.path, str(exc.orig)) from exc

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One write transaction: all of it lands, or none of it."""
        with self._session() as session:
            try:
                with session.begin():
                    yield session
            except SADatabaseError as exc:
                raise _damaged(self.path, str(exc.orig)) from exc

    def close(self) -> None:
        self.engine.dispose()


def create_database(path: Path, store: KeyStore) -> Database:
    """A new encrypted database and its key; refuses to overwrite an existing file."""
    if path.exists():
        raise StorageError(
            f"A database already exists at {path}; it was left as it is.",
            f"Une base de données existe déjà à l'emplacement {path} ; elle n'a pas été modifiée.",
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    store.put(path, key)  # fails first when there is no keyring: nothing else is created
    try:
        raw = _connect(path, key, create=True)
        raw.execute("PRAGMA journal_mode = WAL")  # persistent: recorded in the file
        raw.close()
        engine = _engine(path, key)
        _upgrade(engine)
        _key_check_path(path).write_text(_key_check(key) + "\n", encoding="ascii")
    except BaseException:
        store.remove(path)
        for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            leftover.unlink(missing_ok=True)
        raise
    return Database(path=path, engine=engine)


def open_database(path: Path, store: KeyStore, *, migrate: bool = True) -> Database:
    """Open an existing database after checking file, key and schema version."""
    _check_file(path)
    key = _read_key(path, store)
    _check_key(path, key)
    engine = _engine(path, key)
    try:
        _check_readable(path, engine)
        if migrate:
            _migrate_with_backup(path, key, engine)
        else:
            _check_schema_known(path, engine)
    except BaseException:
        engine.dispose()
        raise
    return Database(path=path, engine=engine)


def _check_file(path: Path) -> None:
    if not path.exists():
        raise StorageError(
            f"No database at {path}. Create one with `carehub init`.",
            f"Aucune base de données à l'emplacement {path}. Créez-la avec « carehub init ».",
        )
    size = path.stat().st_size
    if size < 4096 or size % 512:
        raise _damaged(path, f"truncated file of {size} bytes")


def _read_key(path: Path, store: KeyStore) -> str:
    key = store.get(path)
    if key is None:
        raise StorageError(
            f"The encryption key of {path} is missing from the {store.describe()}. "
            "Without it the data cannot be read; the file was left as it is.",
            f"La clé de chiffrement de {path} est introuvable dans le trousseau. "
            "Sans elle les données sont illisibles ; le fichier n'a pas été modifié.",
        )
    if len(key) != 64 or any(c not in "0123456789abcdefABCDEF" for c in key):
        raise StorageError(
            f"The key found in the {store.describe()} for {path} is not a CareHub key.",
            f"La clé trouvée dans le trousseau pour {path} n'est pas une clé CareHub.",
        )
    return key


def _wrong_key(path: Path) -> StorageError:
    return StorageError(
        f"Wrong encryption key for {path}: this database was encrypted with another key. "
        "The file was left as it is.",
        f"Clé de chiffrement incorrecte pour {path} : cette base a été chiffrée avec une autre "
        "clé. Le fichier n'a pas été modifié.",
    )


def _check_key(path: Path, key: str) -> None:
    check_file = _key_check_path(path)
    if check_file.exists() and check_file.read_text(encoding="ascii").strip() != _key_check(key):
        raise _wrong_key(path)


def _check_readable(path: Path, engine: Engine) -> None:
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar()
            page_size = int(conn.exec_driver_sql("PRAGMA page_size").scalar() or 4096)
            page_count = int(conn.exec_driver_sql("PRAGMA page_count").scalar() or 0)
    except SADatabaseError as exc:
        if _key_check_path(path).exists():
            raise _damaged(path, "its first page cannot be decrypted") from exc
        raise StorageError(
            f"Cannot decrypt {path}: wrong key, or the file is damaged. "
            "The file was left as it is.",
            f"Impossible de déchiffrer {path} : clé incorrecte ou fichier endommagé. "
            "Le fichier n'a pas été modifié.",
        ) from exc
    wal = Path(f"{path}-wal")
    if (not wal.exists() or wal.stat().st_size == 0) and \
            path.stat().st_size < page_size * page_count:
        raise _damaged(path, "truncated file")


def _revisions(engine: Engine) -> tuple[str | None, str | None, ScriptDirectory]:
    script = ScriptDirectory.from_config(_alembic_config())
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    return current, script.get_current_head(), script


def _check_schema_known(path: Path, engine: Engine) -> tuple[str | None, str | None]:
    current, head, script = _revisions(engine)
    known = {rev.revision for rev in script.walk_revisions()}
    if current is not None and current not in known:
        raise StorageError(
            f"The database {path} was written by a newer version of CareHub "
            f"(schema {current}). Install the newer version; the file was left as it is.",
            f"La base {path} a été écrite par une version plus récente de CareHub "
            f"(schéma {current}). Installez cette version ; le fichier n'a pas été modifié.",
        )
    return current, head


def _migrate_with_backup(path: Path, key: str, engine: Engine) -> None:
    current, head = _check_schema_known(path, engine)
    if current == head:
        return
    backup = backup_database(path, key, engine, reason=f"before-{head}")
    try:
        _upgrade(engine)
    except Exception as exc:  # the migration's transaction rolled back: the file is as it was
        raise StorageError(
            f"Updating the database {path} to schema {head} failed ({exc}); nothing was "
            f"changed. A copy made just before is at {backup}.",
            f"La mise à jour de la base {path} (schéma {head}) a échoué ({exc}) ; rien n'a été "
            f"modifié. Une copie faite juste avant se trouve dans {backup}.",
        ) from exc


def _upgrade(engine: Engine) -> None:
    config = _alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def backup_database(path: Path, key: str, engine: Engine, *, reason: str) -> Path:
    """A consistent, still encrypted copy in backups/ beside the database."""
    folder = path.parent / "backups"
    folder.mkdir(exist_ok=True)
    target = folder / f"{path.stem}-{utcnow():%Y%m%d-%H%M%S}-{reason}.db"
    raw = engine.raw_connection()
    try:
        destination = _connect(target, key, create=True)
        try:
            raw.driver_connection.backup(destination)  # type: ignore[union-attr]
        finally:
            destination.close()
    finally:
        raw.close()
    return target
