"""Where the database key lives: the OS keyring, or a key file the user chose explicitly.

The key is never written next to the database in clear. When no keyring is usable the
user is told so and may choose a key file (`--key-file` / CAREHUB_KEY_FILE) knowingly.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Protocol

import keyring
import keyring.errors

from carehub.errors import KeyStoreError

KEYRING_SERVICE = "CareHub"

_NO_KEYRING_FR = (
    "Aucun trousseau de clés (keyring) n'est disponible sur cet ordinateur pour protéger la "
    "clé de la base. Ouvrez une session de bureau avec un trousseau, ou choisissez "
    "explicitement un fichier de clé (option --key-file ou variable CAREHUB_KEY_FILE)."
)


class KeyStore(Protocol):
    def get(self, db_path: Path) -> str | None: ...
    def put(self, db_path: Path, key: str) -> None: ...
    def remove(self, db_path: Path) -> None: ...
    def describe(self) -> str: ...


def _account(db_path: Path) -> str:
    return f"database:{db_path.resolve()}"


def _insecure_backend() -> str | None:
    """Name of the default backend when it would not really protect the key.

    keyrings.alt (plain-text files) may be installed for the tests; it is only accepted
    when chosen on purpose through PYTHON_KEYRING_BACKEND, never picked up silently.
    """
    if os.environ.get("PYTHON_KEYRING_BACKEND"):
        return None
    backend = keyring.get_keyring()
    backends = getattr(backend, "backends", None) or [backend]
    for candidate in backends:
        module = type(candidate).__module__
        if module.startswith(("keyrings.alt", "keyring.backends.fail", "keyring.backends.null")):
            return f"{module}.{type(candidate).__name__}"
    return None


class KeyringStore:
    """The operating system's keyring (Secret Service, Keychain, Credential Locker)."""

    def _check_backend(self) -> None:
        insecure = _insecure_backend()
        if insecure is not None:
            raise self._fail(RuntimeError(f"only {insecure}, which does not protect secrets"))

    def _fail(self, exc: Exception) -> KeyStoreError:
        return KeyStoreError(
            f"No usable keyring to hold the database key ({exc}). Start a desktop session with "
            "a keyring, or choose a key file explicitly with --key-file / CAREHUB_KEY_FILE.",
            _NO_KEYRING_FR,
        )

    def get(self, db_path: Path) -> str | None:
        self._check_backend()
        try:
            value: str | None = keyring.get_password(KEYRING_SERVICE, _account(db_path))
        except (keyring.errors.KeyringError, RuntimeError) as exc:
            raise self._fail(exc) from exc
        return value

    def put(self, db_path: Path, key: str) -> None:
        self._check_backend()
        try:
            keyring.set_password(KEYRING_SERVICE, _account(db_path), key)
        except (keyring.errors.KeyringError, RuntimeError) as exc:
            raise self._fail(exc) from exc

    def remove(self, db_path: Path) -> None:
        with contextlib.suppress(keyring.errors.KeyringError, RuntimeError):
            keyring.delete_password(KEYRING_SERVICE, _account(db_path))

    def describe(self) -> str:
        return f"keyring {type(keyring.get_keyring()).__name__}"


class KeyFileStore:
    """A key file the user chose; created readable by its owner only."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def get(self, db_path: Path) -> str | None:
        try:
            return self.path.read_text(encoding="ascii").strip() or None
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise KeyStoreError(
                f"Cannot read the key file {self.path}: {exc}.",
                f"Impossible de lire le fichier de clé {self.path} : {exc}.",
            ) from exc

    def put(self, db_path: Path, key: str) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise KeyStoreError(
                f"Cannot create the key file {self.path}: {exc}.",
                f"Impossible de créer le fichier de clé {self.path} : {exc}.",
            ) from exc
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(key + "\n")

    def remove(self, db_path: Path) -> None:
        self.path.unlink(missing_ok=True)

    def describe(self) -> str:
        return f"key file {self.path}"


def key_store(key_file: Path | None = None) -> KeyStore:
    """The key file when one is named (argument or CAREHUB_KEY_FILE), else the keyring."""
    chosen = key_file or (Path(os.environ["CAREHUB_KEY_FILE"])
                          if os.environ.get("CAREHUB_KEY_FILE") else None)
    return KeyFileStore(chosen) if chosen else KeyringStore()
