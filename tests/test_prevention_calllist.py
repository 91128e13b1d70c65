"""The day's call list: one line per patient, ordered, contact preferences, the CLI; and the
SQL engine against the naive evaluator on the demo caseload."""

from __future__ import annotations

import json
from datetime import date, datetime, time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from carehub.caseload.demo import generate_demo
from carehub.cli import app
from carehub.db import Database
from carehub.prevention.engine import compute_due
from carehub.prevention.naive import naive_compute_due
from carehub.prevention.services import (
    call_list,
    call_list_items,
    call_order,
    recompute_reminders,
    record_call_outcome,
)
from tests.prevention_helpers import STAY, add_fact, add_patient

D = date.fromisoformat
AS_OF = D("2026-11-23")
runner = CliRunner()


def _at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, 23, hour, minute)


def _names(db: Database, now: datetime, user: str = "nurse") -> list[str]:
    with db.session() as s:
        return [i.name for i in call_list(s, user=user, as_of=AS_OF, now=now)]


def test_one_line_per_patient_with_every_reason_most_urgent_first(db: Database) -> None:
    with db.transaction() as s:
        out = add_patient(s, "Sortie", born=D("1945-01-01"))
        add_fact(s, out, "encounter", STAY, start=D("2026-11-15"), end=D("2026-11-22"),
                 status="finished")
        add_patient(s, "Vaccin", born=D("1955-01-01"), fragility=0)
        recompute_reminders(s, as_of=AS_OF, actor="nurse")
        items = call_list(s, user="nurse", as_of=AS_OF, now=_at(9))
        assert [i.name for i in items] == ["SORTIE Jeanne", "VACCIN Jeanne"]
        first = items[0]
        assert len({i.patient_id for i in items}) == len(items)
        assert first.reasons[0].code == "followup.discharge"
        assert {"vaccine.flu", "followup.frailty"} <= {r.code for r in first.reasons}
        assert first.due_date == min(r.due_date for r in first.reasons)
        assert first.priority > items[1].priority
        assert first.reasons[0].script_fr.startswith("Je vous appelle suite à votre sortie")
        assert [p.formatted for p in first.phones] == ["06 12 34 56 78"]
        assert first.age == 81 and first.channel == "phone"
        order = call_order(s, user="nurse", as_of=AS_OF, now=_at(9))
        assert list(order.patient_ids) == [i.patient_id for i in items]
        assert order.priorities == [i.priority for i in items]
        assert call_list_items(s, user="nurse", as_of=AS_OF, now=_at(9),
                               patient_ids=order.patient_ids[1:]) == items[1:]


def test_a_deaf_patient_is_offered_sms_or_email_not_a_call(db: Database) -> None:
    with db.transaction() as s:
        add_patient(s, "Sms", born=D("1950-01-01"), deaf=True)
        add_patient(s, "Mail", born=D("1950-01-01"), deaf=True, email="m@example.fr",
                    phones=(("+33254123456", "fixed", False),))
        add_patient(s, "Prefers", born=D("1950-01-01"), preferred="sms")
        add_patient(s, "Courrier", born=D("1950-01-01"), deaf=True, phones=())
        recompute_reminders(s, as_of=AS_OF, actor="nurse")
        items = {i.name: i for i in call_list(s, user="nurse", as_of=AS_OF, now=_at(9))}
        assert (items["SMS Jeanne"].channel, items["SMS Jeanne"].channel_reason_fr) == (
            "sms", "patient(e) malentendant(e) : pas d'appel, SMS")
        assert items["MAIL Jeanne"].channel == "email"
        assert items["PREFERS Jeanne"].channel == "sms"
        assert items["COURRIER Jeanne"].channel == "letter"


def test_call_after_14h_goes_later_in_the_morning_and_by_priority_after(db: Database) -> None:
    with db.transaction() as s:
        add_patient(s, "Apres", born=D("1940-01-01"), fragility=3, call_after=time(14))
        add_patient(s, "Avant", born=D("1960-01-01"), fragility=0, call_before=time(12))
        add_patient(s, "Libre", born=D("1958-01-01"), fragility=0)
        add_patient(s, "Sourde", born=D("1940-01-01"), deaf=True, call_after=time(14))
        recompute_reminders(s, as_of=AS_OF, actor="nurse")
    morning = _names(db, _at(10))
    assert morning.index("APRES Jeanne") > morning.index("LIBRE Jeanne")
    assert morning.index("SOURDE Jeanne") < morning.index("APRES Jeanne")  # an SMS any time
    afternoon = _names(db, _at(14, 30))
    assert afternoon[0] == "APRES Jeanne"  # the most fragile, now callable
    assert afternoon[-1] == "AVANT Jeanne"  # her window (before 12:00) has passed


