"""The contact plan: the due patients spread over the coming working days within each care
manager's capacity, urgent work on its day, placements kept as the backlog moves, the
day's share as the call list, the CLI; on crafted caseloads and on the demo caseload."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session, select
from typer.testing import CliRunner

from carehub.caseload.demo import generate_demo
from carehub.cli import app
from carehub.coordination.audit import AuditEvent
from carehub.db import Database
from carehub.errors import InputError
from carehub.prevention.plan import (
    contact_plan,
    get_capacity,
    move_patient,
    rebuild_plan,
    set_capacity,
)
from carehub.prevention.services import (
    call_list,
    plan_callback,
    recompute_reminders,
    record_call_outcome,
)
from carehub.users.services import add_coverage, ensure_user
from tests.db_helpers import fresh_database
from tests.prevention_helpers import STAY, add_fact, add_patient

D = date.fromisoformat
MONDAY = D("2026-11-23")
runner = CliRunner()


def _ids(items: list) -> list[uuid.UUID]:  # type: ignore[type-arg]
    return [i.patient_id for i in items]


def _caseload(s: Session, count: int, *, manager: str = "nurse") -> list[uuid.UUID]:
    """`count` women of 70 (flu, COVID, frailty... due), different names and fragility."""
    return [add_patient(s, f"Patiente{n:03d}", born=D("1956-01-01"), manager=manager,
                        fragility=n % 4) for n in range(count)]


def _days(s: Session, user: str = "nurse") -> dict[uuid.UUID, date]:
    rows = s.connection().execute(text(
        "SELECT a.patient_id, a.day FROM plan_assignment a JOIN app_user u ON u.id = a.user_id"
        " WHERE u.name = :u"), {"u": user}).all()
    return {uuid.UUID(hex=pid): D(day) for pid, day in rows}


def _check_invariants(s: Session, user: str, as_of: date, due: set[uuid.UUID]) -> None:
    """Every due patient placed once; no day over capacity but for urgent (or moved) work;
    nothing on a day she does not work (but today)."""
    plan = contact_plan(s, user=user, as_of=as_of, days=400)
    placed = [p.patient_id for d in plan.days for p in d.patients]
    assert len(placed) == len(set(placed)) == plan.total
    assert due <= set(placed)
    capacity = get_capacity(s, user=user)
    for plan_day in plan.days:
        ordinary = [p for p in plan_day.patients if not (p.urgent or p.pinned)]
        assert len(ordinary) <= plan_day.capacity, plan_day.day
        if plan_day.day != as_of:
            assert capacity.works_on(plan_day.day) or not plan_day.patients


def test_the_backlog_is_spread_within_the_capacity_and_each_patient_placed_once(
        db: Database) -> None:
    with db.transaction() as s:
        patients = _caseload(s, 23)
        recompute_reminders(s, as_of=MONDAY, actor="nurse")
        set_capacity(s, user="nurse", per_day=5, days="mon,tue,wed,thu,fri", actor="nurse")
        items = call_list(s, user="nurse", as_of=MONDAY)
        assert len(items) == 5  # today's share, not the whole backlog
        plan = contact_plan(s, user="nurse", as_of=MONDAY, days=6)
        assert [d.load for d in plan.days] == [5, 5, 5, 5, 3, 0]
        assert [d.day for d in plan.days][:5] == [MONDAY + timedelta(days=i) for i in range(5)]
        assert plan.days[5].day == D("2026-11-30")  # the weekend is skipped
        assert set(_ids(items)) == {p.patient_id for p in plan.days[0].patients}
        # Most urgent first: today's share has the highest priorities of the backlog.
        whole = call_list(s, user="nurse", as_of=MONDAY, plan=False)
        assert len(whole) == 23
        assert min(i.priority for i in items) >= max(
            i.priority for i in whole if i.patient_id not in set(_ids(items)))
        _check_invariants(s, "nurse", MONDAY, set(patients))


def test_when_fewer_are_due_than_the_capacity_they_are_all_today_s_share(
        db: Database) -> None:
    with db.transaction() as s:
        patients = _caseload(s, 4)
        recompute_reminders(s, as_of=MONDAY, actor="nurse")
        assert set(_ids(call_list(s, user="nurse", as_of=MONDAY))) == set(patients)
        assert get_capacity(s, user="nurse").per_day == 30  # the default


def test_a_discharge_is_called_within_its_window_even_on_a_full_day(db: Database) -> None:
    with db.transaction() as s:
        _caseload(s, 12)
        set_capacity(s, user="nurse", per_day=3, days="mon,tue,wed,thu,fri", actor="nurse")
        recompute_reminders(s, as_of=MONDAY, actor="nurse")
        rebuild_plan(s, user="nurse", as_of=MONDAY)  # the week is full
        out = add_patient(s, "Sortie", born=D("1990-01-01"), fragility=None)
        add_fact(s, out, "encounter", STAY, start=D("2026-11-18"), end=D("2026-11-22"),
                 status="finished")
        recompute_reminders(s, as_of=MONDAY, actor="nurse")
        rebuild_plan(s, user="nurse", as_of=MONDAY)
        assert _days(s)[out] <= D("2026-11-24")  # discharged on the 22nd: within 2 days
        plan = contact_plan(s, user="nurse", as_of=MONDAY, days=1)
        [entry] = [p for p in plan.days[0].patients if p.patient_id == out]
        assert entry.urgent and "followup.discharge" in entry.reasons
        assert plan.days[0].load == 4  # over the capacity by the urgent call only
        _check_invariants(s, "nurse", MONDAY, set(_days(s)))


def test_a_call_back_is_planned_on_its_day_and_listed_at_its_hour(db: Database) -> None:
    with db.transaction() as s:
        patients = _caseload(s, 3)
        recompute_reminders(s, as_of=MONDAY, actor="nurse")
        thursday = datetime(2026, 11, 26, 10, 0).astimezone()
        plan_callback(s, patient_id=patients[0], at=thursday, actor="nurse")
        set_capacity(s, user="nurse", per_day=1, days="mon,tue,wed,thu,fri", actor="nurse")
        assert patients[0] not in _ids(call_list(s, user="nurse", as_of=MONDAY))
        assert _days(s)[patients[0]] == D("2026-11-26")
        that_day = call_list(s, user="nurse", as_of=D("2026-11-26"),
                             now=datetime(2026, 11, 26, 9, 0))
        [line] = [i for i in that_day if i.patient_id == patients[0]]
        assert line.available_from is not None and line.available_from.hour == 10
        plan = contact_plan(s, user="nurse", as_of=D("2026-11-26"), days=1)
        assert any(p.patient_id == patients[0] and p.urgent for p in plan.days[0].patients)


def test_placements_stay_as_the_backlog_moves(db: Database) -> None:
    with db.transaction() as s:
        patients = _caseload(s, 12)
        recompute_reminders(s, as_of=MONDAY, actor="nurse")
        set_capacity(s, user="nurse", per_day=4, days="mon,tue,wed,thu,fri", actor="nurse")
        rebuild_plan(s, user="nurse", as_of=MONDAY)
        before = _days(s)
        order = [p.patient_id for p in contact_plan(s, user="nurse", as_of=MONDAY,
                                                    days=3).days[1].patients]
        # The backlog moves: one of Wednesday's is settled elsewhere, newcomers are due.
        wednesday = next(p for p, d in before.items() if d == D("2026-11-25"))
        s.execute(text("UPDATE reminder SET state = 'done', closed_on = :d "
                       "WHERE patient_id = :p"), {"d": MONDAY.isoformat(), "p": wednesday.hex})
        newcomers = _caseload(s, 3)
        recompute_reminders(s, as_of=MONDAY, actor="nurse")
        rebuild_plan(s, user="nurse", as_of=MONDAY)
        after = _days(s)
        assert wednesday not in after
        assert all(after[p] == before[p] for p in patients if p != wednesday)
        assert [p.patient_id for p in contact_plan(s, user="nurse", as_of=MONDAY,
                                                   days=3).days[1].patients] == order
        assert {after[p] for p in newcomers} >= {D("2026-11-25")}  # the hole, then after
        _check_invariants(s, "nurse", MONDAY, set(after))


def test_an_outcome_keeps_the_day_s_load_and_the_rest_is_carried_over(db: Database) -> None:
    with db.transaction() as s:
        _caseload(s, 6)
        recompute_reminders(s, as_of=MONDAY, actor="nurse")
        set_capacity(s, user="nurse", per_day=3, days="mon,tue,wed,thu,fri", actor="nurse")
        today = _ids(call_list(s, user="nurse", as_of=MONDAY))
        tomorrow = [p.patient_id for p in contact_plan(s, user="nurse", as_of=MONDAY,
                                                       days=2).days[1].patients]
        record_call_outcome(s, patient_id=today[0], outcome="reached", actor="nurse",
                            at=datetime(2026, 11, 23, 9, 30).astimezone())
        after = _ids(call_list(s, user="nurse", as_of=MONDAY,
                               now=datetime(2026, 11, 23, 9, 45)))
        assert after == today[1:]  # nobody pulled in from tomorrow: a day she can finish
        plan = contact_plan(s, user="nurse", as_of=MONDAY, days=2)
        assert plan.days[0].load == 3
        assert [p.state for p in plan.days[0].patients].count("done") == 1
        assert [p.patient_id for p in plan.days[1].patients] == tomorrow
        # The next day: the two she did not reach come first, carried over from Monday.
        next_day = contact_plan(s, user="nurse", as_of=D("2026-11-24"), days=1).days[0]
        carried = [p for p in next_day.patients if p.carried_from == MONDAY]
        assert {p.patient_id for p in carried} == set(today[1:])
        assert today[0] not in {p.patient_id for p in next_day.patients}
        assert next_day.load == 3


def test_a_covering_colleague_works_from_the_same_plan(db: Database) -> None:
    with db.transaction() as s:
        ensure_user(s, name="bob")
        _caseload(s, 8, manager="alice")
        recompute_reminders(s, as_of=MONDAY, actor="alice")
        set_capacity(s, user="alice", per_day=3, days="mon,tue,wed,thu,fri", actor="alice")
        hers = _ids(call_list(s, user="alice", as_of=MONDAY))
        add_coverage(s, user="bob", covers="alice", starts_on=MONDAY,
                     ends_on=MONDAY + timedelta(days=6), actor="alice")
    db.acting_user = "bob"
    with db.transaction() as s:
        assert _ids(call_list(s, user="alice", as_of=MONDAY)) == hers
        assert contact_plan(s, user="alice", as_of=MONDAY, days=1).days[0].capacity == 3


def test_moving_a_patient_to_another_day_is_kept_and_audited(db: Database) -> None:
    with db.transaction() as s:
        patients = _caseload(s, 5)
        recompute_reminders(s, as_of=MONDAY, actor="nurse")
        set_capacity(s, user="nurse", per_day=2, days="mon,tue,wed,thu,fri", actor="nurse")
        today = _ids(call_list(s, user="nurse", as_of=MONDAY))
        move_patient(s, user="nurse", patient_id=today[0], day=D("2026-11-27"), actor="nurse",
                     as_of=MONDAY)
        assert today[0] not in _ids(call_list(s, user="nurse", as_of=MONDAY))
        assert _days(s)[today[0]] == D("2026-11-27")
        plan = contact_plan(s, user="nurse", as_of=MONDAY, days=5)
        friday = plan.day(D("2026-11-27"))
        assert friday is not None and any(p.pinned for p in friday.patients)
        events = s.exec(select(AuditEvent).where(AuditEvent.entity == "plan_assignment")).all()
        assert len(events) == 1
        with pytest.raises(InputError):
            move_patient(s, user="nurse", patient_id=today[0], day=D("2026-11-20"),
                         actor="nurse", as_of=MONDAY)
        _check_invariants(s, "nurse", MONDAY, set(patients))


def test_the_plan_follows_a_reminder_settled_on_another_workstation(db: Database) -> None:
    """A sync writes the other workstation's reminder states: the plan is rebuilt from
    them as it is read (here the state the pull writes, set directly)."""
    with db.transaction() as s:
        patients = _caseload(s, 6)
        recompute_reminders(s, as_of=MONDAY, actor="nurse")
        set_capacity(s, user="nurse", per_day=2, days="mon,tue,wed,thu,fri", actor="nurse")
        rebuild_plan(s, user="nurse", as_of=MONDAY)
        later = next(p for p, d in _days(s).items() if d > MONDAY)
        s.execute(text("UPDATE reminder SET state = 'declined', closed_on = :d "
                       "WHERE patient_id = :p"), {"d": MONDAY.isoformat(), "p": later.hex})
        call_list(s, user="nurse", as_of=MONDAY)
        assert later not in _days(s)
        _check_invariants(s, "nurse", MONDAY, set(patients) - {later})


def test_bad_capacities_are_refused_and_change_nothing(db: Database) -> None:
    with db.transaction() as s:
        ensure_user(s, name="nurse")
        for per_day, days in ((0, "mon"), (30, "lundi,funday"), (30, "")):
            with pytest.raises(InputError):
                set_capacity(s, user="nurse", per_day=per_day, days=days, actor="nurse")
        assert get_capacity(s, user="nurse").per_day == 30


def test_cli_plan_and_capacity(db: Database, db_path: Path) -> None:
    with db.transaction() as s:
        _caseload(s, 5, manager="alice")
    base = ["--db", str(db_path), "--user", "alice"]
    result = runner.invoke(app, [*base, "plan", "capacity", "--user", "alice", "--per-day",
                                 "2", "--days", "mon,tue,wed"])
    assert result.exit_code == 0, result.output
    assert "2 calls a day on mon,tue,wed" in result.output
    result = runner.invoke(app, [*base, "plan", "--from", "2026-11-23", "--days", "4",
                                 "--json"])
    assert result.exit_code == 0, result.output
    days = json.loads(result.stdout)
    assert [d["day"] for d in days] == ["2026-11-23", "2026-11-24", "2026-11-25",
                                        "2026-11-30"]
    assert [d["load"] for d in days] == [2, 2, 1, 0] and days[0]["capacity"] == 2
    first = days[0]["patients"][0]
    assert {"patient_id", "ins", "reasons"} <= set(first) and first["reasons"]
    listed = runner.invoke(app, [*base, "calllist", "--as-of", "2026-11-23", "--json"])
    assert [i["patient_id"] for i in json.loads(listed.stdout)] and len(
        json.loads(listed.stdout)) == 2
    bad = runner.invoke(app, [*base, "plan", "capacity", "--days", "mon,funday"])
    assert bad.exit_code == 1 and "Unknown working day 'funday'" in str(bad.exception)


@pytest.fixture(scope="module")
def demo_plan_db(tmp_path_factory: pytest.TempPathFactory,
                 template_db: tuple[Path, str]) -> Database:
    database = fresh_database(tmp_path_factory.mktemp("plandemo"), template_db)
    with database.transaction() as s:
        generate_demo(s, patients=400, seed=3, actor="nurse", as_of=MONDAY)
        recompute_reminders(s, as_of=MONDAY, actor="nurse")
    return database


def test_the_demo_caseload_s_plan_keeps_every_invariant_day_after_day(
        demo_plan_db: Database) -> None:
    with demo_plan_db.transaction() as s:
        set_capacity(s, user="nurse", per_day=20, days="mon,tue,wed,thu,fri", actor="nurse")
        due = set(_ids(call_list(s, user="nurse", as_of=MONDAY, plan=False)))
        assert len(due) > 100
        _check_invariants(s, "nurse", MONDAY, due)
        for offset in (1, 2, 3):  # she reaches half of each day's share, then the next day
            day = MONDAY + timedelta(days=offset - 1)
            share = _ids(call_list(s, user="nurse", as_of=day,
                                   now=datetime.combine(day, datetime.min.time()).replace(
                                       hour=8)))
            for pid in share[::2]:
                record_call_outcome(s, patient_id=pid, outcome="reached", actor="nurse",
                                    at=datetime.combine(day, datetime.min.time()).replace(
                                        hour=9).astimezone())
            following = MONDAY + timedelta(days=offset)
            recompute_reminders(s, as_of=following, actor="nurse")
            due = set(_ids(call_list(s, user="nurse", as_of=following, plan=False)))
            _check_invariants(s, "nurse", following, due)
        counts = Counter(_days(s).values())
        assert max(counts.values()) < len(due)  # spread, not all on one day
        s.rollback()
