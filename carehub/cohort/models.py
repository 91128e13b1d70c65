"""Saved cohort searches: a name and the query text (table `saved_search`, migration 0007).

They stay on the workstation (audited, not synced): a search is a tool of the nurse who
made it; its result, a call campaign, is what the team shares.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel

from carehub.timeutil import utcnow


class SavedSearch(SQLModel, table=True):
    __tablename__ = "saved_search"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(max_length=120, unique=True, index=True)
    expr: str
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
