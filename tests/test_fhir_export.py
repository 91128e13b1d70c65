"""`carehub export fhir`: the coordination actions as a valid FHIR R4 Bundle for the shared
record, referencing patients by INS and practitioners by IDNPS, and a push that a retry
never duplicates (against a real HTTP server on loopback)."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from typer.testing import CliRunner

from carehub.caseload.services import PatientInput, create_patient
from carehub.cli import app
from carehub.coordination.services import list_actions, record_action
from carehub.db import Database
from carehub.errors import CareHubError
from carehub.identifiers import IDNPS_SYSTEM
from carehub.sync.fhir_export import UUID_SYSTEM, build_export
from carehub.sync.service import action_delivery
from tests.fhir_server import fhir_server
from tests.test_cli import run_script
from tests.ui import PATIENTS, add_patients

runner = CliRunner()
INS_NIR = "urn:oid:1.2.250.1.213.1.4.8"
JEANNE_INS = str(PATIENTS["jeanne"]["ins"])
PAUL_INS = str(PATIENTS["paul"]["ins"])
GP_IDNPS = "810003456789"
EXPECTED_RESOURCE = {
    "call": "Communication", "sms": "Communication", "message": "Communication",
    "referral": "ServiceRequest", "orientation": "Task", "appointment": "Appointment",
    "meeting": "Encounter", "discharge_followup": "Encounter", "document": "DocumentReference",
}


def cli(db_path: Path, *args: str) -> Any:
    return runner.invoke(app, ["--db", str(db_path), "--user", "alice", *args])


def record(db: Database, ins: str, action_type: str, at: datetime, **extra: Any) -> uuid.UUID:
    with db.transaction() as session:
        return record_action(session, patient_ref=ins, action_type=action_type,
                             actor="alice", at=at, **extra)


def one_of_each(db: Database) -> dict[str, uuid.UUID]:
    """One action of every type for Jeanne, in November 2026, some with her GP."""
    ids: dict[str, uuid.UUID] = {}
    for day, action_type in enumerate(EXPECTED_RESOURCE, start=1):
        with_gp = action_type in ("referral", "appointment", "meeting", "message", "call")
        ids[action_type] = record(
            db, JEANNE_INS, action_type, datetime(2026, 11, day, 10, 0, tzinfo=UTC),
            note=f"Note {action_type}", duration_s=1200,
            practitioner_id=GP_IDNPS if with_gp else None,
            practitioner_name="Dr Anne Leroy" if with_gp else None,
            organisation="France Services de Mer" if action_type == "orientation" else None,
            outcome="reached" if action_type == "call" else None)
    return ids


def by_identifier(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {}
    for entry in bundle["entry"]:
        [identifier] = entry["resource"]["identifier"]
        assert identifier["system"] == UUID_SYSTEM
        found[identifier["value"].removeprefix("urn:uuid:")] = entry
    return found


def patient_reference(resource: dict[str, Any]) -> dict[str, Any]:
    kind = resource["resourceType"]
    if kind == "Task":
        return dict(resource["for"])
    if kind == "Appointment":
        return dict(resource["participant"][0]["actor"])
    return dict(resource["subject"])


def practitioner_references(resource: dict[str, Any]) -> list[dict[str, Any]]:
    refs = [*resource.get("recipient", []), *resource.get("performer", []),
            *[p["actor"] for p in resource.get("participant", []) if "actor" in p],
            *[p["individual"] for p in resource.get("participant", []) if "individual" in p]]
    return [ref for ref in refs if ref.get("type") == "Practitioner"]


def test_every_action_type_becomes_the_resource_that_fits_and_the_file_is_valid_r4(
        db: Database, db_path: Path, tmp_path: Path) -> None:
    add_patients(db)
    ids = one_of_each(db)
    out = tmp_path / "export.json"
    result = cli(db_path, "export", "fhir", "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["exported"] == len(EXPECTED_RESOURCE)

    raw = json.loads(out.read_text(encoding="utf-8"))
    parsed = Bundle.model_validate(raw)  # the receiving side's models accept it
    assert parsed.type == "transaction"
    entries = by_identifier(raw)
    assert set(entries) == {str(i) for i in ids.values()}
    for action_type, action_id in ids.items():
        entry = entries[str(action_id)]
        resource = entry["resource"]
        assert resource["resourceType"] == EXPECTED_RESOURCE[action_type], action_type
        assert patient_reference(resource) == {
            "type": "Patient", "identifier": {"system": INS_NIR, "value": JEANNE_INS},
            "display": "Durand Jeanne Marie"}
        assert f"Note {action_type}" in resource["text"]["div"]
        assert entry["request"] == {
            "method": "POST", "url": resource["resourceType"],
            "ifNoneExist": f"identifier={UUID_SYSTEM}|urn:uuid:{action_id}"}
    for action_type in ("referral", "appointment", "meeting", "message", "call"):
        [gp] = practitioner_references(entries[str(ids[action_type])]["resource"])
        assert gp["identifier"] == {"system": IDNPS_SYSTEM, "value": GP_IDNPS}, action_type
    document = entries[str(ids["document"])]["resource"]
    text = base64.b64decode(document["content"][0]["attachment"]["data"]).decode()
    assert text == "Note document"
    orientation = entries[str(ids["orientation"])]["resource"]
    assert orientation["owner"] == {"type": "Organization", "display": "France Services de Mer"}


def test_a_call_nobody_answered_is_not_done_and_a_correction_replaces_the_referral(
        db: Database) -> None:
    add_patients(db)
    at = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
    missed = record(db, JEANNE_INS, "call", at, outcome="no_answer")
    first = record(db, JEANNE_INS, "referral", at, practitioner_id=GP_IDNPS)
    fixed = record(db, JEANNE_INS, "referral", at, practitioner_id="810009999999",
                   amends=first, note="Erreur de médecin")
    with db.session() as session:
        bundle = build_export(session).bundle
    entries = by_identifier(bundle)
    call = entries[str(missed)]["resource"]
    assert (call["status"], call["statusReason"]["text"]) == ("not-done", "Pas de réponse")
    correction = entries[str(fixed)]["resource"]
    assert correction["replaces"] == [{"type": "ServiceRequest", "identifier": {
        "system": UUID_SYSTEM, "value": f"urn:uuid:{first}"}}]
    assert "Corrige l'action du 20/11/2026" in correction["text"]["div"]


def test_since_keeps_the_actions_of_that_day_and_later(
        db: Database, db_path: Path, tmp_path: Path) -> None:
    add_patients(db)
    old = record(db, JEANNE_INS, "call", datetime(2026, 10, 31, 15, 0, tzinfo=UTC))
    on_the_day = record(db, PAUL_INS, "sms", datetime(2026, 11, 3, 7, 0, tzinfo=UTC))
    later = record(db, JEANNE_INS, "meeting", datetime(2026, 11, 25, 16, 0, tzinfo=UTC))
    out = tmp_path / "since.json"
    result = cli(db_path, "export", "fhir", "--since", "2026-11-03", "--out", str(out))
    assert result.exit_code == 0, result.output
    entries = by_identifier(json.loads(out.read_text(encoding="utf-8")))
    assert set(entries) == {str(on_the_day), str(later)}
    assert str(old) not in entries
    paul = patient_reference(entries[str(on_the_day)]["resource"])
    assert paul["identifier"] == {"system": INS_NIR, "value": PAUL_INS}

    bad = cli(db_path, "export", "fhir", "--since", "03/11/2026", "--out", str(out))
    assert bad.exit_code == 2


def test_a_patient_without_ins_is_left_out_and_counted(
        db: Database, db_path: Path, tmp_path: Path) -> None:
    add_patients(db)
    with db.transaction() as session:
        lucie = create_patient(session, data=PatientInput.model_validate({
            "birth_name": "Sansins", "given_names": "Lucie", "sex": "F",
            "birth_date": "1940-01-01"}), actor="alice")
    record(db, str(lucie), "call", datetime(2026, 11, 2, 9, 0, tzinfo=UTC))
    kept = record(db, JEANNE_INS, "call", datetime(2026, 11, 2, 10, 0, tzinfo=UTC))
    out = tmp_path / "partial.json"
    result = cli(db_path, "export", "fhir", "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["exported"], report["skipped_without_ins"]) == (1, 1)
    assert set(by_identifier(json.loads(out.read_text(encoding="utf-8")))) == {str(kept)}


def test_pushing_twice_creates_nothing_the_second_time(
        db: Database, db_path: Path, tmp_path: Path) -> None:
    add_patients(db)
    ids = one_of_each(db)
    out = tmp_path / "push.json"
    with fhir_server() as (endpoint, store):
        first = cli(db_path, "export", "fhir", "--out", str(out), "--endpoint", endpoint,
                    "--json")
        assert first.exit_code == 0, first.output
        assert (json.loads(first.stdout)["created"],
                json.loads(first.stdout)["already_there"]) == (len(ids), 0)
        stored = dict(store.resources)
        again = cli(db_path, "export", "fhir", "--out", str(out), "--endpoint", endpoint,
                    "--json")
        assert again.exit_code == 0, again.output
        assert (json.loads(again.stdout)["created"],
                json.loads(again.stdout)["already_there"]) == (0, len(ids))
        assert store.resources == stored  # the retry created nothing
        kinds = sorted(key.split("/")[0] for key in store.resources)
    assert kinds == sorted(EXPECTED_RESOURCE.values())
    with db.session() as session:  # the nurse sees each action reached the shared record
        assert set(action_delivery(session, action_ids=list(ids.values())).values()) == {
            "exported"}


def test_an_endpoint_that_fails_or_is_down_is_a_clear_error_and_the_file_is_still_written(
        db: Database, db_path: Path, tmp_path: Path) -> None:
    add_patients(db)
    record(db, JEANNE_INS, "call", datetime(2026, 11, 2, 10, 0, tzinfo=UTC))
    out = tmp_path / "failed.json"
    with fhir_server() as (endpoint, store):
        store.fail_with = 503
        result = run_script("--db", str(db_path), "--user", "alice", "export", "fhir",
                            "--out", str(out), "--endpoint", endpoint)  # as a script: exit 1
        assert result.returncode == 1
        assert "HTTP 503" in result.stderr
        assert store.resources == {}
    down = cli(db_path, "export", "fhir", "--out", str(out), "--endpoint", endpoint)
    assert isinstance(down.exception, CareHubError)
    assert "Cannot reach the FHIR endpoint" in down.exception.message
    assert "ne répond pas" in down.exception.message_fr
    assert Bundle.model_validate_json(out.read_text(encoding="utf-8")).entry
    with db.session() as session:  # nothing claims to be in the shared record
        assert set(action_delivery(session, action_ids=list(
            {e.id for e in list_actions(session)})).values()) == {"local"}


@pytest.mark.parametrize("action_type", sorted(EXPECTED_RESOURCE))
def test_an_action_with_nothing_but_its_type_is_still_valid(db: Database,
                                                            action_type: str) -> None:
    add_patients(db)
    record(db, JEANNE_INS, action_type, datetime(2026, 11, 2, 10, 0, tzinfo=UTC))
    with db.session() as session:
        bundle = build_export(session).bundle
    Bundle.model_validate(bundle)
    assert bundle["entry"][0]["resource"]["resourceType"] == EXPECTED_RESOURCE[action_type]
