"""The supervisor's figures add up exactly with what the team logged (crafted data)."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from carehub.caseload.models import Patient
from carehub.cli import app
from carehub.db import Database
from carehub.errors import InputError
from carehub.prevention.engine import coverage
from carehub.prevention.rules import load_rules
from carehub.users.models import User
from carehub.workload.coverage_cache import COVERAGE_CODES, refresh_coverage_cache
from carehub.workload.hub import hub_workload
from carehub.workload.service import Figures, workload
from tests.conftest import Hub
from tests.prevention_helpers import FIT, MAMMOGRAPHY, add_fact
from tests.sync_helpers import run_sync
from tests.workload_helpers import FROM, TO, build_team

runner = CliRunner()


def _by_user(figures: list[Figures]) -> dict[str, Figures]:
    return {f.user: f for f in figures}


def test_each_care_managers_figures_are_what_she_logged(db: Database) -> None:
    build_team(db)
    with db.session() as session:
        found = workload(session, date_from=FROM, date_to=TO)
    people = _by_user(found.managers)
    assert sorted(people) == ["alice", "bob", "carol"]  # care managers; not the supervisor
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    # The closed patient is not followed any more.
    assert (alice.patients, alice.by_fragility) == (
        3, {"0": 1, "1": 0, "2": 1, "3": 0, "unknown": 1})
    assert (bob.patients, bob.by_fragility) == (
        2, {"0": 0, "1": 1, "2": 0, "3": 1, "unknown": 0})
    # alice: colorectal never done, a call-back booked for 20/11; bob: breast declined on a
    # later day, so still overdue on 30/11.
    assert (alice.overdue, alice.overdue_patients, bob.overdue, bob.overdue_patients) == (
        2, 2, 1, 1)
    # A corrected call counts once, as corrected; the October call and the 1 December
    # meeting are outside the period; the 30/11 23:30 referral is inside.
    assert (alice.calls, alice.reached, alice.average_call_s) == (3, 2, 210.0)
    assert alice.reached_share == pytest.approx(2 / 3)
    assert (bob.calls, bob.reached, bob.average_call_s) == (2, 1, 120.0)
    assert (alice.referrals, bob.referrals) == (1, 1)
    assert {k: v for k, v in alice.actions.items() if v} == {"call": 3, "referral": 1, "sms": 1}
    assert {k: v for k, v in bob.actions.items() if v} == {"call": 2, "referral": 1}
    assert (carol.patients, carol.overdue, carol.calls, carol.reached_share) == (0, 0, 0, None)


def test_coverage_counts_the_eligible_and_those_up_to_date(db: Database) -> None:
    build_team(db)
    with db.session() as session:
        found = workload(session, date_from=FROM, date_to=TO)
    people = _by_user(found.managers)

    def rates(f: Figures) -> dict[str, tuple[int, int]]:
        return {c: (r.numerator, r.denominator) for c, r in f.coverage.items()}
    assert rates(people["alice"]) == {"screening.breast": (1, 1),
                                      "screening.colorectal": (1, 2),
                                      "screening.cervical": (0, 1), "vaccine.flu": (1, 1)}
    assert rates(people["bob"]) == {"screening.breast": (0, 1),
                                    "screening.colorectal": (1, 1),
                                    "screening.cervical": (0, 0), "vaccine.flu": (1, 2)}
    assert rates(found.team) == {"screening.breast": (1, 2), "screening.colorectal": (2, 3),
                                 "screening.cervical": (0, 1), "vaccine.flu": (2, 3)}
    assert people["bob"].coverage["screening.cervical"].rate is None
    assert found.team.coverage["vaccine.flu"].as_of == TO  # inside the campaign


def test_flu_coverage_outside_the_campaign_is_the_last_campaigns(db: Database) -> None:
    build_team(db)
    with db.session() as session:
        found = workload(session, date_from=date(2027, 3, 1), date_to=date(2027, 3, 31))
    flu = found.team.coverage["vaccine.flu"]
    assert flu.as_of == date(2027, 1, 31)
    assert (flu.numerator, flu.denominator) == (2, 3)


def test_team_totals_are_the_sum_of_the_care_managers(db: Database) -> None:
    build_team(db)
    with db.session() as session:
        found = workload(session, date_from=FROM, date_to=TO)
        only_bob = workload(session, date_from=FROM, date_to=TO, users=["bob"])
    team = found.team
    assert (team.patients, team.overdue, team.calls, team.reached, team.referrals) == (
        5, 3, 5, 3, 2)
    assert team.average_call_s == pytest.approx((630 + 120) / 4)
    assert [f.user for f in only_bob.managers] == ["bob"]
    assert (only_bob.team.patients, only_bob.team.calls) == (2, 2)


def test_calls_per_week_split_reached_and_not(db: Database) -> None:
    build_team(db)
    with db.session() as session:
        found = workload(session, date_from=FROM, date_to=TO)
    weeks = {(w.week, w.user): (w.calls, w.reached) for w in found.weekly}
    assert weeks == {(date(2026, 10, 12), "alice"): (1, 1),  # the series covers a quarter
                     (date(2026, 11, 2), "alice"): (2, 1), (date(2026, 11, 2), "bob"): (1, 0),
                     (date(2026, 11, 16), "alice"): (1, 1), (date(2026, 11, 16), "bob"): (1, 1)}
    assert all(w.week.weekday() == 0 for w in found.weekly)


def test_a_reminder_settled_by_the_periods_end_is_not_overdue(db: Database) -> None:
    build_team(db)
    today = date.today()
    with db.session() as session:
        found = workload(session, date_from=today - timedelta(days=29), date_to=today)
    people = _by_user(found.managers)
    assert (people["alice"].overdue, people["bob"].overdue) == (2, 0)


def test_a_care_manager_sees_only_her_own_figures(db: Database) -> None:
    build_team(db)
    with db.session() as session:
        mine = workload(session, date_from=FROM, date_to=TO, viewer="alice")
        team = workload(session, date_from=FROM, date_to=TO, viewer="sam")
        with pytest.raises(InputError, match="not a supervisor"):
            workload(session, date_from=FROM, date_to=TO, viewer="alice", users=["bob"])
        with pytest.raises(InputError, match="after it ends"):
            workload(session, date_from=TO, date_to=FROM)
    assert [f.user for f in mine.managers] == ["alice"]
    assert [f.user for f in team.managers] == ["alice", "bob", "carol"]


def test_the_cli_prints_one_object_per_care_manager(db: Database, db_path: Path) -> None:
    build_team(db)
    result = runner.invoke(app, ["--db", str(db_path), "--user", "sam", "workload",
                                 "--from", "2026-11-01", "--to", "2026-11-30", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["user"] for r in rows] == ["alice", "bob", "carol"]
    alice = rows[0]
    assert {k: alice[k] for k in ("user", "patients", "overdue", "calls", "reached")} == {
        "user": "alice", "patients": 3, "overdue": 2, "calls": 3, "reached": 2}
    assert (alice["from"], alice["to"], alice["referrals"]) == ("2026-11-01", "2026-11-30", 1)
    assert alice["coverage"]["screening.colorectal"] == {
        "numerator": 1, "denominator": 2, "rate": 0.5, "as_of": "2026-11-30"}
    assert alice["patients_by_fragility"] == {"0": 1, "1": 0, "2": 1, "3": 0, "unknown": 1}
    mine = runner.invoke(app, ["--db", str(db_path), "--user", "bob", "workload", "--json"])
    assert [r["user"] for r in json.loads(mine.stdout)] == ["bob"]
    bad = runner.invoke(app, ["--db", str(db_path), "workload", "--from", "01/11/2026"])
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output


def test_the_hub_gives_the_same_figures_but_coverage(db: Database, db_path: Path,
                                                     hub: Hub) -> None:
    build_team(db)
    for nurse in ("alice", "bob"):
        hub.grant(nurse, follows=[nurse], covers=[n for n in ("alice", "bob") if n != nurse])
    hub.grant("sam", covers=["alice", "bob"])
    # The hub signs each change with the connected member's name: each nurse's sync sends
    # her own changes.
    run_sync(db, hub.url("alice"), "alice")
    run_sync(db, hub.url("bob"), "bob")
    with db.session() as session:
        local = workload(session, date_from=FROM, date_to=TO, users=["alice", "bob"])
        central = hub_workload(session, hub_url=hub.url("sam"), date_from=FROM, date_to=TO,
                               viewer="sam")
    assert central.unavailable == ("coverage",)
    assert [f.user for f in central.managers] == ["alice", "bob"]
    for mine, theirs in zip(local.managers, central.managers, strict=True):
        assert dataclasses.replace(mine, coverage={}, display_name="") == \
            dataclasses.replace(theirs, coverage={}, display_name="")
    assert central.weekly == local.weekly
    result = runner.invoke(app, ["--db", str(db_path), "--user", "sam", "workload", "--hub",
                                 hub.url("sam"), "--from", "2026-11-01", "--to", "2026-11-30",
                                 "--json"])
    assert result.exit_code == 0, result.output
    assert [(r["user"], r["calls"], r["coverage"]) for r in json.loads(result.stdout)] == [
        ("alice", 3, {}), ("bob", 2, {})]


def test_before_anyone_is_made_supervisor_the_cli_shows_the_whole_team(
        db: Database, db_path: Path) -> None:
    """A fresh workstation (every user a care manager) keeps DESIGN.md's contract."""
    build_team(db)
    with db.transaction() as session:
        for user in session.exec(select(User)).all():
            user.role = "care_manager"
    result = runner.invoke(app, ["--db", str(db_path), "--user", "alice", "workload",
                                 "--from", "2026-11-01", "--to", "2026-11-30", "--json"])
    assert result.exit_code == 0, result.output
    assert [item["user"] for item in json.loads(result.stdout)] == [
        "alice", "bob", "carol", "sam"]  # sam is no supervisor here: one of the team


