"""Tests of the Qt application (pytest-qt, offscreen, real widgets, real database)."""

from __future__ import annotations

import os
import uuid
from datetime import date
from pathlib import Path

from PySide6.QtWidgets import QWidget

from carehub.caseload.services import PatientInput, create_patient
from carehub.db import Database

# Three people a care manager would recognise; INS keys are valid.
PATIENTS = {
    "jeanne": {
        "ins": "295109912611193", "birth_name": "Martin", "used_name": "Durand",
        "given_names": "Jeanne Marie", "sex": "F", "birth_date": date(1950, 3, 2),
        "commune_insee": "41018", "status": "active", "fragility_level": 2,
        "phones": [{"number": "06 12 34 56 78", "sms_consent": True}],
    },
    "paul": {
        "ins": "145024523412389", "birth_name": "Lefebvre", "given_names": "Paul",
        "sex": "M", "birth_date": date(1945, 2, 11), "commune_insee": "45234",
        "status": "paused", "fragility_level": 3,
        "phones": [{"number": "02 38 45 67 89"}],
    },
    "claire": {
        "ins": "279113726145615", "birth_name": "Petit", "given_names": "Claire",
        "sex": "F", "birth_date": date(1979, 11, 20), "commune_insee": "37261",
        "status": "active", "fragility_level": 1,
        "phones": [{"number": "07 98 76 54 32"}],
    },
}


def add_patients(database: Database, *, care_managers: dict[str, str] | None = None
                 ) -> dict[str, uuid.UUID]:
    """The three test patients, by first name; care managers default to alice."""
    managers = care_managers or {}
    ids: dict[str, uuid.UUID] = {}
    with database.transaction() as session:
        for key, values in PATIENTS.items():
            ids[key] = create_patient(session, data=PatientInput.model_validate(values),
                                      actor="alice", care_manager=managers.get(key, "alice"))
    return ids


def grab(widget: QWidget, name: str) -> None:
    """Save a PNG of the widget in $CAREHUB_GRAB_DIR (to look at the screens), if set."""
    folder = os.environ.get("CAREHUB_GRAB_DIR")
    if folder:
        widget.grab().save(str(Path(folder) / f"{name}.png"))
