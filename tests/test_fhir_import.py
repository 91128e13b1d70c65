"""FHIR import: a practice's caseload lands whole or not at all, and twice is the same as once."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from carehub.caseload.fhir_import import ImportReport, import_bundle, import_fhir_file
from carehub.caseload.models import ClinicalFact, FactCoding, Patient, PatientPhone
from carehub.cli import app
from carehub.coordination.audit import AuditEvent, verify_chain
from carehub.db import Database
from carehub.errors import InputError
from carehub.sync.outbox import OutboxEntry
from carehub.users.models import User
from tests.cohort_helpers import mismatched_copies

DATA = Path(__file__).parent / "data" / "fhir"
PRACTICE = DATA / "practice_export.json"
REPO_ROOT = Path(__file__).resolve().parent.parent
COUNTED = (Patient, PatientPhone, ClinicalFact, FactCoding, AuditEvent, OutboxEntry)


def load(name: str) -> dict[str, Any]:
    bundle: dict[str, Any] = json.loads((DATA / name).read_text(encoding="utf-8"))
    return bundle


def run_import(db: Database, bundle: dict[str, Any], *, actor: str = "alice",
               assign_to: str | None = None) -> ImportReport:
    with db.transaction() as session:
        return import_bundle(session, bundle=bundle, actor=actor, assign_to=assign_to,
                             source_name="export.json")


def counts(db: Database) -> dict[str, int]:
    with db.session() as session:
        return {model.__name__: session.exec(select(func.count()).select_from(model)).one()
                for model in COUNTED}


def patient_by_name(session: Session, birth_name: str) -> Patient:
    return session.exec(select(Patient).where(Patient.birth_name == birth_name)).one()


def codings_of(session: Session, patient: Patient) -> dict[str, set[tuple[str, str]]]:
    """{fact display or kind: {(system, code)}} of one patient."""
    rows = session.exec(select(ClinicalFact, FactCoding).join(
        FactCoding, col(FactCoding.fact_id) == ClinicalFact.id).where(
        ClinicalFact.patient_id == patient.id))
    found: dict[str, set[tuple[str, str]]] = {}
    for fact, coding in rows:
        found.setdefault(fact.display or fact.kind, set()).add((coding.system, coding.code))
    return found


def entry_of(bundle: dict[str, Any], resource_id: str) -> dict[str, Any]:
    resource: dict[str, Any] = next(e["resource"] for e in bundle["entry"]
                                    if e["resource"].get("id") == resource_id)
    return resource


# --- a whole practice export -------------------------------------------------------------

def test_practice_export_brings_patients_with_identity_contact_and_commune(db: Database) -> None:
    report = run_import(db, load("practice_export.json"))
    assert (report.patients_created, report.facts_added) == (3, 13)
    assert report.ignored == {"DocumentReference": 1}  # a letter: counted, not refused
    with db.session() as session:
        marie = patient_by_name(session, "Santoni")
        assert marie.ins == "253072B07300470"  # Corsican INS (2B), key checked
        assert (marie.used_name, marie.given_names, marie.sex) == ("Casanova",
                                                                   "Marie Antoinette", "F")
        assert marie.birth_date.isoformat() == "1953-07-14"
        assert marie.identity_status == "qualified"
        assert marie.commune_insee == "2A004"  # Ajaccio found by name in Corse-du-Sud
        assert marie.address_line == "3 rue Fesch, Bâtiment B"
        assert (marie.gp_rpps, marie.gp_name) == ("10001234565", "Dr Paul Leca")
        assert marie.email == "marie.casanova@example.fr"
        phones = session.exec(select(PatientPhone).where(PatientPhone.patient_id == marie.id)
                              .order_by(col(PatientPhone.position))).all()
        assert [(p.e164, p.kind) for p in phones] == [("+33612345678", "mobile"),
                                                      ("+33495210000", "fixed")]
        assert "casanova" in marie.search_text and "0612345678" in marie.search_text
        jean = patient_by_name(session, "Dupont")
        assert jean.ins is None
        assert (jean.source_system, jean.source_id) == (
            "https://cabinet-santoni.example/fhir/identifiers", "PAT-002")
        assert jean.commune_insee == "41018"  # FR Core INSEE extension
        lan = patient_by_name(session, "Nguyen")
        assert lan.commune_insee == "75111"  # Paris 75011: the 11th arrondissement
        assert (lan.status, str(lan.deceased_date)) == ("deceased", "2024-03-01")
        manager = session.get(User, marie.care_manager_id)
        assert manager is not None and manager.name == "alice"


def test_every_coding_is_kept_with_its_system_and_normalised_code(db: Database) -> None:
    run_import(db, load("practice_export.json"))
    with db.session() as session:
        marie = patient_by_name(session, "Santoni")
        codes = codings_of(session, marie)
        assert codes["Goitre"] == {("icd10", "E049"), ("icpc2", "T81")}
        assert codes["Otite"] == {("https://cabinet-santoni.example/codes", "ENT-42")}
        assert codes["Influenza, seasonal, injectable"] == {("cvx", "141"), ("atc", "J07BB02")}
        assert codes["Mammography"] == {("snomed", "71651007"), ("ccam", "QEQK004")}
        assert codes["metformine"] == {("atc", "A10BA02")}  # through medicationReference
        assert codes["Hospital admission"] == {("snomed", "32485007"), ("v3-actcode", "IMP")}
        originals = set(session.exec(select(FactCoding.original_code).where(
            FactCoding.patient_id == marie.id, FactCoding.system == "icd10")))
        assert originals == {"E04.9"}
        jean = patient_by_name(session, "Dupont")
        assert codings_of(session, jean) == {"condition": {("icd10", "E119"), ("icpc2", "T90")}}


def test_fact_dates_status_and_values_are_kept(db: Database) -> None:
    run_import(db, load("practice_export.json"))
    with db.session() as session:
        marie = patient_by_name(session, "Santoni")
        facts = {f.display: f for f in session.exec(
            select(ClinicalFact).where(ClinicalFact.patient_id == marie.id))}
    stay = facts["Hospital admission"]
    assert (stay.kind, stay.encounter_class) == ("encounter", "IMP")
    assert (str(stay.start_date), str(stay.end_date)) == ("2024-11-02", "2024-11-09")
    goitre = facts["Goitre"]
    assert (goitre.status, str(goitre.start_date), goitre.end_date) == ("active", "2015-03-01",
                                                                      None)
    otitis = facts["Otite"]
    assert (otitis.status, str(otitis.start_date), str(otitis.end_date)) == (
        "resolved", "2019-01-10", "2019-02-01")
    hba1c = facts["HbA1c"]
    assert (hba1c.value_num, hba1c.value_unit, str(hba1c.start_date)) == (7.2, "%", "2024-05-02")
    assert facts["Tobacco smoking status"].value_text == "Ancienne fumeuse"
    assert str(facts["Influenza, seasonal, injectable"].start_date) == "2024-10-20"
    assert str(facts["Mammography"].start_date) == "2024-01-15"
    assert str(facts["metformine"].start_date) == "2023-06-12"
    assert facts["Allergy to penicillin"].kind == "allergy"


def test_each_new_patient_is_audited_once_and_queued_for_the_hub(db: Database) -> None:
    run_import(db, load("practice_export.json"))
    with db.session() as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.entity == "patient")).all()
        marie = patient_by_name(session, "Santoni")
        assert sorted(e.action for e in events) == ["import"] * 3
        marie_event = next(e for e in events if e.entity_id == str(marie.id))
        assert marie_event.details["facts_added"] == 11
        assert marie_event.details["ins"] == "253072B07300470"
        assert session.exec(select(func.count()).select_from(OutboxEntry)).one() == 3
        assert verify_chain(session).intact


# --- idempotency and updates -------------------------------------------------------------

def test_importing_the_same_bundle_twice_changes_nothing(db: Database) -> None:
    run_import(db, load("practice_export.json"))
    before = counts(db)
    second = run_import(db, load("practice_export.json"))
    assert counts(db) == before  # no new rows, audit events or outbox entries
    assert (second.patients_created, second.patients_updated, second.patients_unchanged) == (
        0, 0, 3)
    assert (second.facts_added, second.facts_unchanged) == (0, 13)


def test_patient_without_ins_is_keyed_by_the_source_identifier(db: Database) -> None:
    first = run_import(db, load("patient_without_ins.json"))
    again = run_import(db, load("patient_without_ins.json"))
    assert (first.patients_created, again.patients_created) == (1, 0)
    with db.session() as session:
        patients = session.exec(select(Patient)).all()
        assert len(patients) == 1
        assert (patients[0].source_system, patients[0].source_id) == (
            "https://cabinet-martin.example/dossiers", "D-7731")
        assert session.exec(select(func.count()).select_from(ClinicalFact)).one() == 1


def test_a_changed_export_updates_changed_fields_and_adds_new_facts(db: Database) -> None:
    bundle = load("practice_export.json")
    run_import(db, bundle)
    changed = copy.deepcopy(bundle)
    marie = entry_of(changed, "pat-001")
    marie["address"] = [{"line": ["12 rue Denis Papin"], "postalCode": "41000", "city": "Blois"}]
    marie["telecom"].append({"system": "phone", "value": "07 81 22 33 44"})
    goitre = next(e["resource"] for e in changed["entry"]
                  if e["resource"].get("identifier", [{}])[0].get("value") == "COND-1")
    goitre["clinicalStatus"]["coding"][0]["code"] = "resolved"
    goitre["abatementDateTime"] = "2025-02-01"
    changed["entry"].append({"fullUrl": "urn:uuid:6f1c2e0a-0000-4000-8000-0000000000c1",
                             "resource": {
        "resourceType": "Observation", "status": "final", "subject": {"reference":
                                                                      "Patient/pat-001"},
        "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}]},
        "effectiveDateTime": "2025-03-01", "valueQuantity": {"value": 6.8, "unit": "%"}}})
    outbox_before = counts(db)["OutboxEntry"]
    report = run_import(db, changed)
    assert (report.patients_updated, report.facts_added, report.facts_updated) == (1, 1, 1)
    with db.session() as session:
        patient = patient_by_name(session, "Santoni")
        assert (patient.commune_insee, patient.address_line) == ("41018", "12 rue Denis Papin")
        assert "0781223344" in patient.search_text
        update = session.exec(select(AuditEvent).where(
            AuditEvent.entity_id == str(patient.id), AuditEvent.action == "update")).one()
        assert update.details["changed"]["commune_insee"] == "41018"
        assert update.details["before"]["commune_insee"] == "2A004"
        assert update.details["changed"]["phones"][-1] == "+33781223344"
        assert (update.details["facts_added"], update.details["facts_updated"]) == (1, 1)
        goitre_fact = session.exec(select(ClinicalFact).where(
            ClinicalFact.display == "Goitre")).one()
        assert (goitre_fact.status, str(goitre_fact.end_date)) == ("resolved", "2025-02-01")
        assert session.exec(select(func.count()).select_from(FactCoding).where(
            FactCoding.fact_id == goitre_fact.id)).one() == 2
        # The codings carry the fact's new status and dates (cohort SQL reads them there).
        assert mismatched_copies(session) == 0
        assert {(c.status, str(c.end_date)) for c in session.exec(select(FactCoding).where(
            FactCoding.fact_id == goitre_fact.id))} == {("resolved", "2025-02-01")}
    assert counts(db)["OutboxEntry"] == outbox_before + 1


def test_new_patients_go_to_the_care_manager_named_by_assign_to(db: Database) -> None:
    run_import(db, load("patient_without_ins.json"), actor="alice", assign_to="bob")
    run_import(db, load("practice_export.json"), actor="alice", assign_to="carol")
    run_import(db, load("patient_without_ins.json"), actor="alice", assign_to="dora")
    with db.session() as session:
        managers = dict(session.exec(select(Patient.birth_name, User.name).join(
            User, col(User.id) == Patient.care_manager_id)).all())
    assert managers == {"Moreau": "bob", "Santoni": "carol", "Dupont": "carol",
                        "Nguyen": "carol"}  # a re-import does not move a patient


def test_facts_may_name_a_patient_imported_earlier_by_ins(db: Database) -> None:
    run_import(db, load("practice_export.json"))
    later = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {
        "resourceType": "Immunization", "status": "completed", "id": "imm-9",
        "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "216"}]},
        "patient": {"identifier": {"system": "urn:oid:1.2.250.1.213.1.4.8",
                                   "value": "253072B07300470"}},
        "occurrenceDateTime": "2025-01-05"}}]}
    outbox_before = counts(db)["OutboxEntry"]
    report = run_import(db, later)
    assert report.facts_added == 1
    assert counts(db)["OutboxEntry"] == outbox_before  # facts stay on this workstation
    with db.session() as session:
        marie = patient_by_name(session, "Santoni")
        assert ("cvx", "216") in codings_of(session, marie)["immunization"]
        event = session.exec(select(AuditEvent).where(AuditEvent.entity_id == str(marie.id))
                             .order_by(col(AuditEvent.seq).desc())).first()
        assert event is not None
        assert (event.action, event.details["facts_added"]) == ("update", 1)
        assert verify_chain(session).intact


# --- refusals: a message naming entry and field, and nothing written ----------------------

def assert_refused(db: Database, bundle: dict[str, Any], *expected: str) -> InputError:
    before = counts(db)
    with pytest.raises(InputError) as caught:
        run_import(db, bundle)
    for text in expected:
        assert text in caught.value.message
    assert counts(db) == before
    return caught.value


def test_invalid_birth_date_refuses_the_whole_bundle(db: Database) -> None:
    error = assert_refused(db, load("invalid_birth_date.json"),
                           "entry 2 (Patient", "field birthDate", "1950-13-45",
                           "Nothing was imported")
    assert error.message_fr.startswith("export.json : entrée 2 (Patient) : champ birthDate "
                                       "invalide")


def test_wrong_ins_key_names_the_entry_and_field(db: Database) -> None:
    bundle = load("practice_export.json")
    entry_of(bundle, "pat-001")["identifier"][0]["value"] = "253072B07300471"
    assert_refused(db, bundle, "entry 3 (Patient", "identifier[0].value", "wrong INS key")


def test_invalid_phone_names_the_entry_and_field(db: Database) -> None:
    bundle = load("practice_export.json")
    entry_of(bundle, "pat-002")["telecom"][0]["value"] = "01 23"
    assert_refused(db, bundle, "entry 4 (Patient", "telecom[0].value", "Invalid phone number")


def test_a_fact_about_an_unknown_patient_is_refused(db: Database) -> None:
    bundle = load("practice_export.json")
    entry_of(bundle, "c-300")["subject"] = {"reference": "Patient/nobody"}
    assert_refused(db, bundle, "entry 19 (Condition", "field subject", "Patient/nobody")


def test_an_invalid_fact_resource_names_its_field(db: Database) -> None:
    bundle = load("practice_export.json")
    bundle["entry"][10]["resource"]["effectiveDateTime"] = "yesterday"
    assert_refused(db, bundle, "entry 11 (Observation", "field effectiveDateTime")


# --- control characters: refused where they would poison the hub, tabs cleaned -----------

@pytest.mark.parametrize(("character", "named"), [
    ("\x00", "U+0000 (NUL)"), ("\x1b", "U+001B (ESC)"), ("\x7f", "U+007F (DEL)"),
    ("\x85", "U+0085"), ("\ud800", "lone UTF-16 surrogate U+D800"),
])
def test_a_control_character_in_a_name_refuses_the_bundle_naming_entry_and_field(
        db: Database, character: str, named: str) -> None:
    bundle = load("practice_export.json")
    entry_of(bundle, "pat-001")["name"][0]["family"] = f"Santo{character}ni"
    error = assert_refused(db, bundle, "entry 3 (Patient", "field name[0].family", named,
                           "character 6 of the text", "Nothing was imported")
    assert error.message_fr.startswith("export.json : entrée 3 (Patient) : champ "
                                       "name[0].family invalide")
    assert "Rien n'a été importé" in error.message_fr


def test_a_nul_in_a_fact_or_a_full_url_is_refused_too(db: Database) -> None:
    bundle = load("practice_export.json")
    bundle["entry"][10]["resource"]["code"]["text"] = "HbA1c\x00"
    assert_refused(db, bundle, "entry 11 (Observation", "field code.text", "U+0000 (NUL)")
    bundle = load("practice_export.json")
    bundle["entry"][2]["fullUrl"] = "urn:uuid:\x00"
    assert_refused(db, bundle, "entry 3 (Patient", "field fullUrl", "U+0000 (NUL)")


def test_a_nul_written_as_a_json_escape_in_the_file_is_refused_on_the_cli(
        tmp_path: Path) -> None:
    text = PRACTICE.read_text(encoding="utf-8").replace('"Santoni"', '"Santoni\\u0000"')
    poisoned = tmp_path / "poisoned.json"
    poisoned.write_text(text, encoding="utf-8")
    runner = CliRunner()
    base = ["--db", str(tmp_path / "carehub.db"), "--user", "alice"]
    assert runner.invoke(app, [*base, "init"]).exit_code == 0
    result = runner.invoke(app, [*base, "import", "fhir", str(poisoned)])
    assert result.exit_code == 1
    assert isinstance(result.exception, InputError)
    assert "poisoned.json: entry 3 (Patient" in result.exception.message
    assert "field name[0].family" in result.exception.message
    listed = runner.invoke(app, [*base, "patients", "list", "--json"])
    assert json.loads(listed.stdout) == []


def test_tabs_become_spaces_with_a_warning_and_line_breaks_stay(db: Database) -> None:
    bundle = load("practice_export.json")
    entry_of(bundle, "pat-001")["name"][0]["given"] = ["Marie\tAntoinette"]
    entry_of(bundle, "pat-001")["address"][0]["line"][0] = "\t2 rue\x0bdu Port"
    bundle["entry"][10]["resource"]["code"]["text"] = "HbA1c\r\n(dosage)"
    given_before = copy.deepcopy(entry_of(bundle, "pat-001")["name"][0]["given"])
    report = run_import(db, bundle)
    assert report.patients_created == 3
    assert ("Entry 3 (Patient): tabs replaced by spaces in name[0].given[0], "
            "address[0].line[0].") in report.warnings
    assert any(w.startswith("Entrée 3 (Patient) : tabulations remplacées")
               for w in report.warnings_fr)
    assert entry_of(bundle, "pat-001")["name"][0]["given"] == given_before  # not modified
    with db.session() as session:
        marie = patient_by_name(session, "Santoni")
        assert marie.given_names == "Marie Antoinette"
        assert marie.address_line == "2 rue du Port, Bâtiment B"
        displays = {f.display for f in session.exec(select(ClinicalFact).where(
            ClinicalFact.patient_id == marie.id))}
    assert "HbA1c\r\n(dosage)" in displays


def test_a_control_character_in_an_ignored_resource_does_not_refuse_the_caseload(
        db: Database) -> None:
    bundle = load("practice_export.json")
    bundle["entry"][19]["resource"]["description"] = "scan\x00"
    report = run_import(db, bundle)
    assert (report.patients_created, report.ignored) == (3, {"DocumentReference": 1})


@pytest.mark.parametrize(("change", "expected"), [
    ({"type": "searchset"}, "Bundle type 'searchset' is not imported"),
    ({"resourceType": "Patient"}, "not a FHIR Bundle"),
])
def test_other_bundles_are_refused(db: Database, change: dict[str, str], expected: str) -> None:
    assert_refused(db, {**load("patient_without_ins.json"), **change}, expected)


def test_a_resource_type_that_is_not_fhir_is_refused(db: Database) -> None:
    bundle = load("patient_without_ins.json")
    bundle["entry"][1]["resource"]["resourceType"] = "Observaton"
    assert_refused(db, bundle, "entry 2 (Observaton", "not a FHIR R4 resource type")


def test_malformed_json_gives_line_and_column(db: Database) -> None:
    with db.transaction() as session, pytest.raises(InputError) as caught:
        import_fhir_file(session, path=DATA / "malformed.json", actor="alice", assign_to=None)
    assert "malformed.json: invalid JSON at line 5, column 43" in caught.value.message
    assert "ligne 5, colonne 43" in caught.value.message_fr


def test_missing_file_is_a_clear_error(db: Database, tmp_path: Path) -> None:
    with db.transaction() as session, pytest.raises(InputError, match="No such file"):
        import_fhir_file(session, path=tmp_path / "absent.json", actor="alice", assign_to=None)


# --- the command line ---------------------------------------------------------------------

def test_cli_imports_and_lists_the_patients(tmp_path: Path) -> None:
    runner = CliRunner()
    path = tmp_path / "carehub.db"
    base = ["--db", str(path), "--user", "alice"]
    assert runner.invoke(app, [*base, "init"]).exit_code == 0
    result = runner.invoke(app, [*base, "import", "fhir", str(PRACTICE), "--assign-to", "bob",
                                 "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["patients"]["created"] == 3
    listed = runner.invoke(app, [*base, "patients", "list", "--json"])  # roles not set up
    rows = {row["ins"]: row for row in json.loads(listed.stdout)}
    marie = rows["253072B07300470"]
    assert (marie["birth_name"], marie["used_name"], marie["given_names"]) == (
        "Santoni", "Casanova", "Marie Antoinette")
    assert (marie["birth_date"], marie["commune"], marie["care_manager"]) == (
        "1953-07-14", "2A004", "bob")
    assert marie["id"]
    again = runner.invoke(app, [*base, "import", "fhir", str(PRACTICE)])
    assert "patients 0 created, 0 updated, 3 unchanged" in again.stdout


def test_cli_bad_bundle_exits_1_with_the_message_on_stderr(tmp_path: Path) -> None:
    path = tmp_path / "carehub.db"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    command = [sys.executable, "-m", "carehub.cli", "--db", str(path), "--user", "alice"]
    subprocess.run([*command, "init"], env=env, check=True, capture_output=True, timeout=120)
    result = subprocess.run([*command, "import", "fhir", str(DATA / "invalid_birth_date.json")],
                            env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 1
    assert "entry 2 (Patient" in result.stderr and "birthDate" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    in_process = CliRunner().invoke(app, ["--db", str(path), "import", "fhir",
                                          str(DATA / "invalid_birth_date.json")])
    assert in_process.exit_code == 1
    assert isinstance(in_process.exception, InputError)


@pytest.mark.parametrize("reference", [
    "https://cabinet-santoni.example/fhir/Patient/pat-003/_history/2",
    "urn:uuid:6f1c2e0a-0000-4000-8000-000000000001",  # Marie's fullUrl
])
def test_subject_references_resolve_by_full_url_or_type_and_id(db: Database,
                                                               reference: str) -> None:
    bundle = load("practice_export.json")
    entry_of(bundle, "c-300")["subject"] = {"reference": reference}
    run_import(db, bundle)
    with db.session() as session:
        owner = session.exec(select(Patient).join(
            FactCoding, col(FactCoding.patient_id) == Patient.id).where(
            FactCoding.code == "I509")).one()
    assert owner.birth_name == ("Nguyen" if "pat-003" in reference else "Santoni")
