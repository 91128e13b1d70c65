"""The cohort query language as typed: operators, precedence, aliases, codes and errors."""

from __future__ import annotations

from datetime import date

import pytest

from carehub.cohort.parser import (
    Age,
    And,
    Code,
    Commune,
    ConceptRef,
    Count,
    Facts,
    Fragility,
    Not,
    Or,
    Pregnant,
    QuerySyntaxError,
    Sex,
    Since,
    Within,
    parse_query,
)
from carehub.errors import InputError

F, M = Sex("F"), Sex("M")


def test_first_reference_search_reads_as_a_conjunction_with_an_exclusion() -> None:
    tree = parse_query("sex F and age 25..45 and condition E04* and act mammography within 2y "
                       "except pregnant")
    assert tree == And((F, Age(25, 45), Facts("condition", (Code("icd10", "E04", True),)),
                        Facts("act", (ConceptRef("mammography"),), window=Within(2, "y")),
                        Not(Pregnant())))


def test_second_reference_search_mixes_systems_counts_and_windows() -> None:
    tree = parse_query("condition E10*,E11*,icpc2:T89,icpc2:T90 and medication A10A* and "
                       "lab 4548-4 count >= 3 within 1y\n  and contact etp within 1y and "
                       "vaccine flu within 1y")
    assert isinstance(tree, And)
    condition, medication, lab, contact, vaccine = tree.operands
    assert condition == Facts("condition", (Code("icd10", "E10", True), Code("icd10", "E11", True),
                                            Code("icpc2", "T89"), Code("icpc2", "T90")))
    assert medication == Facts("medication", (Code("atc", "A10A", True),))
    assert lab == Facts("lab", (Code("loinc", "4548-4"),), Count(">=", 3), Within(1, "y"))
    assert contact == Facts("contact", (ConceptRef("etp"),), window=Within(1, "y"))
    assert vaccine == Facts("vaccine", (ConceptRef("flu"),), window=Within(1, "y"))


def test_not_binds_tighter_than_and_which_binds_tighter_than_or() -> None:
    assert parse_query("sex F or sex M and not pregnant") == Or((F, And((M, Not(Pregnant())))))
    assert parse_query("(sex F or sex M) and pregnant") == And((Or((F, M)), Pregnant()))
    assert parse_query("not not pregnant") == Not(Not(Pregnant()))


def test_except_is_and_not_at_the_same_level_as_and() -> None:
    assert parse_query("sex F except pregnant and age >= 18") == And(
        (F, Not(Pregnant()), Age(18, None)))
    assert parse_query("sex F except pregnant or sex M") == Or((And((F, Not(Pregnant()))), M))


def test_french_aliases_and_any_case_mean_the_same_query() -> None:
    english = parse_query("sex F and not pregnant or age < 30 except fragility >= 2")
    assert parse_query("SEX f ET NON Pregnant OU Age < 30 SAUF fragility >= 2") == english


@pytest.mark.parametrize(("text", "age"), [
    ("age 25..45", Age(25, 45)), ("age >= 65", Age(65, None)), ("age > 65", Age(66, None)),
    ("age <= 17", Age(None, 17)), ("age < 18", Age(None, 17)), ("age = 70", Age(70, 70)),
    ("age 25 .. 45", Age(25, 45)),
])
def test_age_ranges_are_inclusive_bounds(text: str, age: Age) -> None:
    assert parse_query(text) == age


def test_codes_are_normalised_and_prefixes_choose_the_system() -> None:
    tree = parse_query("condition e04.9, Z85.3*, icpc2:t90, snomed:77386006")
    assert tree == Facts("condition", (Code("icd10", "E049"), Code("icd10", "Z853", True),
                                       Code("icpc2", "T90"), Code("snomed", "77386006")))
    assert parse_query("medication A10AE04") == Facts("medication", (Code("atc", "A10AE04"),))
    assert parse_query("lab loinc:4548-4,hba1c") == Facts(
        "lab", (Code("loinc", "4548-4"), ConceptRef("hba1c")))
    assert parse_query("act snomed:71651007, ccam:QEQK004") == Facts(
        "act", (Code("snomed", "71651007"), Code("ccam", "QEQK004")))


def test_windows_counts_and_other_criteria() -> None:
    assert parse_query("vaccine flu since 2024-09-01") == Facts(
        "vaccine", (ConceptRef("flu"),), window=Since(date(2024, 9, 1)))
    assert parse_query("act mammography count = 0 within 30 d") == Facts(
        "act", (ConceptRef("mammography"),), Count("=", 0), Within(30, "d"))
    assert parse_query("lab 4548-4 within 6m") == Facts(
        "lab", (Code("loinc", "4548-4"),), window=Within(6, "m"))
    assert parse_query("fragility >= 2") == Fragility(">=", 2)
    assert parse_query("commune 41018, 2A004") == Commune(("41018", "2A004"))


@pytest.mark.parametrize(("text", "column", "expected"), [
    ("", 1, "a criterion"),
    ("sex F and", 10, "a criterion"),
    ("sex X", 5, "F or M"),
    ("age 25..", 9, "a whole number"),
    ("age 25", 7, "'..'"),
    ("age about 30", 5, "a range"),
    ("sex F and (age > 30", 20, "')'"),
    ("sex F age > 30", 7, "'and', 'or', 'except'"),
    ("condition", 10, "a code"),
    ("condition E11,", 15, "a code"),
    ("condition xyz:E11", 11, "a known code system"),
    ("act E11", 5, "a concept"),
    ("vaccine unknownvax", 9, "a concept"),
    ("lab 4548-4 count 3", 18, "a comparison"),
    ("lab 4548-4 within 2w", 19, "a duration"),
    ("lab 4548-4 since 2024-02-30", 18, "a date"),
    ("condition E11 count >= 2", 15, "'and', 'or', 'except'"),
    ("commune Blois", 9, "a commune INSEE code"),
    ("fragility high", 11, "a comparison"),
    ("sex F & pregnant", 7, "'and', 'or', 'except'"),
    ("condition and", 11, "a code"),
])
def test_syntax_errors_give_the_column_and_what_was_expected(
        text: str, column: int, expected: str) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse_query(text)
    assert caught.value.column == column
    assert f"column {column}: expected {expected}" in caught.value.message
    assert isinstance(caught.value, InputError)


def test_syntax_errors_speak_french_in_the_app() -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse_query("sexe F")
    assert caught.value.message_fr.startswith("Erreur dans la requête, colonne 1 : un critère")
    assert "trouvé « sexe »" in caught.value.message_fr
