"""The hub password of a care manager, kept in the operating system's keyring.

Never in a file in clear: with no usable keyring, `carehub sync` asks for nothing and the
connection uses what libpq finds by itself (a client certificate, a ~/.pgpass the user
made, peer authentication on a socket).
"""

from __future__ import annotations

import contextlib

import keyring
from keyring.errors import KeyringError

from carehub.errors import KeyStoreError

SERVICE = "CareHub hub"


def store_password(*, hub: str, user: str, password: str) -> None:
    """Remember the password of `user` for the hub named `hub` (its URL, no password)."""
    try:
        keyring.set_password(SERVICE, f"{user}@{hub}", password)
    except KeyringError as exc:
        raise KeyStoreError(
            f"No keyring can keep the hub password ({exc}); it was not stored.",
            "Aucun trousseau ne peut garder le mot de passe du hub ; il n'a pas été "
            "enregistré.") from exc


def get_password(*, hub: str, user: str) -> str | None:
    """The stored password, or None (none stored, or no keyring here)."""
    try:
        password = keyring.get_password(SERVICE, f"{user}@{hub}")
    except KeyringError:
        return None
    return str(password) if password is not None else None


def forget_password(*, hub: str, user: str) -> None:
    with contextlib.suppress(KeyringError):
        keyring.delete_password(SERVICE, f"{user}@{hub}")
