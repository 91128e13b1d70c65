"""Cohort search on crafted patients that sit on every boundary of the two reference searches,
plus each criterion and operator, the care-manager scope and the `carehub query` command."""

from __future__ import annotations

import json
import uuid
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from carehub.cli import app
from carehub.cohort.parser import QuerySyntaxError
from carehub.cohort.service import run_query
from carehub.db import Database
from carehub.users.services import add_coverage
from tests.cohort_helpers import add_fact, add_patient

AS_OF = date(2025, 6, 15)
REFERENCE_1 = ("sex F and age 25..45 and condition E04* and act mammography within 2y "
               "except pregnant")
REFERENCE_2 = ("condition E10*,E11*,icpc2:T89,icpc2:T90 and medication A10A* and lab 4548-4 "
               "count >= 3 within 1y\n  and contact etp within 1y and vaccine flu within 1y")
GOITRE = ("icd10", "E04.9")
MAMMOGRAPHY = ("snomed", "71651007")
PREGNANCY = ("icd10", "Z34.9")
HBA1C = ("loinc", "4548-4")
INSULIN = ("atc", "A10AE04")
ETP = ("snomed", "311401005")
FLU = ("cvx", "141")


def names(session: Session, ids: object) -> set[str]:
    from carehub.caseload.models import Patient

    return {session.get(Patient, i).birth_name for i in ids}  # type: ignore[union-attr, attr-defined]


def woman(session: Session, name: str, *, born: date = date(1990, 1, 1), goitre: bool = True,
          mammography: date | None = date(2024, 6, 1)) -> uuid.UUID:
    patient = add_patient(session, name, born=born)
    if goitre:
        add_fact(session, patient, "condition", GOITRE, start=date(2020, 3, 1), status="active")
    if mammography:
        add_fact(session, patient, "procedure", MAMMOGRAPHY, start=mammography,
                 status="completed")
    return patient


def test_first_reference_search_at_its_edges(db: Database) -> None:
    with db.transaction() as session:
        woman(session, "IN_25_TODAY", born=date(2000, 6, 15))
        woman(session, "OUT_24_UNTIL_TOMORROW", born=date(2000, 6, 16))
        woman(session, "IN_45_UNTIL_TOMORROW", born=date(1979, 6, 16))
        woman(session, "OUT_46_TODAY", born=date(1979, 6, 15))
        woman(session, "IN_MAMMO_EXACTLY_2Y", mammography=date(2023, 6, 15))
        woman(session, "OUT_MAMMO_2Y_AND_A_DAY", mammography=date(2023, 6, 14))
        woman(session, "OUT_MAMMO_TOMORROW", mammography=date(2025, 6, 16))
        woman(session, "IN_MAMMO_TODAY", mammography=AS_OF)
        loinc = woman(session, "IN_MAMMO_AS_LOINC_REPORT", mammography=None)
        add_fact(session, loinc, "observation", ("loinc", "24606-6"), start=date(2025, 1, 2))
        ccam = woman(session, "IN_MAMMO_AS_CCAM", mammography=None)
        add_fact(session, ccam, "procedure", ("ccam", "QEQK004"), start=date(2025, 1, 2))
        woman(session, "OUT_NO_MAMMO", mammography=None)
        woman(session, "OUT_NO_GOITRE", goitre=False)
        other = woman(session, "OUT_E05_NOT_GOITRE", goitre=False)
        add_fact(session, other, "condition", ("icd10", "E05.0"), start=date(2020, 1, 1))
        dotless = woman(session, "IN_GOITRE_E040_NO_DOT", goitre=False)
        add_fact(session, dotless, "condition", ("icd10", "e040"), start=date(2020, 1, 1))
        resolved = woman(session, "OUT_GOITRE_RESOLVED", goitre=False)
        add_fact(session, resolved, "condition", GOITRE, start=date(2020, 1, 1),
                 status="resolved")
        abated = woman(session, "OUT_GOITRE_ABATED_TODAY", goitre=False)
        add_fact(session, abated, "condition", GOITRE, start=date(2020, 1, 1), end=AS_OF)
        later = woman(session, "IN_GOITRE_ABATES_TOMORROW", goitre=False)
        add_fact(session, later, "condition", GOITRE, start=date(2020, 1, 1),
                 end=date(2025, 6, 16))
        future = woman(session, "OUT_GOITRE_FROM_TOMORROW", goitre=False)
        add_fact(session, future, "condition", GOITRE, start=date(2025, 6, 16))
        undated = woman(session, "IN_GOITRE_UNDATED", goitre=False)
        add_fact(session, undated, "condition", GOITRE)
        nine = woman(session, "OUT_PREGNANT_9_MONTHS")
        add_fact(session, nine, "condition", PREGNANCY, start=date(2024, 9, 15))
        ten = woman(session, "IN_PREGNANCY_BEGAN_10_MONTHS_AGO")
        add_fact(session, ten, "condition", PREGNANCY, start=date(2024, 8, 15))
        delivered = woman(session, "IN_PREGNANCY_ENDED")
        add_fact(session, delivered, "condition", PREGNANCY, start=date(2025, 1, 1),
                 end=date(2025, 6, 1))
        today = woman(session, "IN_PREGNANCY_ABATED_TODAY")
        add_fact(session, today, "condition", PREGNANCY, start=date(2025, 1, 1), end=AS_OF)
        tomorrow = woman(session, "OUT_PREGNANCY_ABATES_TOMORROW")
        add_fact(session, tomorrow, "condition", PREGNANCY, start=date(2025, 1, 1),
                 end=date(2025, 6, 16))
        icpc = woman(session, "OUT_PREGNANT_ICPC2_W78")
        add_fact(session, icpc, "condition", ("icpc2", "W78"), start=date(2025, 3, 1))
        man = add_patient(session, "OUT_MAN", sex="M", born=date(1990, 1, 1))
        add_fact(session, man, "condition", GOITRE, start=date(2020, 1, 1))
        add_fact(session, man, "procedure", MAMMOGRAPHY, start=date(2025, 1, 1))
    with db.session() as session:
        found = names(session, run_query(session, expr=REFERENCE_1, as_of=AS_OF))
    assert found == {
        "IN_25_TODAY", "IN_45_UNTIL_TOMORROW", "IN_MAMMO_EXACTLY_2Y", "IN_MAMMO_TODAY",
        "IN_MAMMO_AS_LOINC_REPORT", "IN_MAMMO_AS_CCAM", "IN_GOITRE_E040_NO_DOT",
        "IN_GOITRE_ABATES_TOMORROW", "IN_GOITRE_UNDATED", "IN_PREGNANCY_BEGAN_10_MONTHS_AGO",
        "IN_PREGNANCY_ENDED", "IN_PREGNANCY_ABATED_TODAY"}


