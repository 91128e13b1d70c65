"""The supervisor's coverage rates, kept per patient so the dashboard need not evaluate the
prevention rules for the whole team on every opening (seconds for 50,000 patients).

`coverage_cache` holds, per rule and patient the rule concerns, whether she is up to date
on the day its `coverage_cache_state` names. Triggers (migration 0012) put a patient in
`coverage_stale` whenever anything the rules read about her changes (her record, a fact
or coding, a reminder): her cached rows are then ignored and evaluated afresh until the
next refresh (carehub.workload.coverage_cache). Derived data: the database stays the truth.
"""

from __future__ import annotations

import uuid
from datetime import date

from sqlmodel import Field, SQLModel


class CoverageCache(SQLModel, table=True):
    """A patient a coverage rule concerns on its state's day, and whether she is up to date."""

    __tablename__ = "coverage_cache"

    code: str = Field(primary_key=True, max_length=64)
    patient_id: uuid.UUID = Field(primary_key=True)
    up_to_date: bool
    # Her care manager at the refresh (a reassignment makes her stale): counted without
    # reading the patients.
    care_manager_id: uuid.UUID | None = None


class CoverageCacheState(SQLModel, table=True):
    """The day (and rules) a code's cached rows were evaluated for."""

    __tablename__ = "coverage_cache_state"

    code: str = Field(primary_key=True, max_length=64)
    as_of: date
    rules_digest: str = Field(max_length=64)


class CoverageStale(SQLModel, table=True):
    """A patient whose cached coverage rows no longer hold (kept by triggers)."""

    __tablename__ = "coverage_stale"

    patient_id: uuid.UUID = Field(primary_key=True)
