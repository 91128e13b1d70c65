"""The audit chain shows tampering, from the service and from `carehub audit verify`."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from typer.testing import CliRunner

from carehub.caseload.services import PatientInput, create_patient
from carehub.cli import app
from carehub.coordination.audit import verify_chain
from carehub.db import Database


def _three_patients(db: Database) -> None:
    with db.transaction() as session:
        for name in ("Aubert", "Blanc", "Colin"):
            create_patient(session, data=PatientInput(
                birth_name=name, given_names="Lucie", sex="F", birth_date="1944-02-29"),
                actor="alice")


def test_intact_chain_verifies(db: Database, db_path: Path) -> None:
    _three_patients(db)
    result = CliRunner().invoke(app, ["--db", str(db_path), "audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "intact: 3 events" in result.output


def test_edited_event_breaks_the_chain_at_that_event(db: Database, db_path: Path) -> None:
    _three_patients(db)
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET actor = 'mallory' WHERE seq = 2"))
    with db.session() as session:
        assert verify_chain(session).first_broken_seq == 2
    result = CliRunner().invoke(app, ["--db", str(db_path), "audit", "verify"])
    assert result.exit_code == 1
    assert "broken at event 2" in result.stderr


def test_deleted_event_breaks_the_chain_after_it(db: Database) -> None:
    _three_patients(db)
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE seq = 2"))
    with db.session() as session:
        assert verify_chain(session).first_broken_seq == 3
