"""Workstations syncing through a real PostgreSQL hub: convergence in every order, the
same INS imported twice, conflicts, a pull that spares local changes, re-sync."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import date

import pytest
from sqlmodel import select

from carehub.caseload.models import ClinicalFact, Patient
from carehub.coordination.audit import AuditEvent, verify_chain
from carehub.db import Database
from carehub.prevention.models import Reminder
from carehub.prevention.services import recompute_reminders
from carehub.sync.outbox import OutboxEntry
from carehub.sync.service import (
    action_delivery,
    list_conflicts,
    mark_exported,
    resolve_conflict,
    sync_status,
)
from tests.conftest import Hub
from tests.sync_helpers import (
    MARIE_INS,
    act,
    action_ids,
    actions,
    edit_patient,
    import_export,
    make_ins,
    new_patient,
    patient_by_ins,
    patients,
    pending,
    run_sync,
)

Workstation = Callable[[str], Database]
NURSES = ("alice", "bob", "carol")
NGUYEN_INS = "295109912611193"


def team(hub: Hub, nurses: tuple[str, ...] = NURSES) -> None:
    """Each nurse follows her caseload and covers her colleagues' (holiday cover)."""
    for nurse in nurses:
        hub.grant(nurse, follows=[nurse], covers=[n for n in nurses if n != nurse])


def hub_totals(hub: Hub) -> tuple[int, ...]:
    return tuple(hub.count(t) for t in ("patient", "action", "record", "conflict", "receipt"))


def test_two_workstations_share_patients_and_actions_and_resync_adds_nothing(
        hub: Hub, workstation: Workstation) -> None:
    team(hub, ("alice", "bob"))
    alice, bob = workstation("alice"), workstation("bob")
    patient = new_patient(alice, "alice", "Lemoine", ins=make_ins(1), email="l@example.fr")
    act(alice, "alice", patient, "appel de suivi")
    report = run_sync(alice, hub.url("alice"), "alice")
    assert (report.pushed, report.refused, pending(alice)) == (2, 0, 0)
    report = run_sync(bob, hub.url("bob"), "bob")
    assert report.pulled == 2
    assert actions(bob) == actions(alice) == {(make_ins(1), "appel de suivi")}
    assert patients(bob) == patients(alice)
    with bob.session() as session:
        pulled = session.get(Patient, patient)
        assert pulled is not None and pulled.search_text  # found by search as you type
    # Nothing new: a second round on both sides changes nothing anywhere.
    before = hub_totals(hub), patients(alice), patients(bob), action_ids(bob)
    for database, nurse in ((alice, "alice"), (bob, "bob"), (alice, "alice")):
        report = run_sync(database, hub.url(nurse), nurse)
        assert (report.pushed, report.pulled, report.conflicts) == (0, 0, 0)
    assert (hub_totals(hub), patients(alice), patients(bob), action_ids(bob)) == before


@pytest.mark.parametrize("order", list(itertools.permutations(NURSES)),
                         ids=lambda o: "-".join(o))
def test_three_offline_workstations_converge_in_any_order(
        hub: Hub, workstation: Workstation, order: tuple[str, ...]) -> None:
    team(hub)
    stations = {n: workstation(n) for n in NURSES}
    for number, nurse in enumerate(NURSES):
        patient = new_patient(stations[nurse], nurse, f"Patient{nurse}", ins=make_ins(number))
        for k in range(3):
            act(stations[nurse], nurse, patient, f"{nurse} {k}")
    # Alice also calls Bob's patient after a first exchange, offline again.
    run_sync(stations["bob"], hub.url("bob"), "bob")
    run_sync(stations["alice"], hub.url("alice"), "alice")
    act(stations["alice"], "alice", make_ins(1), "alice covers bob")
    for nurse in order + order:  # two rounds: the first ones learn of the last ones
        run_sync(stations[nurse], hub.url(nurse), nurse)
    expected = {(make_ins(n), f"{nurse} {k}") for n, nurse in enumerate(NURSES)
                for k in range(3)} | {(make_ins(1), "alice covers bob")}
    for nurse in NURSES:
        assert actions(stations[nurse]) == expected
        assert patients(stations[nurse]) == patients(stations["alice"])
        assert pending(stations[nurse]) == 0
    assert hub.count("action") == 10 and hub.count("patient") == 3


