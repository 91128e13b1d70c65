"""`carehub demo`: a reproducible, realistic synthetic caseload to try every feature on."""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import Session, col, func, select
from typer.testing import CliRunner

from carehub.caseload.demo import generate_demo
from carehub.caseload.models import (
    ClinicalFact,
    Consent,
    FactCoding,
    Patient,
    PatientPhone,
    RelatedPerson,
)
from carehub.caseload.services import (
    list_patients,
    search_patient_ids,
    search_text_for,
    sort_key_for,
)
from carehub.cli import app
from carehub.coordination.audit import AuditEvent, verify_chain
from carehub.db import Database
from carehub.directory.models import Commune
from carehub.errors import InputError
from carehub.identifiers import ins_problem, is_valid_rpps
from carehub.phones import parse_phone
from carehub.sync.outbox import OutboxEntry
from tests.cohort_helpers import mismatched_copies
from tests.db_helpers import fresh_database

AS_OF = date(2025, 11, 3)
CASELOAD_SIZE = 400


def fill(database: Database, *, patients: int, seed: int, as_of: date = AS_OF) -> None:
    with database.transaction() as session:
        generate_demo(session, patients=patients, seed=seed, actor="nurse", as_of=as_of)


@pytest.fixture(scope="module")
def caseload(tmp_path_factory: pytest.TempPathFactory,
             template_db: tuple[Path, str]) -> Iterator[Database]:
    """One demo caseload shared by the read-only checks below."""
    database = fresh_database(tmp_path_factory.mktemp("demo") / "db", template_db)
    fill(database, patients=CASELOAD_SIZE, seed=11)
    yield database
    database.close()


@pytest.fixture
def session(caseload: Database) -> Iterator[Session]:
    with caseload.session() as session:
        yield session


def content(database: Database) -> dict[str, Any]:
    """Everything the demo writes, ids included, in a stable order.

    The care manager's own id is left out: each database created its user itself.
    """
    with database.session() as session:
        tables = {
            name: [{k: v for k, v in row._mapping.items() if k != "care_manager_id"}
                   for row in session.execute(text(f"SELECT * FROM {name} ORDER BY {order}"))]
            for name, order in (("patient", "id"), ("patient_phone", "id"),
                                ("related_person", "id"), ("consent", "id"),
                                ("clinical_fact", "id"), ("fact_coding", "id"))
        }
        return {"list": list_patients(session), **tables}


def age(born: date, on: date = AS_OF) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def patients_with_codes(session: Session, *prefixes: str) -> set[Any]:
    query = select(FactCoding.patient_id).join(
        ClinicalFact, col(ClinicalFact.id) == FactCoding.fact_id).where(
        ClinicalFact.kind == "condition",
        func.substr(FactCoding.code, 1, len(prefixes[0])).in_(prefixes))
    return set(session.exec(query))


# ---------------------------------------------------------------- reproducibility


def test_same_seed_and_date_give_the_same_database_and_another_seed_another(
        tmp_path: Path, template_db: tuple[Path, str]) -> None:
    first = fresh_database(tmp_path / "a", template_db)
    second = fresh_database(tmp_path / "b", template_db)
    other = fresh_database(tmp_path / "c", template_db)
    try:
        fill(first, patients=60, seed=5)
        fill(second, patients=60, seed=5)
        fill(other, patients=60, seed=6)
        same, again, different = content(first), content(second), content(other)
        assert same == again
        assert len(same["clinical_fact"]) > 60 * 5
        assert {p["ins"] for p in same["list"]}.isdisjoint({p["ins"] for p in different["list"]})
        assert same["clinical_fact"] != different["clinical_fact"]
    finally:
        for database in (first, second, other):
            database.close()


def test_drawing_in_a_child_process_gives_the_same_rows(
        tmp_path: Path, template_db: tuple[Path, str]) -> None:
    inline = fresh_database(tmp_path / "inline", template_db)
    child = fresh_database(tmp_path / "child", template_db)
    try:
        for database, parallel in ((inline, False), (child, True)):
            with database.transaction() as session:
                generate_demo(session, patients=30, seed=9, actor="nurse", as_of=AS_OF,
                              parallel=parallel)
        assert content(inline) == content(child)
    finally:
        inline.close()
        child.close()


