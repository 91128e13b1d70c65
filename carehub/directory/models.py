from __future__ import annotations

from sqlmodel import Field, SQLModel


class Commune(SQLModel, table=True):
    """A French commune and its reference point, from resources/communes-fr.csv."""

    __tablename__ = "commune"

    insee: str = Field(primary_key=True, max_length=5)
    name: str = Field(max_length=100)
    normalized: str = Field(max_length=100, index=True)
    department: str = Field(max_length=3, index=True)
    postal_codes: str = Field(default="", max_length=200)
    latitude: float
    longitude: float
    district_of: str | None = Field(default=None, max_length=5)