def test_the_same_patient_imported_on_two_workstations_is_one_patient(
        hub: Hub, workstation: Workstation) -> None:
    team(hub, ("alice", "bob"))
    alice, bob = workstation("alice"), workstation("bob")
    import_export(alice, "alice")
    import_export(bob, "bob")
    bob_marie = patient_by_ins(bob, MARIE_INS).id
    assert patient_by_ins(alice, MARIE_INS).id != bob_marie
    act(alice, "alice", MARIE_INS, "alice appelle Marie")
    act(bob, "bob", MARIE_INS, "bob appelle Marie")
    with bob.session() as session:
        facts = len(session.exec(select(ClinicalFact).where(
            ClinicalFact.patient_id == bob_marie)).all())
    assert facts > 0
    for database, nurse in ((alice, "alice"), (bob, "bob"), (alice, "alice")):
        assert run_sync(database, hub.url(nurse), nurse).refused == 0
    assert hub.query("SELECT count(*) FROM patient WHERE ins = %s", (MARIE_INS,)) == [(1,)]
    marie = patient_by_ins(alice, MARIE_INS).id
    assert patient_by_ins(bob, MARIE_INS).id == marie  # re-keyed to the hub's id
    expected = {(MARIE_INS, "alice appelle Marie"), (MARIE_INS, "bob appelle Marie")}
    assert expected <= actions(alice) and expected == {a for a in actions(bob) if
                                                       a[0] == MARIE_INS}
    with bob.session() as session:  # her history came along with the new id
        assert len(session.exec(select(ClinicalFact).where(
            ClinicalFact.patient_id == marie)).all()) == facts
        assert session.get(Patient, bob_marie) is None
    # She stays in the caseload that registered her first; Bob's assignment is on review.
    with alice.session() as session:
        conflicts = list_conflicts(session)
    with_ins = {p.id for p in (patient_by_ins(alice, MARIE_INS),
                               patient_by_ins(alice, NGUYEN_INS))}
    assert sorted((c.patient_id, c.field, c.kept_value, c.overwritten_value)
                  for c in conflicts) == sorted((p, "care_manager", "alice", "bob")
                                                for p in with_ins)
    # Patients without INS are not merged: two Jean Dupont, each with his actions.
    assert sum(1 for p in patients(alice).values() if p["birth_name"] == "Dupont") == 2


def test_a_concurrent_edit_keeps_the_later_value_and_records_the_other(
        hub: Hub, workstation: Workstation) -> None:
    team(hub, ("alice", "bob"))
    alice, bob = workstation("alice"), workstation("bob")
    patient = new_patient(alice, "alice", "Moreau", ins=make_ins(7))
    run_sync(alice, hub.url("alice"), "alice")
    run_sync(bob, hub.url("bob"), "bob")
    edit_patient(alice, "alice", patient, used_name="Moreau-Blanc", email="a@example.fr")
    edit_patient(bob, "bob", patient, used_name="Blanc")  # later: it wins
    run_sync(alice, hub.url("alice"), "alice")
    report = run_sync(bob, hub.url("bob"), "bob")
    assert report.conflicts == 1
    run_sync(alice, hub.url("alice"), "alice")
    for database in (alice, bob):
        assert patients(database)[patient]["used_name"] == "Blanc"
        assert patients(database)[patient]["email"] == "a@example.fr"  # no conflict there
    with alice.session() as session:
        [conflict] = list_conflicts(session)
    assert (conflict.field, conflict.kept_value, conflict.overwritten_value,
            conflict.kept_from, conflict.overwritten_from, conflict.resolved) == \
        ("used_name", "Blanc", "Moreau-Blanc", "bob", "alice", False)
    # Alice brings her value back: a new change for everyone, and the conflict is settled.
    with alice.transaction() as session:
        resolve_conflict(session, conflict_id=conflict.id, keep="overwritten", actor="alice")
    run_sync(alice, hub.url("alice"), "alice")
    run_sync(bob, hub.url("bob"), "bob")
    assert patients(bob)[patient]["used_name"] == "Moreau-Blanc"
    with bob.session() as session:
        assert list_conflicts(session) == []
        [settled] = list_conflicts(session, unresolved_only=False)
        assert settled.resolved


def test_a_pull_never_overwrites_a_change_not_yet_pushed(hub: Hub,
                                                         workstation: Workstation) -> None:
    team(hub, ("alice", "bob"))
    alice, bob = workstation("alice"), workstation("bob")
    patient = new_patient(alice, "alice", "Garnier", ins=make_ins(8))
    run_sync(alice, hub.url("alice"), "alice")
    run_sync(bob, hub.url("bob"), "bob")
    edit_patient(bob, "bob", patient, email="bob@example.fr")
    edit_patient(alice, "alice", patient, email="alice@example.fr", commune_insee="41018")
    run_sync(alice, hub.url("alice"), "alice")
    run_sync(bob, hub.url("bob"), "bob", push=False)
    assert patients(bob)[patient]["email"] == "bob@example.fr"  # still Bob's, pending
    assert patients(bob)[patient]["commune_insee"] == "41018"  # the rest came
    assert pending(bob) == 1
    run_sync(bob, hub.url("bob"), "bob")  # now pushed: Alice's later value wins
    assert patients(bob)[patient]["email"] == "alice@example.fr"
    with bob.session() as session:
        [conflict] = list_conflicts(session)
    assert (conflict.kept_value, conflict.overwritten_value) == ("alice@example.fr",
                                                                 "bob@example.fr")


