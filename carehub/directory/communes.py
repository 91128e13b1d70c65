"""Commune reference data, loaded from the shipped CSV into the database."""

from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import func, insert
from sqlmodel import Session, col, select

from carehub.directory.models import Commune
from carehub.paths import resources_dir


def communes_csv() -> Path:
    return resources_dir() / "communes-fr.csv"


def read_communes(path: Path | None = None) -> list[dict[str, object]]:
    with (path or communes_csv()).open(encoding="utf-8", newline="") as handle:
        return [
            {
                "insee": row["REF_INSEE"],
                "name": row["NAME"],
                "normalized": row["NORMALIZED"],
                "department": row["DEPARTMENT"],
                "postal_codes": row["ZIP_CODES"],
                "latitude": float(row["LATITUDE"]),
                "longitude": float(row["LONGITUDE"]),
                "district_of": row["DISTRICT_OF"] or None,
            }
            for row in csv.DictReader(handle)
            if row["LATITUDE"] and row["LONGITUDE"]
        ]


def ensure_communes(session: Session) -> int:
    """Load the communes once; returns how many the table holds."""
    count = session.exec(select(func.count()).select_from(Commune)).one()
    if count == 0:
        rows = read_communes()
        session.execute(insert(Commune), rows)
        count = len(rows)
    return count


def gazetteer_rows(session: Session) -> list[tuple[str, str, str, str]]:
    """The communes as places.Gazetteer.from_rows takes them: insee, normalized name,
    department, postal codes (a few MB, sent to the parsing child process as they are)."""
    rows = session.exec(select(col(Commune.insee), col(Commune.normalized),
                               col(Commune.department), col(Commune.postal_codes)))
    return [(insee, name, department, postal) for insee, name, department, postal in rows]
