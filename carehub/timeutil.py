"""Clock helpers: one place for 'now', in UTC, so tests and audit agree."""

from __future__ import annotations

from datetime import UTC, date, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def today() -> date:
    return datetime.now().date()
