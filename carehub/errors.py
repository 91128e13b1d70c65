"""Errors a user can act on, each with an English (CLI) and a French (app) message."""

from __future__ import annotations


class CareHubError(Exception):
    """Bad input or an unusable environment: nothing was changed."""

    def __init__(self, message: str, message_fr: str) -> None:
        super().__init__(message)
        self.message = message
        self.message_fr = message_fr

    def __reduce__(self) -> tuple[type[CareHubError], tuple[str, str]]:
        # Both messages survive a pickle (an error raised in a child process).
        return type(self), (self.message, self.message_fr)


class StorageError(CareHubError):
    """The local database cannot be opened as it is."""


class KeyStoreError(StorageError):
    """The encryption key cannot be read or written."""


class InputError(CareHubError):
    """A file, a field or an argument is invalid."""


class NotFoundError(CareHubError):
    """The record named does not exist."""