def test_a_second_run_adds_new_patients_without_ins_collisions(
        tmp_path: Path, template_db: tuple[Path, str]) -> None:
    database = fresh_database(tmp_path / "db", template_db)
    try:
        fill(database, patients=40, seed=1)
        fill(database, patients=40, seed=1)  # same seed again: other draws, other patients
        with database.session() as session:
            ins = list(session.exec(select(Patient.ins)))
            ids = list(session.exec(select(Patient.id)))
        assert len(ins) == len(set(ins)) == 80
        assert len(set(ids)) == 80
    finally:
        database.close()


def test_a_caseload_of_no_patient_is_refused(db: Database) -> None:
    with pytest.raises(InputError), db.transaction() as session:
        generate_demo(session, patients=0, seed=1, actor="nurse", as_of=AS_OF)


def test_the_cli_fills_a_new_database_and_lists_the_patients(tmp_path: Path) -> None:
    runner = CliRunner()
    path = tmp_path / "carehub.db"
    assert runner.invoke(app, ["--db", str(path), "--user", "alice", "init"]).exit_code == 0
    result = runner.invoke(app, ["--db", str(path), "--user", "alice", "demo", "--patients", "50",
                                 "--seed", "3", "--as-of", "2025-11-03"])
    assert result.exit_code == 0, result.output
    assert "Added 50 demo patients (seed 3" in result.output
    listed = runner.invoke(app, ["--db", str(path), "--user", "alice", "patients", "list",
                                 "--json"])
    patients = json.loads(listed.stdout)
    assert len(patients) == 50
    assert {p["care_manager"] for p in patients} == {"alice"}
    verify = runner.invoke(app, ["--db", str(path), "audit", "verify"])
    assert verify.exit_code == 0, verify.output


# ---------------------------------------------------------------- identities and contact


def test_every_ins_is_valid_unique_and_matches_sex_and_birth(session: Session) -> None:
    patients = list(session.exec(select(Patient)))
    assert len(patients) == CASELOAD_SIZE
    assert len({p.ins for p in patients}) == CASELOAD_SIZE
    for patient in patients:
        assert patient.ins is not None and ins_problem(patient.ins) is None, patient.ins
        assert patient.ins_kind == "demo"
        assert patient.ins[0] == ("1" if patient.sex == "M" else "2")
        assert patient.ins[1:5] == f"{patient.birth_date:%y%m}"
    statuses = [p.identity_status for p in patients]
    assert statuses.count("provisional") < CASELOAD_SIZE * 0.2
    assert statuses.count("qualified") + statuses.count("validated") > CASELOAD_SIZE * 0.8


def test_every_phone_is_a_valid_french_number_stored_e164(session: Session) -> None:
    phones = list(session.exec(select(PatientPhone)))
    per_patient: dict[Any, int] = {}
    for phone in phones:
        parsed = parse_phone(phone.e164)
        assert (parsed.e164, parsed.kind) == (phone.e164, phone.kind)
        assert phone.e164[3] in "267"  # 02 (Centre-Val de Loire), 06/07 mobiles
        assert not phone.sms_consent or phone.kind == "mobile"
        per_patient[phone.patient_id] = per_patient.get(phone.patient_id, 0) + 1
    assert len(per_patient) == CASELOAD_SIZE
    assert set(per_patient.values()) <= {1, 2}
    assert {"mobile", "fixed"} <= {p.kind for p in phones}
    for person in session.exec(select(RelatedPerson)):
        assert person.phone_e164 is None or parse_phone(person.phone_e164).e164 == \
            person.phone_e164


def test_patients_live_in_real_communes_of_loir_et_cher(session: Session) -> None:
    rows = session.exec(select(Patient.commune_insee, Patient.postal_code, Commune.department,
                               Commune.postal_codes)
                        .outerjoin(Commune, col(Commune.insee) == Patient.commune_insee)).all()
    for insee, postal_code, department, postal_codes in rows:
        assert department == "41", insee
        assert postal_code and postal_code in postal_codes
    assert len({r[0] for r in rows}) > 50  # spread over the département's villages