def diabetic(session: Session, name: str, *, condition: tuple[str, str] = ("icd10", "E11.9"),
             medication: tuple[str, str] = INSULIN, medication_end: date | None = None,
             hba1c: tuple[date, ...] = (date(2024, 6, 15), date(2024, 12, 1), AS_OF),
             etp: str | None = "encounter", flu: date | None = date(2024, 10, 20)) -> None:
    patient = add_patient(session, name, sex="M", born=date(1950, 5, 5))
    add_fact(session, patient, "condition", condition, start=date(2015, 1, 1), status="active")
    add_fact(session, patient, "medication", medication, start=date(2016, 1, 1),
             end=medication_end, status="active")
    for day in hba1c:
        add_fact(session, patient, "observation", HBA1C, start=day, status="final")
    if etp:
        add_fact(session, patient, etp, ETP, start=date(2025, 2, 1))
    if flu:
        add_fact(session, patient, "immunization", FLU, start=flu, status="completed")


def test_second_reference_search_at_its_edges(db: Database) -> None:
    with db.transaction() as session:
        diabetic(session, "IN_ICD10_E11")
        diabetic(session, "IN_ICD10_E10", condition=("icd10", "E10.9"))
        diabetic(session, "IN_ICPC2_T90", condition=("icpc2", "T90"))
        diabetic(session, "IN_ICPC2_T89", condition=("icpc2", "T89"))
        diabetic(session, "OUT_ICD10_T90_IS_NOT_DIABETES", condition=("icd10", "T90"))
        diabetic(session, "OUT_E13", condition=("icd10", "E13.9"))
        diabetic(session, "OUT_METFORMIN", medication=("atc", "A10BA02"))
        diabetic(session, "OUT_INSULIN_STOPPED_YESTERDAY", medication_end=date(2025, 6, 14))
        diabetic(session, "IN_INSULIN_ENDS_TODAY", medication_end=AS_OF)
        diabetic(session, "OUT_2_HBA1C", hba1c=(date(2024, 12, 1), AS_OF))
        diabetic(session, "OUT_3_HBA1C_2_SAME_DAY",
                 hba1c=(date(2024, 12, 1), date(2024, 12, 1), AS_OF))
        diabetic(session, "OUT_OLDEST_HBA1C_1Y_AND_A_DAY",
                 hba1c=(date(2024, 6, 14), date(2024, 12, 1), AS_OF))
        diabetic(session, "IN_4_HBA1C", hba1c=(date(2024, 7, 1), date(2024, 9, 1),
                                               date(2024, 12, 1), AS_OF))
        diabetic(session, "IN_ETP_AS_PROCEDURE", etp="procedure")
        diabetic(session, "OUT_NO_ETP", etp=None)
        diabetic(session, "OUT_NO_FLU", flu=None)
        diabetic(session, "OUT_FLU_TOO_OLD", flu=date(2024, 6, 14))
        diabetic(session, "IN_FLU_EXACTLY_1Y", flu=date(2024, 6, 15))
    with db.session() as session:
        found = names(session, run_query(session, expr=REFERENCE_2, as_of=AS_OF))
    assert found == {"IN_ICD10_E11", "IN_ICD10_E10", "IN_ICPC2_T90", "IN_ICPC2_T89",
                     "IN_INSULIN_ENDS_TODAY", "IN_4_HBA1C", "IN_ETP_AS_PROCEDURE",
                     "IN_FLU_EXACTLY_1Y"}


