"""Text normalisation shared by search and imports."""

from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    """Lower-case without accents: 'Hélène' -> 'helene'."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


_FORBIDDEN = {chr(c) for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F)}


def control_problem(text: str) -> str | None:
    """Why a text cannot be kept (a NUL or other control character, tab and line breaks
    aside; a lone surrogate), or None: such text breaks the hub and other workstations."""
    if "\x00" in text:
        return "holds a NUL character"
    if any(c in _FORBIDDEN for c in text):
        return "holds a control character"
    if any("\ud800" <= c <= "\udfff" for c in text):
        return "holds an invalid character"
    return None


def check_plain_text(value: object) -> object:
    """A pydantic validator: refuse strings with control characters."""
    if isinstance(value, str):
        problem = control_problem(value)
        if problem:
            raise ValueError(f"the text {problem}")
    return value
