"""Practitioner directory and geodata (communes).

Practitioners and their activities come from the Annuaire Santé open-data extract
(DOMAIN.md §4). Sites sit at the reference point of their commune, so the spatial index
(`commune_rtree`, an SQLite R*Tree created by migration 0003 and kept in step with
`commune` by triggers) is over the 35,000 communes, and a B-tree on
(place_insee, profession, specialty) takes a candidate commune to its practitioners.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from carehub.timeutil import utcnow


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


class Practitioner(SQLModel, table=True):
    """One health professional, keyed by the national id (IDNPS = type + identifier)."""

    __tablename__ = "practitioner"

    id: str = Field(primary_key=True, max_length=12)  # Identification nationale PP
    id_type: str = Field(max_length=2)  # 8 = RPPS, 0 = ADELI
    identifier: str = Field(max_length=11)  # Identifiant PP (the RPPS or ADELI number)
    # False when an RPPS fails its Luhn check: kept as published, flagged for review.
    identifier_valid: bool = True
    civility: str | None = Field(default=None, max_length=40)
    last_name: str = Field(max_length=100)
    first_name: str = Field(default="", max_length=100)
    search_text: str = Field(default="", max_length=210)  # folded "last first"
    # Neither is indexed: only the import reads them (one scan each), every query comes to
    # a practitioner by her id (see migration 0013).
    active: bool = Field(default=True)  # False once absent from a newer extract
    import_id: int  # the last import that listed this practitioner


class PractitionerActivity(SQLModel, table=True):
    """One row of the extract: a practitioner's activity at one site."""

    __tablename__ = "practitioner_activity"
    __table_args__ = (
        # Candidate communes -> matching practitioners, without touching the wide rows.
        Index("ix_activity_place", "place_insee", "profession_code", "specialty_code",
              "practitioner_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # Found through ix_activity_place (which ends with it) or by id; not indexed alone.
    practitioner_id: str = Field(foreign_key="practitioner.id", max_length=12)
    import_id: int
    profession_code: str = Field(max_length=4)
    specialty_code: str | None = Field(default=None, max_length=8)  # savoir-faire (SM54)
    mode_code: str | None = Field(default=None, max_length=2)  # L, S, B
    site_name: str | None = Field(default=None, max_length=200)
    address: str = Field(default="", max_length=400)  # street lines, as printed on a letter
    postal_code: str | None = Field(default=None, max_length=10)
    commune_code: str | None = Field(default=None, max_length=5)  # as published (may be empty)
    city: str | None = Field(default=None, max_length=100)  # Libellé commune or Bureau cedex
    country_code: str | None = Field(default=None, max_length=5)
    country: str | None = Field(default=None, max_length=60)
    place_insee: str | None = Field(default=None, max_length=5)  # where it sits; None: unplaced
    phone: str | None = Field(default=None, max_length=16)  # E.164
    phone2: str | None = Field(default=None, max_length=16)
    unparsed_phone: str | None = Field(default=None, max_length=60)  # kept as found, flagged
    email: str | None = Field(default=None, max_length=200)
    finess_site: str | None = Field(default=None, max_length=9)


class PractitionerMailbox(SQLModel, table=True):
    """A practitioner's personal MSSanté mailbox (secure health messaging, for professionals).

    From the separate Annuaire Santé file Extraction_Correspondance_MSSante, keyed by the
    national id it gives; kept when the practitioner is not (yet) in the directory, marked
    inactive once a newer file no longer lists it.
    """

    __tablename__ = "practitioner_mailbox"

    practitioner_id: str = Field(primary_key=True, max_length=12)  # Identification nationale PP
    address: str = Field(primary_key=True, max_length=256)  # Adresse BAL
    kind: str = Field(default="PER", max_length=3)  # Type de BAL: PER personal
    active: bool = True
    import_id: int  # the last import that listed it


class DirectoryCode(SQLModel, table=True):
    """A profession or savoir-faire code and its label, as the extracts publish them."""

    __tablename__ = "directory_code"

    kind: str = Field(primary_key=True, max_length=12)  # profession, specialty
    code: str = Field(primary_key=True, max_length=8)
    label: str = Field(max_length=200)
    folded: str = Field(max_length=200, index=True)


class DirectoryImport(SQLModel, table=True):
    """One imported extract file."""

    __tablename__ = "directory_import"

    id: int | None = Field(default=None, primary_key=True)
    file_name: str = Field(max_length=260)
    at: datetime = Field(default_factory=utcnow)
    actor: str = Field(max_length=64)
    rows: int = 0
    practitioners: int = 0
    placed_rows: int = 0
    abroad_rows: int = 0
    unplaced_rows: int = 0
    invalid_rpps: int = 0
    unparsed_phones: int = 0
    deactivated: int = 0
