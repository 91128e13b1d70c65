"""Text normalisation shared by search and imports."""

from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    """Lower-case without accents: 'Hélène' -> 'helene'."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