@pytest.fixture
def small(db: Database) -> Database:
    """Four people: a pregnant young woman, a frail old diabetic man, a woman with no facts at
    all and a man with a goitre who lives in Blois."""
    with db.transaction() as session:
        young = add_patient(session, "ANNE", sex="F", born=date(1998, 2, 1), fragility=0,
                            commune="41269", manager="alice")
        add_fact(session, young, "condition", PREGNANCY, start=date(2025, 1, 10))
        add_fact(session, young, "immunization", ("atc", "J07BB02"), start=date(2024, 11, 2))
        old = add_patient(session, "BERNARD", sex="M", born=date(1940, 6, 15), fragility=3,
                          commune="41018", manager="bob")
        add_fact(session, old, "condition", ("icd10", "E11.9"), start=date(2010, 1, 1))
        for day in (date(2025, 1, 5), date(2025, 4, 5)):
            add_fact(session, old, "observation", HBA1C, start=day)
        add_fact(session, old, "medication", INSULIN, start=date(2020, 1, 1),
                 end=date(2024, 12, 31), status="stopped")
        add_fact(session, old, "encounter", ETP, start=date(2023, 3, 3))
        add_patient(session, "CLAIRE", sex="F", born=date(1975, 6, 16), manager="alice")
        goitre = add_patient(session, "DIDIER", sex="M", born=date(1960, 1, 1),
                             commune="41018", manager="bob")
        add_fact(session, goitre, "condition", GOITRE, start=date(2024, 1, 1))
        # Alice covers for Bob (the CLI checks who sees what): she sees all four.
        add_coverage(session, user="alice", covers="bob", starts_on=date.today(),
                     ends_on=date.today(), actor="alice")
    return db


