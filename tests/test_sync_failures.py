"""The hub when things go wrong: down, refusing, revoked, a sync killed mid-batch,
concurrent syncs; and the caseload lock, which the hub enforces itself."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import func
from sqlmodel import col, select

from carehub.coordination.audit import AuditEvent
from carehub.db import Database
from carehub.sync.apply import push_entries
from carehub.sync.credentials import store_password
from carehub.sync.hub import HubError, connect, parse_hub_url, push_batch
from carehub.sync.hub_admin import add_member, revoke_member
from carehub.sync.models import SyncHub
from carehub.sync.outbox import OutboxEntry, node_id
from carehub.sync.service import action_delivery, refusal, sync_status
from tests.conftest import Hub
from tests.hub_server import PASSWORD_GROUP
from tests.sync_helpers import (
    act,
    action_ids,
    actions,
    carehub_command,
    child_env,
    make_ins,
    new_patient,
    patients,
    pending,
    run_sync,
)

Workstation = Callable[[str], Database]


def local_totals(database: Database) -> tuple[object, ...]:
    with database.session() as session:
        sent = session.exec(select(func.count()).select_from(OutboxEntry).where(
            col(OutboxEntry.sent_at).is_not(None))).one()
    return patients(database), action_ids(database), pending(database), sent


def test_a_hub_that_is_down_gives_a_clear_error_and_changes_nothing(
        workstation: Workstation, tmp_path: Path) -> None:
    alice = workstation("alice")
    act(alice, "alice", new_patient(alice, "alice", "Petit"), "appel")
    before = local_totals(alice)
    url = f"postgresql://alice@/hub?host={tmp_path / 'no-server-here'}"
    with pytest.raises(HubError) as caught:
        run_sync(alice, url, "alice")
    assert "cannot be reached" in caught.value.message
    assert "injoignable" in caught.value.message_fr
    assert local_totals(alice) == before
    with alice.session() as session:
        status = sync_status(session)
    assert status.pending == 2 and status.last_success_at is None
    assert status.last_error == caught.value.message
    # The command line says the same, on stderr, with exit status 1.
    done = subprocess.run(carehub_command(alice, "alice", "sync", "--hub", url),
                          env=child_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.startswith("error: The hub ") and "cannot be reached" in done.stderr
    assert local_totals(alice) == before


def test_cli_sync_prints_a_summary(hub: Hub, workstation: Workstation) -> None:
    hub.grant("alice", follows=["alice"])
    alice = workstation("alice")
    act(alice, "alice", new_patient(alice, "alice", "Petit", ins=make_ins(3)), "appel")
    done = subprocess.run(carehub_command(alice, "alice", "sync", "--hub", hub.url("alice")),
                          env=child_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Sync done: 2 change(s) sent, 0 received")
    assert hub.count("action") == 1


def test_a_change_the_hub_refuses_is_kept_marked_with_the_reason(
        hub: Hub, workstation: Workstation) -> None:
    hub.grant("carol", follows=["carol"])
    carol = workstation("carol")
    stranger = new_patient(carol, "carol", "Faure", ins=make_ins(4), care_manager="dave")
    refused_action = act(carol, "carol", stranger, "appel")
    mine = act(carol, "carol", new_patient(carol, "carol", "Blanc", ins=make_ins(5)), "ok")
    report = run_sync(carol, hub.url("carol"), "carol")
    assert (report.pushed, report.refused) == (2, 2)
    with carol.session() as session:
        assert action_delivery(session, action_ids=[refused_action, mine]) == {
            refused_action: "refused", mine: "acknowledged"}
        code, reason = refusal(session, entity_id=str(stranger)) or (None, None)
        assert code == "not_your_caseload" and reason is not None and "'dave'" in reason
        assert refusal(session, entity_id=str(refused_action)) == (
            "unknown_patient", f"The hub does not know patient {stranger}.")
        assert sync_status(session).refused == 2 and sync_status(session).pending == 0
        events = session.exec(select(AuditEvent).where(
            AuditEvent.action == "sync_refused")).all()
        assert {e.entity_id for e in events} == {str(stranger), str(refused_action)}
    assert stranger in patients(carol)  # kept here
    again = run_sync(carol, hub.url("carol"), "carol")
    assert (again.pushed, again.refused) == (0, 0)  # not sent again behind her back
    assert hub.count("patient") == 1 and hub.count("action") == 1


def test_row_level_security_limits_each_role_to_her_caseloads(
        hub: Hub, workstation: Workstation) -> None:
    hub.grant("alice", follows=["alice"])
    hub.grant("carol", follows=["carol"])
    alice, carol = workstation("alice"), workstation("carol")
    alice_patient = new_patient(alice, "alice", "Dubois", ins=make_ins(10))
    act(alice, "alice", alice_patient, "appel confidentiel")
    act(carol, "carol", new_patient(carol, "carol", "Mercier", ins=make_ins(11)), "appel")
    run_sync(alice, hub.url("alice"), "alice")
    run_sync(carol, hub.url("carol"), "carol")
    assert actions(carol) == {(make_ins(11), "appel")}
    assert alice_patient not in patients(carol)
    # The lock is at the hub, not in CareHub: her own SQL reaches no table at all (the
    # hostile-member suite, tests/test_hub_security.py, tries every one).
    for statement in ("SELECT count(*) FROM patient", "SELECT count(*) FROM action",
                      "UPDATE patient SET caseload = 'carol' WHERE caseload = 'alice'"):
        with psycopg.connect(hub.url("carol")) as conn, \
                pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)
    with psycopg.connect(hub.url("carol")) as conn, \
            pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("INSERT INTO action (id, patient_id, type, at, author, payload, "
                     "origin_entry) VALUES (%s, %s, 'call', now(), 'carol', '{}', %s)",
                     (uuid.uuid4(), alice_patient, uuid.uuid4()))
    assert hub.count("action") == 2
    # Covering Alice's caseload (holiday cover) brings her patients at the next pull.
    hub.grant("carol", covers=["alice"])
    run_sync(carol, hub.url("carol"), "carol")
    assert (make_ins(10), "appel confidentiel") in actions(carol)


def test_a_revoked_role_cannot_sync(hub: Hub, workstation: Workstation) -> None:
    role = f"zoe_{uuid.uuid4().hex[:8]}"
    hub.grant("zoe", role=role, follows=["zoe"])
    zoe = workstation("zoe")
    act(zoe, "zoe", new_patient(zoe, "zoe", "Lambert", ins=make_ins(12)), "appel")
    run_sync(zoe, hub.url(role), "zoe")
    act(zoe, "zoe", make_ins(12), "après le vol")
    revoke_member(hub.admin_url, role=role)
    before = local_totals(zoe)
    with pytest.raises(HubError) as caught:
        run_sync(zoe, hub.url(role), "zoe")
    assert "refused the credentials" in caught.value.message
    assert local_totals(zoe) == before
    assert hub.count("action") == 1


def _wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def alice_offline(hub: Hub, workstation: Workstation, *, calls: int
                  ) -> tuple[Database, list[OutboxEntry]]:
    """Alice, a new patient and `calls` calls, all still in her outbox (oldest first)."""
    hub.grant("alice", follows=["alice"])
    alice = workstation("alice")
    patient = new_patient(alice, "alice", "Girard", ins=make_ins(13))
    for k in range(calls):
        act(alice, "alice", patient, f"appel {k}")
    with alice.session() as session:
        return alice, list(session.exec(select(OutboxEntry).order_by(col(OutboxEntry.seq))))


@pytest.mark.parametrize("how", ["kill the process", "close its connection at the hub"])
def test_a_sync_cut_mid_batch_loses_and_duplicates_nothing(
        hub: Hub, workstation: Workstation, how: str) -> None:
    alice, entries = alice_offline(hub, workstation, calls=5)
    # Hold the receipt of the first entry of batch 2: the sync blocks after writing its
    # actions at the hub, before that batch commits.
    blocker = psycopg.connect(hub.admin_url)
    blocker.execute("INSERT INTO receipt (entry_id, member, status) VALUES (%s, 'x', 'applied')",
                    (entries[2].id,))
    child = subprocess.Popen(carehub_command(alice, "alice", "sync", "--hub", hub.url("alice"),
                                             "--batch-size", "2"),
                             env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    try:
        def blocked() -> list[tuple[object, ...]]:
            return hub.query("SELECT pid FROM pg_stat_activity WHERE application_name = "
                             "'carehub-sync' AND wait_event_type = 'Lock'")
        _wait_until(lambda: bool(blocked()), "the sync to block in batch 2")
        if how == "kill the process":
            child.kill()
        else:
            hub.query("SELECT pg_terminate_backend(%s)", (blocked()[0][0],))
        _, stderr = child.communicate(timeout=60)
    finally:
        blocker.rollback()
        blocker.close()
        if child.poll() is None:
            child.kill()
    assert child.returncode != 0
    if how != "kill the process":
        assert "connection to the hub" in stderr and "was cut" in stderr
    assert hub.count("action") == 1  # batch 1 landed (patient + 1 action), batch 2 did not
    assert pending(alice) == 4
    report = run_sync(alice, hub.url("alice"), "alice", batch_size=2)
    assert report.pushed == 4
    assert hub.count("action") == 5 and hub.count("patient") == 1
    assert hub.query("SELECT count(DISTINCT id) FROM action") == [(5,)]
    assert pending(alice) == 0
    with alice.session() as session:
        assert set(action_delivery(session, action_ids=list(action_ids(alice))).values()) == {
            "acknowledged"}


def test_a_batch_the_hub_committed_but_the_workstation_never_marked_is_not_doubled(
        hub: Hub, workstation: Workstation) -> None:
    alice, entries = alice_offline(hub, workstation, calls=3)
    # The hub commits, then the laptop's battery dies before it records the answer.
    with alice.session() as session:
        batch = push_entries(session, entries, node_id(session))
    with connect(parse_hub_url(hub.url("alice")), None) as conn:
        push_batch(conn, batch)
    assert hub.count("action") == 3 and pending(alice) == 4
    report = run_sync(alice, hub.url("alice"), "alice")
    assert report.pushed == 4 and report.conflicts == 0
    assert (hub.count("action"), hub.count("patient"), hub.count("conflict")) == (3, 1, 0)
    assert pending(alice) == 0 and len(action_ids(alice)) == 3


def test_concurrent_syncs_of_one_and_two_workstations(hub: Hub,
                                                      workstation: Workstation) -> None:
    hub.grant("alice", follows=["alice"], covers=["bob"])
    hub.grant("bob", follows=["bob"], covers=["alice"])
    alice, bob = workstation("alice"), workstation("bob")
    for database, nurse, number in ((alice, "alice", 20), (bob, "bob", 21)):
        patient = new_patient(database, nurse, nurse.title(), ins=make_ins(number))
        for k in range(20):
            act(database, nurse, patient, f"{nurse} {k}")
    children = [subprocess.Popen(carehub_command(database, nurse, "sync", "--hub",
                                                 hub.url(nurse), "--batch-size", "7"),
                                 env=child_env(), stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
                for database, nurse in ((alice, "alice"), (alice, "alice"), (bob, "bob"),
                                        (bob, "bob"))]
    for child in children:
        _, stderr = child.communicate(timeout=120)
        assert child.returncode == 0, stderr
    for database, nurse in ((alice, "alice"), (bob, "bob"), (alice, "alice")):
        run_sync(database, hub.url(nurse), nurse)
    assert hub.count("action") == 40 and hub.count("patient") == 2
    assert actions(alice) == actions(bob) and len(action_ids(alice)) == 40
    assert pending(alice) == pending(bob) == 0


def test_the_hub_password_comes_from_the_keyring_never_from_a_file(
        hub: Hub, workstation: Workstation) -> None:
    role = f"yves_{uuid.uuid4().hex[:8]}"
    add_member(hub.admin_url, user="yves", role=role, follows=["yves"],
               role_password="s3cret-hub")
    hub.server.execute(f"GRANT {PASSWORD_GROUP} TO {role}")
    yves = workstation("yves")
    act(yves, "yves", new_patient(yves, "yves", "Chevalier", ins=make_ins(15)), "appel")
    with pytest.raises(HubError) as caught:
        run_sync(yves, hub.url(role), "yves")
    assert "refused the credentials" in caught.value.message
    address = parse_hub_url(hub.url(role))
    store_password(hub=address.key, user=role, password="s3cret-hub")
    assert run_sync(yves, hub.url(role), "yves").pushed == 2
    # A password written in the URL works too, and is kept nowhere.
    with_password = hub.url(role).replace(f"{role}@", f"{role}:s3cret-hub@")
    run_sync(yves, with_password, "yves")
    with yves.session() as session:
        hubs = session.exec(select(SyncHub.hub)).all()
    assert hubs == [address.key] and "s3cret" not in address.key
    assert b"s3cret" not in yves.path.read_bytes()
