"""A small team for the access tests: two care managers, a supervisor, an administrator,
one patient each with a clinical fact and an action."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from typer.testing import CliRunner, Result

from carehub.caseload.models import Patient
from carehub.cli import app
from carehub.coordination.services import record_action
from carehub.db import Database
from carehub.users.services import add_user
from tests.prevention_helpers import MAMMOGRAPHY, add_fact, add_patient

ALICE_INS = "260017512345608"  # not validated here: only a lookup key
BOB_INS = "255017512345644"
PASSWORD = "correct horse battery"
runner = CliRunner()


@dataclass
class Team:
    alice_patient: uuid.UUID
    bob_patient: uuid.UUID
    sue_patient: uuid.UUID
    bob_action: uuid.UUID
    alice_action: uuid.UUID


def make_team(db: Database) -> Team:
    with db.transaction() as session:
        # An administrator (and alice's password) set the roles up: the checks apply.
        # Only alice signs in with a password here: each argon2 hash costs ~50 ms.
        add_user(session, name="adam", role="administrator")
        for name, role in (("alice", "care_manager"), ("bob", "care_manager"),
                           ("sue", "supervisor")):
            add_user(session, name=name, role=role,
                     password=PASSWORD if name == "alice" else None)
        ids = {}
        for manager, name, ins in (("alice", "Martin", ALICE_INS), ("bob", "Bernard", BOB_INS),
                                   ("sue", "Petit", None)):
            pid = add_patient(session, name, born=date(1960, 3, 1), manager=manager)
            patient = session.get(Patient, pid)
            assert patient is not None
            patient.ins, patient.commune_insee = ins, "41018"
            add_fact(session, pid, "condition", ("icd10", "E11.9"), start=date(2015, 1, 1),
                     status="active")
            add_fact(session, pid, "procedure", MAMMOGRAPHY, start=date(2020, 1, 1))
            ids[manager] = pid
        bob_action = record_action(session, patient_ref=ids["bob"], action_type="call",
                                   actor="bob", note="diabète déséquilibré")
        alice_action = record_action(session, patient_ref=ids["alice"], action_type="call",
                                     actor="alice", note="va bien")
    return Team(ids["alice"], ids["bob"], ids["sue"], bob_action, alice_action)


def cli(db_path: Path, user: str, *args: str, stdin: str | None = None) -> Result:
    return runner.invoke(app, ["--db", str(db_path), "--user", user, *args], input=stdin)