def test_paused_closed_deceased_other_nurses_and_reached_today_are_left_out(
        db: Database) -> None:
    with db.transaction() as s:
        add_patient(s, "Pause", born=D("1950-01-01"), status="paused")
        add_patient(s, "Clos", born=D("1950-01-01"), status="closed")
        add_patient(s, "Decede", born=D("1950-01-01"), status="deceased",
                    deceased=D("2026-06-01"))
        add_patient(s, "Autre", born=D("1950-01-01"), manager="colleague")
        reached = add_patient(s, "Joint", born=D("1950-01-01"))
        add_patient(s, "Reste", born=D("1950-01-01"))
        recompute_reminders(s, as_of=AS_OF, actor="nurse")
        record_call_outcome(s, patient_id=reached, outcome="reached", actor="nurse",
                            at=_at(9, 5))
    assert _names(db, _at(10)) == ["RESTE Jeanne"]
    assert _names(db, _at(10), user="colleague") == ["AUTRE Jeanne"]
    assert _names(db, _at(10), user="nobody") == []


def test_a_planned_call_back_waits_for_its_hour_then_comes_first(db: Database) -> None:
    with db.transaction() as s:
        add_patient(s, "Urgent", born=D("1940-01-01"), fragility=3)
        later = add_patient(s, "Rappel", born=D("1970-01-01"), fragility=0)
        recompute_reminders(s, as_of=AS_OF, actor="nurse")
        record_call_outcome(s, patient_id=later, outcome="callback", actor="nurse",
                            at=_at(9), callback_at=_at(11))
    assert _names(db, _at(10)) == ["URGENT Jeanne", "RAPPEL Jeanne"]
    assert _names(db, _at(11, 1)) == ["RAPPEL Jeanne", "URGENT Jeanne"]
    with db.session() as s:
        [item] = [i for i in call_list(s, user="nurse", as_of=AS_OF, now=_at(11, 1))
                  if i.name == "RAPPEL Jeanne"]
        assert item.planned_at is not None
        assert item.planned_at.astimezone().replace(tzinfo=None) == _at(11)
        assert item.reasons[0].code == "followup.callback"


def test_cli_calllist_json_has_the_contract_keys(db: Database, db_path: Path) -> None:
    with db.transaction() as s:
        out = add_patient(s, "Sortie", born=D("1945-01-01"), manager="alice")
        add_fact(s, out, "encounter", STAY, start=D("2026-11-15"), end=D("2026-11-22"),
                 status="finished")
        add_patient(s, "Vaccin", born=D("1955-01-01"), manager="alice")
        add_patient(s, "Autre", born=D("1955-01-01"), manager="bob")
    result = runner.invoke(app, ["--db", str(db_path), "--user", "alice", "calllist",
                                 "--as-of", "2026-11-23", "--json"])
    assert result.exit_code == 0, result.output
    items = json.loads(result.stdout)
    assert [i["name"] for i in items] == ["SORTIE Jeanne", "VACCIN Jeanne"]
    first = items[0]
    assert {"patient_id", "ins", "reasons", "due_date", "priority"} <= first.keys()
    assert first["patient_id"] == str(out) and first["ins"] is None
    assert first["reasons"][0] == "followup.discharge" and "vaccine.flu" in first["reasons"]
    assert date.fromisoformat(first["due_date"]) <= D("2026-11-22")
    assert first["priority"] > items[1]["priority"]
    bad = runner.invoke(app, ["--db", str(db_path), "calllist", "--as-of", "23/11/2026"])
    assert bad.exit_code == 2


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory,
            template_db: tuple[Path, str]) -> Database:
    """The 200-patient demo caseload (seed 3), built once for the module."""
    import shutil

    from carehub.db import open_database
    from carehub.keystore import KeyFileStore

    source, key = template_db
    folder = tmp_path_factory.mktemp("demo")
    shutil.copy(source, folder / "carehub.db")
    shutil.copy(source.with_name(source.name + ".keycheck"), folder / "carehub.db.keycheck")
    (folder / "key").write_text(key)
    database = open_database(folder / "carehub.db", KeyFileStore(folder / "key"))
    with database.transaction() as s:
        generate_demo(s, patients=200, seed=3, actor="nurse", as_of=AS_OF)
    return database


@pytest.mark.parametrize("as_of", ["2026-11-23", "2026-10-15", "2027-02-01", "2026-04-15"])
def test_sql_engine_equals_the_naive_evaluator_on_the_demo_caseload(
        demo_db: Database, as_of: str) -> None:
    with demo_db.session() as s:
        found = compute_due(s, as_of=D(as_of))
        assert found == naive_compute_due(s, as_of=D(as_of))
        assert sum(len(r) for r in found.values()) > 200  # a real test: many reasons due


def test_the_demo_day_list_is_whole_and_ordered(demo_db: Database) -> None:
    with demo_db.transaction() as s:
        recompute_reminders(s, as_of=AS_OF, actor="nurse")
        items = call_list(s, user="nurse", as_of=AS_OF, now=_at(9), plan=False)
        assert len(items) > 100 and len({i.patient_id for i in items}) == len(items)
        due = compute_due(s, as_of=AS_OF)
        for item in items[:40]:
            assert {r.code for r in item.reasons} == {r.code for r in due[item.patient_id]}
        callable_now = [i for i in items if i.available_from is None and not (
            i.channel == "phone" and i.call_before and i.call_before <= time(9))]
        priorities = [i.priority for i in callable_now]
        assert priorities == sorted(priorities, reverse=True)
        s.rollback()
