"""The rules file: read and checked at start-up; a mistake names the file, line and field."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from carehub.db import Database
from carehub.errors import InputError
from carehub.prevention.engine import due_reasons
from carehub.prevention.rules import default_rules_dir, load_rules
from tests.prevention_helpers import MAMMOGRAPHY, add_fact, add_patient

SHIPPED = default_rules_dir() / "rules.toml"
DOMAIN_CODES = {
    "screening.breast", "screening.colorectal", "screening.cervical", "vaccine.flu",
    "vaccine.dtp", "vaccine.pneumococcal", "vaccine.shingles", "vaccine.covid",
    "prevention.checkup", "followup.discharge", "followup.new_arrival", "followup.frailty",
    "followup.callback",
}


def _copy_with(tmp_path: Path, old: str, new: str) -> Path:
    text = SHIPPED.read_text(encoding="utf-8")
    assert old in text
    target = tmp_path / "rules.toml"
    target.write_text(text.replace(old, new, 1), encoding="utf-8")
    return target


def _line_of(path: Path, fragment: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if fragment in line:
            return number
    raise AssertionError(fragment)


def test_the_shipped_rules_cover_every_reason_code_of_domain_md() -> None:
    rules = load_rules()
    assert set(rules.rules) == DOMAIN_CODES
    breast = rules.rules["screening.breast"]
    assert (breast.sex, breast.min_age, breast.max_age) == ("F", 50, 74)
    assert [(a.name, a.every_months) for a in breast.acts] == [("mammography", 24)]
    assert rules.rules["vaccine.flu"].campaigns[0].start == (10, 15)
    assert rules.settings.unreachable_after_attempts == 3


def test_a_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    path = _copy_with(tmp_path, "min_age = 50\n", "min_age = = 50\n")
    with pytest.raises(InputError) as caught:
        load_rules(path)
    line = _line_of(path, "min_age = = 50")
    assert str(path) in caught.value.message and f"line {line}" in caught.value.message
    assert f"ligne {line}" in caught.value.message_fr


def test_a_wrong_value_names_the_line_and_the_field(tmp_path: Path) -> None:
    path = _copy_with(tmp_path, 'acts = [{ concept = "mammography", every_months = 24,',
                      'acts = [{ concept = "mammography", every_months = "two years",')
    with pytest.raises(InputError) as caught:
        load_rules(path)
    line = _line_of(path, '"two years"')
    assert re.search(rf"line {line}, \[screening\.breast\] acts: expected a whole number",
                     caught.value.message), caught.value.message


@pytest.mark.parametrize(("old", "new", "field", "said"), [
    ("min_age = 50\n", "min_agee = 50\n", "min_agee", "unknown field"),
    ('exclude = ["breast_cancer_history"]', 'exclude = ["breast_cancer"]', "exclude",
     "unknown concept 'breast_cancer'"),
    ('{ start = "10-15", end = "01-31", done_since = "09-01" }',
     '{ start = "10-32", end = "01-31", done_since = "09-01" }', "campaigns",
     "expected a day as \"MM-DD\""),
    ('kind = "fixed_ages"', 'kind = "fixed_age"', "kind", "kind must be one of"),
    ("unreachable_after_attempts = 3", "unreachable_after_attempts = 0",
     "unreachable_after_attempts", "expected a whole number >= 1"),
])
def test_each_mistake_names_its_field(tmp_path: Path, old: str, new: str, field: str,
                                      said: str) -> None:
    path = _copy_with(tmp_path, old, new)
    with pytest.raises(InputError) as caught:
        load_rules(path)
    line = _line_of(path, new.split("\n")[0])
    assert f"line {line}" in caught.value.message, caught.value.message
    assert field in caught.value.message and said in caught.value.message


def test_a_missing_field_names_the_rule(tmp_path: Path) -> None:
    path = _copy_with(tmp_path, "max_age = 74\n", "")
    with pytest.raises(InputError) as caught:
        load_rules(path)
    line = _line_of(path, "[screening.breast]")
    assert f"line {line}, [screening.breast]: missing field 'max_age'" in caught.value.message


def test_a_clinician_changes_an_interval_without_touching_code(
        db: Database, tmp_path: Path) -> None:
    path = _copy_with(tmp_path, 'concept = "mammography", every_months = 24',
                      'concept = "mammography", every_months = 12')
    rules = load_rules(path)
    with db.transaction() as s:
        woman = add_patient(s, born=date(1960, 1, 15))
        add_fact(s, woman, "procedure", MAMMOGRAPHY, start=date(2025, 3, 2))
        as_of = date(2026, 3, 2)
        assert [r.code for r in due_reasons(s, patient_id=woman, as_of=as_of)
                if r.code == "screening.breast"] == []
        [reason] = [r for r in due_reasons(s, patient_id=woman, as_of=as_of, rules=rules)
                    if r.code == "screening.breast"]
        assert reason.explanation_fr.endswith("à refaire tous les ans")