def test_search_fields_are_those_the_services_compute(session: Session) -> None:
    patient = session.exec(select(Patient).order_by(col(Patient.sort_key))).first()
    assert patient is not None
    phones = session.exec(select(PatientPhone.e164).where(PatientPhone.patient_id == patient.id)
                          .order_by(col(PatientPhone.position))).all()
    commune = session.get(Commune, patient.commune_insee)
    assert commune is not None
    assert patient.search_text == search_text_for(
        names=[patient.birth_name, patient.used_name, patient.given_names], ins=patient.ins,
        phones=list(phones), commune_name=commune.name)
    assert patient.sort_key == sort_key_for(used_name=patient.used_name,
                                            birth_name=patient.birth_name,
                                            given_names=patient.given_names)
    assert patient.id in search_patient_ids(session, text=patient.given_names.split()[0])
    assert patient.created_at.tzinfo is not None  # stored the way the ORM stores it


def test_the_population_is_old_with_a_few_younger_adults(session: Session) -> None:
    ages = [age(born) for born in session.exec(select(Patient.birth_date))]
    assert statistics.median(ages) > 65
    assert min(ages) >= 18 and max(ages) <= 101
    assert 0.05 < sum(a < 60 for a in ages) / len(ages) < 0.3
    assert sum(a >= 85 for a in ages) / len(ages) > 0.1


def test_care_details_are_filled_at_plausible_rates(session: Session) -> None:
    patients = list(session.exec(select(Patient)))
    with_gp = [p for p in patients if p.gp_rpps]
    assert 0.8 < len(with_gp) / len(patients) < 1
    assert all(is_valid_rpps(p.gp_rpps or "") and p.gp_name for p in with_gp)
    assert {p.status for p in patients} == {"active", "paused", "closed", "deceased"}
    assert all(p.deceased_date for p in patients if p.status == "deceased")
    assert {p.fragility_level for p in patients} == {0, 1, 2, 3}
    old = [p.fragility_level or 0 for p in patients if age(p.birth_date) >= 85]
    young = [p.fragility_level or 0 for p in patients if age(p.birth_date) < 60]
    assert statistics.mean(old) > statistics.mean(young) + 0.5
    assert any(p.used_name for p in patients if p.sex == "F")
    assert any(p.call_after for p in patients) and any(p.email for p in patients)
    assert any(p.deaf_or_hard_of_hearing for p in patients)
    assert any(p.no_car for p in patients) and any(p.advance_directives for p in patients)
    new_arrivals = [p for p in patients if p.registered_on and
                    p.registered_on > AS_OF - timedelta(days=42)]
    assert 0 < len(new_arrivals) < len(patients) * 0.1
    related = list(session.exec(select(RelatedPerson)))
    assert any(r.is_caregiver for r in related) and any(r.is_trusted_person for r in related)
    assert {r.guardianship for r in related if r.is_legal_guardian} == {"tutelle", "curatelle"}
    consents = {c.kind for c in session.exec(select(Consent))}
    assert consents == {"followup", "team_sharing", "dmp"}


# ---------------------------------------------------------------- clinical history


def test_chronic_conditions_have_plausible_prevalence(session: Session) -> None:
    diabetic = patients_with_codes(session, "E10", "E11")
    heart_failure = patients_with_codes(session, "I50")
    assert 0.08 < len(diabetic) / CASELOAD_SIZE < 0.3
    assert 0.02 < len(heart_failure) / CASELOAD_SIZE < 0.15
    for prefix in ("I10", "J44", "I48", "E04"):
        assert patients_with_codes(session, prefix), prefix
    assert patients_with_codes(session, "F03") | patients_with_codes(session, "G30")
    icpc2 = session.exec(select(func.count()).select_from(FactCoding)
                         .where(FactCoding.system == "icpc2", FactCoding.code == "T90")).one()
    assert icpc2 > 0


