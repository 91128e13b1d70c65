"""Where shipped data and migrations are, installed or from a source checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _first_existing(*candidates: Path) -> Path:
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    return candidates[-1]


def resources_dir() -> Path:
    """`resources/` of the checkout, or its copy inside an installed wheel."""
    return _first_existing(_PACKAGE / "_resources", _PACKAGE.parent / "resources")


def migrations_dir() -> Path:
    """`migrations/` of the checkout, or its copy inside an installed wheel."""
    return _first_existing(_PACKAGE / "_migrations", _PACKAGE.parent / "migrations")
