"""Coordination actions: logged append-only, audited, queued, listed as the CLI contract says."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from carehub.cli import app
from carehub.coordination.audit import AuditEvent, verify_chain
from carehub.coordination.models import CoordinationAction
from carehub.coordination.services import list_actions, record_action
from carehub.db import Database
from carehub.errors import InputError, NotFoundError
from carehub.sync.outbox import OutboxEntry
from tests.test_cli import run_script
from tests.ui import PATIENTS, add_patients

runner = CliRunner()
JEANNE_INS = str(PATIENTS["jeanne"]["ins"])


def test_an_action_is_stored_audited_and_queued_in_one_go(db: Database) -> None:
    ids = add_patients(db)
    at = datetime(2026, 11, 30, 9, 15, tzinfo=UTC)
    with db.transaction() as session:
        action_id = record_action(session, patient_ref=JEANNE_INS, action_type="call",
                                  actor="alice", at=at, note="Rappeler sa fille",
                                  duration_s=240, outcome="reached")
    with db.session() as session:
        [row] = list_actions(session, patient_ref=ids["jeanne"])
        event = session.exec(select(AuditEvent).where(
            AuditEvent.entity_id == str(action_id))).one()
        queued = session.exec(select(OutboxEntry).where(
            OutboxEntry.entity_id == str(action_id))).one()
        assert verify_chain(session).intact
    assert (row.id, row.type, row.at, row.author, row.duration_s, row.outcome) == (
        action_id, "call", at, "alice", 240, "reached")
    assert row.ins == JEANNE_INS
    assert (event.entity, event.action) == ("action", "create")
    assert queued.payload["note"] == "Rappeler sa fille"
    assert queued.payload["at"].startswith("2026-11-30T09:15:00")


def test_a_correction_is_a_new_action_and_the_first_stays(db: Database) -> None:
    add_patients(db)
    with db.transaction() as session:
        first = record_action(session, patient_ref=JEANNE_INS, action_type="call",
                              actor="alice", note="joint")
    with db.transaction() as session:
        fix = record_action(session, patient_ref=JEANNE_INS, action_type="call",
                            actor="alice", note="en fait : messagerie", amends=first)
    with db.session() as session:
        rows = list_actions(session, patient_ref=JEANNE_INS)
    assert {r.id for r in rows} == {first, fix}
    assert next(r for r in rows if r.id == fix).amends_id == first


def test_bad_actions_are_refused_and_change_nothing(db: Database) -> None:
    ids = add_patients(db)
    with db.transaction() as session:
        other = record_action(session, patient_ref=ids["paul"], action_type="sms",
                              actor="alice")
    attempts: list[dict[str, object]] = [
        {"action_type": "fax"},
        {"action_type": "call", "duration_s": -5},
        {"action_type": "call", "amends": uuid.uuid4()},
        {"action_type": "call", "amends": other},  # Paul's action, not Jeanne's
    ]
    for extra in attempts:
        with pytest.raises((InputError, NotFoundError)), db.transaction() as session:
            record_action(session, patient_ref=ids["jeanne"], actor="alice", **extra)  # type: ignore[arg-type]
    with pytest.raises(NotFoundError), db.transaction() as session:
        record_action(session, patient_ref="295109912611193x", action_type="call",
                      actor="alice")
    with db.session() as session:
        assert len(session.exec(select(CoordinationAction)).all()) == 1


def test_listing_is_newest_first_and_filters_by_time(db: Database) -> None:
    add_patients(db)
    now = datetime.now(UTC)
    with db.transaction() as session:
        for days in (3, 1, 2):
            record_action(session, patient_ref=JEANNE_INS, action_type="call", actor="alice",
                          at=now - timedelta(days=days), note=f"J-{days}")
    with db.session() as session:
        notes = [r.note for r in list_actions(session)]
        recent = [r.note for r in list_actions(session, since=now - timedelta(days=2, hours=1))]
    assert notes == ["J-1", "J-2", "J-3"]
    assert recent == ["J-1", "J-2"]


def test_cli_add_prints_the_id_and_list_json_has_the_contract_keys(
        db: Database, db_path: Path) -> None:
    add_patients(db)
    added = runner.invoke(app, ["--db", str(db_path), "--user", "alice", "actions", "add",
                                "--patient", JEANNE_INS, "--type", "referral",
                                "--note", "vers Dr Roux", "--at", "2026-11-02T14:30:00+01:00"])
    assert added.exit_code == 0, added.output
    action_id = uuid.UUID(added.stdout.strip())
    listed = runner.invoke(app, ["--db", str(db_path), "--user", "alice", "actions", "list",
                                 "--patient", JEANNE_INS, "--json"])
    assert listed.exit_code == 0, listed.output
    [item] = json.loads(listed.stdout)
    assert {"id", "patient_id", "ins", "type", "at", "author", "note"} <= item.keys()
    assert (item["id"], item["ins"], item["type"], item["author"], item["note"]) == (
        str(action_id), JEANNE_INS, "referral", "alice", "vers Dr Roux")
    assert datetime.fromisoformat(item["at"]) == datetime(2026, 11, 2, 13, 30, tzinfo=UTC)


def test_cli_refuses_an_unknown_type_or_patient(db: Database, db_path: Path) -> None:
    add_patients(db)
    bad_type = runner.invoke(app, ["--db", str(db_path), "actions", "add", "--patient",
                                   JEANNE_INS, "--type", "telepathy"])
    assert bad_type.exit_code == 2
    unknown = run_script("--db", str(db_path), "actions", "add", "--patient", "nobody",
                         "--type", "call")
    assert unknown.returncode == 1
    assert "No patient with id or INS 'nobody'" in unknown.stderr
    listed = runner.invoke(app, ["--db", str(db_path), "actions", "list", "--json"])
    assert json.loads(listed.stdout) == []