def test_delivery_status_of_each_action(hub: Hub, workstation: Workstation) -> None:
    team(hub, ("alice",))
    alice = workstation("alice")
    patient = new_patient(alice, "alice", "Roux", ins=make_ins(9))
    first = act(alice, "alice", patient, "premier appel")
    with alice.session() as session:
        assert action_delivery(session, action_ids=[first]) == {first: "local"}
        status = sync_status(session)
        assert (status.pending, status.last_success_at, status.refused) == (2, None, 0)
    run_sync(alice, hub.url("alice"), "alice", pull=False)
    with alice.session() as session:
        assert action_delivery(session, action_ids=[first]) == {first: "sent"}
    run_sync(alice, hub.url("alice"), "alice")
    second = act(alice, "alice", patient, "second appel")
    with alice.transaction() as session:
        mark_exported(session, action_ids=[first], target="https://fhir.example/r4")
    with alice.session() as session:
        assert action_delivery(session, action_ids=[first, second]) == {
            first: "exported", second: "local"}
        status = sync_status(session)
        assert status.pending == 1 and status.last_success_at is not None
        assert status.last_error is None


def test_everything_a_pull_writes_is_audited_and_the_chain_holds(
        hub: Hub, workstation: Workstation) -> None:
    team(hub, ("alice", "bob"))
    alice, bob = workstation("alice"), workstation("bob")
    patient = new_patient(alice, "alice", "Perrin", ins=make_ins(30))
    action = act(alice, "alice", patient, "appel")
    run_sync(alice, hub.url("alice"), "alice")
    run_sync(bob, hub.url("bob"), "bob")
    with bob.session() as session:
        events = {(e.entity, e.entity_id, e.action, e.actor)
                  for e in session.exec(select(AuditEvent))}
        assert verify_chain(session).intact
        queued = session.exec(select(OutboxEntry)).all()
    assert ("patient", str(patient), "sync_create", "bob") in events
    assert ("action", str(action), "sync_create", "bob") in events
    assert any(e[0] == "sync" and e[2] == "sync" for e in events)  # the run itself
    assert queued == []  # what came from the hub is not sent back


def test_a_patient_pulled_before_her_twin_was_pushed_is_still_one_and_stays_put(
        hub: Hub, workstation: Workstation) -> None:
    team(hub, ("alice", "bob"))
    alice, bob = workstation("alice"), workstation("bob")
    import_export(alice, "alice")
    run_sync(alice, hub.url("alice"), "alice")
    import_export(bob, "bob")
    run_sync(bob, hub.url("bob"), "bob", push=False)  # re-keyed here before she went out
    marie = patient_by_ins(alice, MARIE_INS).id
    assert patient_by_ins(bob, MARIE_INS).id == marie
    assert run_sync(bob, hub.url("bob"), "bob").refused == 0
    assert hub.query("SELECT caseload FROM patient WHERE ins = %s", (MARIE_INS,)) == \
        [("alice",)]
    assert hub.query("SELECT count(*) FROM patient WHERE ins = %s", (MARIE_INS,)) == [(1,)]


def test_reminder_states_reach_the_other_workstations(hub: Hub,
                                                     workstation: Workstation) -> None:
    team(hub, ("alice", "bob"))
    alice, bob = workstation("alice"), workstation("bob")
    import_export(alice, "alice")
    with alice.transaction() as session:
        recompute_reminders(session, as_of=date(2026, 12, 1), actor="alice")
    with alice.session() as session:
        mine = {(r.id, r.patient_id, r.reason, r.state, r.due_date)
                for r in session.exec(select(Reminder))}
    assert mine
    run_sync(alice, hub.url("alice"), "alice")
    run_sync(bob, hub.url("bob"), "bob")
    with bob.session() as session:
        theirs = {(r.id, r.patient_id, r.reason, r.state, r.due_date)
                  for r in session.exec(select(Reminder))}
    assert theirs == mine
    assert hub.count("reminder_state") == len(mine)
