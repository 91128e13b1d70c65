"""The criteria builder's rows: every query becomes rows and comes back as the same query."""

from __future__ import annotations

from datetime import date

from hypothesis import given, settings

from carehub.cohort.builder import CriterionRow, Group, row_text, rows_of, text_of
from carehub.cohort.parser import parse_query
from tests.test_cohort_property import queries

REFERENCE_1 = ("sex F and age 25..45 and condition E04* and act mammography within 2y "
               "except pregnant")
REFERENCE_2 = ("condition E10*,E11*,icpc2:T89,icpc2:T90 and medication A10A* and lab 4548-4 "
               "count >= 3 within 1y and contact etp within 1y and vaccine flu within 1y")


@settings(max_examples=300, deadline=None)
@given(expr=queries)
def test_rows_of_any_query_write_back_the_same_query(expr: str) -> None:
    tree = parse_query(expr)
    assert parse_query(text_of(rows_of(tree))) == tree


def test_the_reference_searches_read_back_word_for_word() -> None:
    for expr in (REFERENCE_1, REFERENCE_2):
        assert text_of(rows_of(parse_query(expr))) == expr


def test_first_reference_search_is_five_rows_the_last_one_negated() -> None:
    group = rows_of(parse_query(REFERENCE_1))
    assert group.op == "and" and not group.negated
    assert [(r.kind, r.negated) for r in group.items if isinstance(r, CriterionRow)] == [
        ("sex", False), ("age", False), ("condition", False), ("act", False),
        ("pregnant", True)]
    age, act = group.items[1], group.items[3]
    assert isinstance(age, CriterionRow) and (age.low, age.high) == (25, 45)
    assert isinstance(act, CriterionRow) and (act.codes, act.within) == ("mammography", (2, "y"))


def test_groups_get_parentheses_and_negation() -> None:
    tree = parse_query("not (sex F or pregnant) and not not commune 41018")
    group = rows_of(tree)
    assert text_of(group) == "not (sex F or pregnant) except (not commune 41018)"
    assert parse_query(text_of(group)) == tree
    assert text_of(rows_of(parse_query("sex F or age >= 65 and fragility >= 2"))) == \
        "sex F or (age >= 65 and fragility >= 2)"


def test_rows_as_typed_are_tidied_and_incomplete_rows_leave_the_parser_to_complain() -> None:
    assert row_text(CriterionRow("condition", codes=" E10* , icpc2:T90 ,")) == \
        "condition E10*,icpc2:T90"
    assert row_text(CriterionRow("lab", codes="hba1c", count_cmp=">=", count_n=2,
                                 since=date(2025, 1, 1))) == \
        "lab hba1c count >= 2 since 2025-01-01"
    assert row_text(CriterionRow("medication", codes="insulin", count_cmp=">=")) == \
        "medication insulin"  # no count for treatments
    assert row_text(CriterionRow("age")) == "age"
    assert row_text(CriterionRow("age", high=80)) == "age <= 80"
    assert text_of(Group("or", items=[CriterionRow("sex", sex="M"),
                                      CriterionRow("pregnant", negated=True)])) == \
        "sex M or not pregnant"
