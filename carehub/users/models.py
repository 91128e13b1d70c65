from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from sqlmodel import Field, SQLModel

from carehub.timeutil import utcnow

Role = Literal["care_manager", "supervisor", "administrator"]
ROLES: tuple[Role, ...] = ("care_manager", "supervisor", "administrator")


class User(SQLModel, table=True):
    __tablename__ = "app_user"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(unique=True, index=True, max_length=64)
    display_name: str = Field(default="", max_length=128)
    role: str = Field(default="care_manager", max_length=16)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)