@pytest.mark.parametrize(("expr", "expected"), [
    ("sex F", {"ANNE", "CLAIRE"}),
    ("sex m", {"BERNARD", "DIDIER"}),
    ("age >= 85", {"BERNARD"}),  # 85 today
    ("age > 85", set()),
    ("age < 50", {"ANNE", "CLAIRE"}),  # Claire turns 50 tomorrow
    ("age = 49", {"CLAIRE"}),
    ("age 27..27", {"ANNE"}),
    ("fragility >= 2", {"BERNARD"}),
    ("fragility < 2", {"ANNE"}),  # no level recorded: neither < 2 nor >= 2
    ("not fragility < 2", {"BERNARD", "CLAIRE", "DIDIER"}),
    ("commune 41018", {"BERNARD", "DIDIER"}),
    ("commune 41269, 41018", {"ANNE", "BERNARD", "DIDIER"}),
    ("not commune 41018", {"ANNE", "CLAIRE"}),
    ("pregnant", {"ANNE"}),
    ("condition E11*", {"BERNARD"}),
    ("condition E119", {"BERNARD"}),
    ("condition E11", set()),  # an exact code is not a prefix
    ("condition diabetes", {"BERNARD"}),
    ("not condition E11*", {"ANNE", "CLAIRE", "DIDIER"}),
    ("medication A10A*", set()),  # stopped at the end of 2024
    ("medication A10A* within 1y", {"BERNARD"}),  # but taken during the last year
    ("medication A10A* since 2025-01-01", set()),
    ("lab 4548-4", {"BERNARD"}),
    ("lab hba1c count >= 2 within 6m", {"BERNARD"}),
    ("lab hba1c count >= 2 within 3m", set()),
    ("lab 4548-4 count < 2", {"ANNE", "CLAIRE", "DIDIER"}),  # none counts as fewer than 2
    ("lab 4548-4 count = 0", {"ANNE", "CLAIRE", "DIDIER"}),
    ("contact etp", {"BERNARD"}),
    ("contact etp within 2y", set()),
    ("vaccine flu within 1y", {"ANNE"}),  # ATC J07BB* as well as CVX
    ("vaccine flu within 200 d", set()),
    ("vaccine flu since 2024-11-02", {"ANNE"}),
    ("not vaccine flu within 1y", {"BERNARD", "CLAIRE", "DIDIER"}),
    ("sex F except pregnant", {"CLAIRE"}),
    ("sex F and not pregnant", {"CLAIRE"}),
    ("sex F sauf pregnant ou condition E04*", {"CLAIRE", "DIDIER"}),
    ("sex F except (pregnant or condition E04*)", {"CLAIRE"}),
    ("non (sex F et age < 30)", {"BERNARD", "CLAIRE", "DIDIER"}),
    ("sex M or sex F and pregnant", {"ANNE", "BERNARD", "DIDIER"}),
    ("(sex M or sex F) and pregnant", {"ANNE"}),
])
def test_each_criterion_and_operator(small: Database, expr: str, expected: set[str]) -> None:
    with small.session() as session:
        assert names(session, run_query(session, expr=expr, as_of=AS_OF)) == expected


def test_results_come_in_name_order_and_can_be_kept_to_one_care_manager(small: Database) -> None:
    with small.session() as session:
        everyone = run_query(session, expr="age >= 0", as_of=AS_OF)
        hers = run_query(session, expr="age >= 0", as_of=AS_OF, care_manager="alice")
        assert [names(session, [i]).pop() for i in everyone] == [
            "ANNE", "BERNARD", "CLAIRE", "DIDIER"]
        assert names(session, hers) == {"ANNE", "CLAIRE"}


def test_a_bad_query_raises_before_touching_the_database(small: Database) -> None:
    with small.session() as session, pytest.raises(QuerySyntaxError) as caught:
        run_query(session, expr="sex F and and", as_of=AS_OF)
    assert caught.value.column == 11


runner = CliRunner()


def test_cli_query_prints_the_patients_like_patients_list(small: Database,
                                                          db_path: Path) -> None:
    result = runner.invoke(app, ["--db", str(db_path), "--user", "alice", "query",
                                 "sex F sauf pregnant",
                                 "--as-of", AS_OF.isoformat(), "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    listed = json.loads(runner.invoke(app, ["--db", str(db_path), "--user", "alice",
                                            "patients", "list", "--json"]).stdout)
    assert rows == [row for row in listed if row["birth_name"] == "CLAIRE"]
    assert set(rows[0]) >= {"id", "ins", "birth_name", "given_names", "birth_date", "commune"}


def test_cli_as_of_changes_the_answer_and_mine_keeps_the_users_patients(
        small: Database, db_path: Path) -> None:
    def born(*args: str) -> list[str]:
        result = runner.invoke(app, ["--db", str(db_path), "--user", "alice", *args, "--json"])
        assert result.exit_code == 0, result.output
        return [row["birth_name"] for row in json.loads(result.stdout)]

    assert born("query", "age >= 50", "--as-of", "2025-06-15") == ["BERNARD", "DIDIER"]
    assert born("query", "age >= 50", "--as-of", "2025-06-16") == ["BERNARD", "CLAIRE",
                                                                   "DIDIER"]
    assert born("query", "age >= 50", "--as-of", "2025-06-16", "--mine") == ["CLAIRE"]


def test_cli_syntax_error_exits_1_with_the_english_message(
        small: Database, db_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from carehub.cli import main

    # main() is what the installed `carehub` script runs.
    monkeypatch.setattr("sys.argv", ["carehub", "--db", str(db_path), "query",
                                     "sex F and (age > 30", "--json"])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ("error: Query syntax error at column 20: expected ')', 'and', "
                            "'or' or 'except', found the end of the query.\n")
