"""Property: on any small caseload and any query, the SQL engine finds exactly the patients a
straightforward Python evaluation of the same query finds (carehub.cohort.naive)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session

from carehub.cohort.naive import load_caseload, naive_query
from carehub.cohort.service import run_query
from carehub.db import Database, open_database
from carehub.keystore import KeyFileStore
from tests.cohort_helpers import add_fact, add_patient

AS_OF_DAYS = (date(2025, 6, 15), date(2024, 2, 29), date(2025, 2, 28), date(2025, 12, 31))
CODES = {  # kind -> codings a fact of that kind may carry (others too, to test kind filters)
    "condition": [("icd10", "E11.9"), ("icd10", "E04.9"), ("icpc2", "T90"), ("icd10", "Z34.9"),
                  ("icd10", "O80"), ("icpc2", "W78")],
    "medication": [("atc", "A10AE04"), ("atc", "C09AA05"), ("atc", "A10BA02")],
    "observation": [("loinc", "4548-4"), ("loinc", "17856-6"), ("loinc", "24606-6")],
    "procedure": [("snomed", "71651007"), ("ccam", "QEQK004"), ("snomed", "311401005")],
    "immunization": [("cvx", "141"), ("atc", "J07BB02"), ("cvx", "33")],
    "encounter": [("snomed", "311401005"), ("snomed", "185349003")],
}
STATUSES = [None, "active", "resolved", "inactive", "remission", "refuted", "stopped",
            "completed", "not-done", "entered-in-error", "final"]


@pytest.fixture(scope="module")
def shared_db(tmp_path_factory: pytest.TempPathFactory,
              template_db: tuple[Path, str]) -> Iterator[Database]:
    """One database for the module; every example writes in a transaction it rolls back."""
    source, key = template_db
    folder = tmp_path_factory.mktemp("cohort-property")
    target = folder / "carehub.db"
    shutil.copy(source, target)
    shutil.copy(source.with_name(source.name + ".keycheck"),
                target.with_name(target.name + ".keycheck"))
    store = KeyFileStore(folder / "key")
    store.put(target, key)
    database = open_database(target, store)
    yield database
    database.close()


def edges(as_of: date) -> list[date]:
    """Days where an off-by-one would show: the as-of date, window starts, 10 months back."""
    from carehub.cohort.compiler import months_before

    marks = [as_of, date(2024, 9, 1), date(2025, 6, 15)]
    marks += [months_before(as_of, m) or as_of for m in (1, 6, 10, 12, 24)]
    marks.append(as_of - timedelta(days=30))
    return [d + timedelta(days=shift) for d in marks for shift in (-1, 0, 1)]


def day_near(as_of: date) -> st.SearchStrategy[date]:
    far = st.integers(-1500, 60).map(lambda d: as_of + timedelta(days=d))
    return st.sampled_from(edges(as_of)) | far


def births(as_of: date) -> st.SearchStrategy[date]:
    """Birthdays around the ages the queries name, and any date."""
    from carehub.cohort.compiler import months_before

    def near(years: int, shift: int) -> date:
        return (months_before(as_of, years * 12) or as_of) + timedelta(days=shift)

    return (st.builds(near, st.integers(0, 100), st.integers(-1, 1))
            | st.dates(min_value=date(1920, 1, 1), max_value=date(2025, 12, 31)))


@st.composite
def facts(draw: st.DrawFn, as_of: date
          ) -> tuple[str, tuple[str, str], date | None, date | None, str | None]:
    kind = draw(st.sampled_from(sorted(CODES)))
    pool = CODES[kind] if draw(st.integers(0, 4)) else [c for cs in CODES.values() for c in cs]
    coding = draw(st.sampled_from(pool))
    start = draw(st.none() | day_near(as_of))
    end = None
    if draw(st.booleans()):
        end = draw(day_near(as_of).filter(lambda d: start is None or d >= start))
    return kind, coding, start, end, draw(st.sampled_from(STATUSES))


def caseloads(as_of: date) -> st.SearchStrategy[list]:  # type: ignore[type-arg]
    return st.lists(st.tuples(
        st.sampled_from("FM"),
        births(as_of),
        st.none() | st.integers(0, 3),
        st.sampled_from([None, "41018", "41269"]),
        st.lists(facts(as_of), max_size=5),
    ), max_size=8)


cmp = st.sampled_from([">=", "<=", ">", "<", "="])
window = st.sampled_from(["", " within 1y", " within 6m", " within 30d", " within 2 y",
                          " since 2024-09-01", " since 2025-06-15"])
count = st.builds(lambda c, n: f" count {c} {n}", cmp, st.integers(0, 3))
criteria = st.one_of(
    st.builds(lambda a, b: f"age {a}..{b}", st.integers(0, 100), st.integers(0, 100)),
    st.builds(lambda c, n: f"age {c} {n}", cmp, st.integers(0, 100)),
    st.sampled_from(["sex F", "sex M", "pregnant", "commune 41018", "commune 41018,41269"]),
    st.builds(lambda c, n: f"fragility {c} {n}", cmp, st.integers(0, 3)),
    st.builds(lambda codes, w: f"condition {codes}{w}",
              st.sampled_from(["E11*", "E119", "icpc2:T90", "E04*,O*", "diabetes"]), window),
    st.builds(lambda codes, w: f"medication {codes}{w}",
              st.sampled_from(["A10A*", "A10AE04,C09AA05", "insulin"]), window),
    st.builds(lambda codes, c, w: f"lab {codes}{c}{w}",
              st.sampled_from(["4548-4", "hba1c", "4548*"]), st.just("") | count, window),
    st.builds(lambda name, c, w: f"{name}{c}{w}",
              st.sampled_from(["act mammography", "vaccine flu", "contact etp",
                               "act snomed:311401005", "vaccine cvx:33"]),
              st.just("") | count, window),
)


def combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.builds(lambda a, op, b: f"{a} {op} {b}", children,
                  st.sampled_from(["and", "or", "except", "et", "ou", "sauf"]), children),
        st.builds(lambda a: f"not {a}", children),
        st.builds(lambda a: f"({a})", children),
    )


queries = st.recursive(criteria, combine, max_leaves=5)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(data=st.data(), expr=queries, as_of=st.sampled_from(AS_OF_DAYS))
def test_sql_finds_what_the_python_evaluation_finds(
        shared_db: Database, data: st.DataObject, expr: str, as_of: date) -> None:
    caseload = data.draw(caseloads(as_of))
    with Session(shared_db.engine) as session:
        session.begin()
        try:
            for number, (sex, born, fragility, commune, its_facts) in enumerate(caseload):
                patient = add_patient(session, f"P{number:02d}", sex=sex, born=born,
                                      fragility=fragility, commune=commune)
                for kind, coding, start, end, status in its_facts:
                    add_fact(session, patient, kind, coding, start=start, end=end,
                             status=status)
            found = list(run_query(session, expr=expr, as_of=as_of))
            expected = naive_query(load_caseload(session), expr=expr, as_of=as_of)
        finally:
            session.rollback()
    assert found == expected, expr
