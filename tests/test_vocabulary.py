"""The clinical vocabulary file: what it means, and clear errors when a clinician mistypes."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlmodel import col, select

from carehub.caseload.coding import normalize_code
from carehub.caseload.models import ClinicalFact, FactCoding
from carehub.caseload.services import PatientInput, create_patient
from carehub.caseload.vocabulary import coding_condition, load_vocabulary, vocabulary
from carehub.db import Database
from carehub.errors import InputError

DOMAIN_CONCEPTS = {
    "mammography", "fit", "colonoscopy", "cervical_cytology", "hpv_test", "hysterectomy",
    "flu", "dtp", "pneumococcal", "shingles", "covid", "hba1c", "etp", "insulin", "diabetes",
    "breast_cancer_history", "colorectal_high_risk", "pregnant", "hospital_stay",
    "heart_failure", "copd",
}


def test_the_shipped_vocabulary_has_every_concept_with_a_french_label() -> None:
    concepts = vocabulary().concepts
    assert set(concepts) >= DOMAIN_CONCEPTS
    assert concepts["diabetes"].label == "Diabète"
    assert concepts["diabetes"].codes == {"icd10": ("E10*", "E11*", "E12*", "E13*", "E14*"),
                                          "icpc2": ("T89", "T90")}
    assert concepts["breast_cancer_history"].codes["icd10"][-1] == "Z853"  # dots dropped
    assert [c.name for c in vocabulary().in_category("vaccine")] == [
        "flu", "dtp", "pneumococcal", "shingles", "covid"]


def test_an_unknown_concept_names_the_known_ones() -> None:
    with pytest.raises(InputError, match=r"Unknown concept 'grippe'.*flu"):
        vocabulary().concept("grippe")


@pytest.mark.parametrize(("body", "english", "french"), [
    ('[flu]\nlabel = "Grippe"\ncategory = "vaccine"\ncvx_code = ["88"]\n',
     r"line 1, concept \[flu\]: unknown code system 'cvx_code'", "système de codes inconnu"),
    ('# comment\n\n[diabetes]\nlabel = "Diabète"\ncategory = "condition"\nicd10 = []\n',
     r"line 3, concept \[diabetes\]: icd10: empty code list", "liste de codes vide"),
    ('[copd]\ncategory = "condition"\nicd10 = ["J44*"]\n',
     r"concept \[copd\]: missing French label", "libellé manquant"),
    ('[copd]\nlabel = "BPCO"\ncategory = "condition"\n',
     r"concept \[copd\]: no codes", "aucun code"),
    ('[copd\nlabel = "BPCO"\n', "not valid TOML", "fichier TOML invalide"),
])
def test_a_bad_file_is_refused_naming_the_file_and_the_concept(
        tmp_path: Path, body: str, english: str, french: str) -> None:
    path = tmp_path / "mon-vocabulaire.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(InputError, match=english) as caught:
        load_vocabulary(path)
    assert str(path) in str(caught.value)
    assert str(path) in caught.value.message_fr and french in caught.value.message_fr


def _fact_with(db: Database, codings: list[tuple[str, str]]) -> uuid.UUID:
    with db.transaction() as session:
        patient_id = create_patient(session, data=PatientInput(
            birth_name="Roux", given_names="Paul", birth_date="1950-01-01"), actor="alice")
        fact = ClinicalFact(patient_id=patient_id, kind="condition")
        session.add(fact)
        session.flush()
        for system, code in codings:
            session.add(FactCoding.of(fact, system=system, code=normalize_code(code),
                                      original_code=code))
        return fact.id


@pytest.mark.parametrize(("concept", "system", "code", "matches"), [
    ("diabetes", "icd10", "E11.9", True),
    ("diabetes", "icd10", "E11", True),
    ("diabetes", "icd10", "E15", False),
    ("diabetes", "icpc2", "T90", True),
    ("diabetes", "icpc2", "T900", False),  # no star: exact code only
    ("diabetes", "atc", "E11", False),  # right code, wrong system
    ("pregnant", "icd10", "O24.4", True),
    ("pregnant", "icd10", "P00", False),
    ("flu", "atc", "J07BB02", True),
    ("flu", "cvx", "88", True),
    ("breast_cancer_history", "icd10", "Z85.3", True),
])
def test_coding_condition_matches_exact_codes_and_prefixes_per_system(
        db: Database, concept: str, system: str, code: str, matches: bool) -> None:
    fact_id = _fact_with(db, [(system, code)])
    with db.session() as session:
        found = session.exec(select(FactCoding.fact_id).where(coding_condition(concept))).all()
    assert (fact_id in found) is matches


def test_coding_condition_uses_the_system_and_code_index(db: Database) -> None:
    with db.session() as session:
        query = select(col(FactCoding.fact_id)).where(coding_condition("insulin"))
        plan = session.connection().exec_driver_sql(
            "EXPLAIN QUERY PLAN " + str(query.compile(compile_kwargs={"literal_binds": True})))
        assert "ix_coding_cohort" in " ".join(str(row) for row in plan)