def _team_rates(database: Database, day: date = TO) -> dict[str, tuple[int, int]]:
    with database.session() as session:
        found = workload(session, date_from=day - timedelta(days=29), date_to=day)
    return {c: (r.numerator, r.denominator) for c, r in found.team.coverage.items()}


def _cached_rows(database: Database) -> tuple[int, int]:
    with database.session() as session:
        connection = session.connection()
        return (int(connection.exec_driver_sql("SELECT count(*) FROM coverage_cache").scalar()
                    or 0),
                int(connection.exec_driver_sql("SELECT count(*) FROM coverage_stale").scalar()
                    or 0))


def test_the_coverage_cache_gives_the_engines_figures_and_follows_every_change(
        db: Database) -> None:
    """The dashboard reads coverage from a per-patient cache; whatever is written after a
    refresh (a fact, a reminder settled, a patient's record) shows at once, cache or not."""
    patients = build_team(db)
    with db.transaction() as session:  # alice's two eligible are both up to date
        add_fact(session, patients["a1"], "observation", FIT, start=date(2026, 3, 1))
    live = _team_rates(db)
    assert live == {"screening.breast": (1, 2), "screening.colorectal": (3, 3),
                    "screening.cervical": (0, 1), "vaccine.flu": (2, 3)}
    with db.transaction() as session:
        evaluated = refresh_coverage_cache(session, as_of=TO, rules=load_rules())
    assert evaluated > 0 and _cached_rows(db) == (9, 0)  # the eligible (code, patient) pairs
    assert _team_rates(db) == live
    with db.session() as session:
        alice = _by_user(workload(session, date_from=FROM, date_to=TO).managers)["alice"]
    assert (alice.coverage["screening.colorectal"].numerator,
            alice.coverage["screening.colorectal"].denominator) == (2, 2)
    with db.transaction() as session:  # bob's patient has her mammography after all
        add_fact(session, patients["b2"], "procedure", MAMMOGRAPHY, start=date(2026, 11, 25))
    assert _cached_rows(db)[1] == 1  # she is stale: evaluated afresh on reading
    assert _team_rates(db)["screening.breast"] == (2, 2)
    with db.transaction() as session:  # alice's 70-year-old leaves the caseload
        patient = session.get(Patient, patients["a1"])
        assert patient is not None
        patient.status = "closed"
        session.add(patient)
    assert _team_rates(db)["screening.breast"] == (1, 1)
    with db.transaction() as session:
        assert refresh_coverage_cache(session, as_of=TO, rules=load_rules()) == 2
    assert _cached_rows(db)[1] == 0
    assert _team_rates(db)["screening.breast"] == (1, 1)
    # Another day: the cache does not answer for it until refreshed, the engine does.
    assert _team_rates(db, date(2027, 6, 30)) == _live_rates(db, date(2027, 6, 30))


def _live_rates(database: Database, day: date) -> dict[str, tuple[int, int]]:
    with database.session() as session:
        found = coverage(session, as_of=day, codes=COVERAGE_CODES, rules=load_rules())
    return {code: (len(c.up_to_date), len(c.eligible)) for code, c in found.items()}


def test_a_changed_rule_is_evaluated_afresh_not_read_from_the_cache(db: Database) -> None:
    build_team(db)
    rules = load_rules()
    with db.transaction() as session:
        refresh_coverage_cache(session, as_of=TO, rules=rules)
    breast = rules.rules["screening.breast"]
    wider = dataclasses.replace(rules, rules={**rules.rules, "screening.breast":
                                              dataclasses.replace(breast, min_age=30)})
    with db.session() as session:
        found = workload(session, date_from=FROM, date_to=TO, rules=wider)
    # alice's 36-year-old is now concerned too (the cached rows say 2)
    assert found.team.coverage["screening.breast"].denominator == 3