def test_diabetics_have_hba1c_several_times_a_year_and_treatments(session: Session) -> None:
    diabetic = patients_with_codes(session, "E10", "E11")
    hba1c = session.exec(select(FactCoding.patient_id, func.count())
                         .where(FactCoding.system == "loinc", FactCoding.code == "4548-4")
                         .group_by(col(FactCoding.patient_id))).all()
    followed = {patient for patient, _n in hba1c}
    assert followed <= diabetic
    assert max(n for _p, n in hba1c) >= 10
    values = session.exec(select(ClinicalFact.value_num, ClinicalFact.value_unit)
                          .where(ClinicalFact.display == "Hémoglobine A1c")).all()
    assert all(unit == "%" and value is not None and 5 <= value <= 13 for value, unit in values)
    metformin = session.exec(select(FactCoding.patient_id).where(
        FactCoding.system == "atc", FactCoding.code == "A10BA02")).all()
    assert set(metformin) <= diabetic and metformin


def test_history_spans_ten_years_up_to_the_as_of_date(session: Session) -> None:
    first, last = session.exec(select(func.min(ClinicalFact.start_date),
                                      func.max(ClinicalFact.start_date))).one()
    assert first is not None and last is not None
    assert AS_OF - timedelta(days=3653) <= first <= AS_OF - timedelta(days=3300)
    assert last <= AS_OF
    kinds = set(session.exec(select(ClinicalFact.kind).distinct()))
    assert kinds == {"condition", "medication", "observation", "procedure", "immunization",
                     "encounter", "allergy"}
    systems = set(session.exec(select(FactCoding.system).distinct()))
    assert systems == {"icd10", "icpc2", "atc", "loinc", "snomed", "cvx", "ccam", "v3-actcode"}


def test_some_stays_ended_in_the_last_days_for_discharge_follow_up(session: Session) -> None:
    stays = session.exec(select(ClinicalFact.start_date, ClinicalFact.end_date)
                         .where(ClinicalFact.encounter_class == "IMP")).all()
    assert all(start and end and start <= end for start, end in stays)
    assert any(end and AS_OF - timedelta(days=5) <= end <= AS_OF for _start, end in stays)
    etp = session.exec(select(func.count()).select_from(FactCoding).where(
        FactCoding.system == "snomed", FactCoding.code == "311401005")).one()
    assert etp > 0


def test_mammography_histories_are_up_to_date_overdue_or_never(session: Session) -> None:
    women = [p.id for p in session.exec(select(Patient).where(Patient.sex == "F"))
             if 52 <= age(p.birth_date) <= 74]
    last_done: dict[Any, date] = {}
    rows = session.exec(select(ClinicalFact.patient_id, ClinicalFact.start_date)
                        .join(FactCoding, col(FactCoding.fact_id) == ClinicalFact.id)
                        .where(FactCoding.system == "snomed", FactCoding.code == "71651007"))
    for patient_id, day in rows:
        assert day is not None
        last_done[patient_id] = max(day, last_done.get(patient_id, day))
    recent = [w for w in women if w in last_done and last_done[w] > AS_OF - timedelta(days=730)]
    overdue = [w for w in women if w in last_done and w not in recent]
    never = [w for w in women if w not in last_done]
    assert recent and overdue and never


def test_vaccines_are_coded_in_cvx_or_atc(session: Session) -> None:
    flu = session.exec(select(FactCoding.system, FactCoding.code).join(
        ClinicalFact, col(ClinicalFact.id) == FactCoding.fact_id).where(
        ClinicalFact.kind == "immunization")).all()
    assert ("cvx", "141") in flu and ("atc", "J07BB02") in flu
    assert {("cvx", "216"), ("cvx", "187"), ("cvx", "208")} <= set(flu)


def test_every_patient_has_an_audit_event_and_an_outbox_entry(session: Session) -> None:
    events = list(session.exec(select(AuditEvent).where(AuditEvent.entity == "patient")))
    assert len(events) == CASELOAD_SIZE
    assert all(e.action == "create" and e.details == {"source": "demo", "seed": 11}
               for e in events)
    outbox = session.exec(select(func.count()).select_from(OutboxEntry)
                          .where(OutboxEntry.entity == "patient")).one()
    assert outbox == CASELOAD_SIZE
    assert verify_chain(session).intact


def test_every_coding_carries_its_fact_kind_status_and_dates(session: Session) -> None:
    assert mismatched_copies(session) == 0
