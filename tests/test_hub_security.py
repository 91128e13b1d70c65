"""A hostile member: a care manager's own hub login used directly with psycopg (as psql
would), or a hand-edited workstation. Every attack is refused by the hub itself, and the
victim's data and sync are untouched afterwards: her later pulls receive every later
change, her actions are acknowledged."""

from __future__ import annotations

import contextlib
import functools
import json
import re
import subprocess
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from carehub.cli import app
from carehub.db import Database
from carehub.sync.hub import HubError, PushEntry, connect, parse_hub_url
from carehub.sync.hub_admin import (
    add_member,
    list_collisions,
    migrate_hub,
    revoke_member,
    withdraw_caseloads,
)
from carehub.sync.service import _Run, action_delivery, refusal
from tests.conftest import Hub
from tests.hub_server import PgServer
from tests.sync_helpers import (
    act,
    action_ids,
    actions,
    carehub_command,
    child_env,
    make_ins,
    new_patient,
    pending,
    run_sync,
)

Workstation = Callable[[str], Database]
ALICE_INS = make_ins(101)
CLOCK = "0000000000100.000000.mallory1"
LATER = "9999999999990.000000.mallory1"  # beats every clock the hub holds


@dataclass
class Scene:
    hub: Hub
    alice: Database
    patient: uuid.UUID  # Alice's patient, in caseload alice
    mine: uuid.UUID  # Mallory's own patient, in caseload mallory
    workstation: Workstation

    def member(self, role: str = "mallory") -> psycopg.Connection[Any]:
        return psycopg.connect(self.hub.url(role), autocommit=True)

    def alice_rows(self) -> list[Any]:
        """Everything the hub holds of Alice's caseload, sequence numbers aside."""
        q = self.hub.query
        return [
            q("SELECT id, ins, caseload, fields, clocks FROM patient WHERE caseload = 'alice' "
              "ORDER BY id"),
            q("SELECT a.id, a.author, a.payload, a.pushed_by FROM action a JOIN patient p "
              "ON p.id = a.patient_id WHERE p.caseload = 'alice' ORDER BY a.id"),
            q("SELECT r.id, r.fields FROM record r JOIN patient p ON p.id = r.patient_id "
              "WHERE p.caseload = 'alice' ORDER BY r.id"),
            q("SELECT c.id, c.field, c.kept_value, c.resolved_at FROM conflict c JOIN patient p "
              "ON p.id = c.patient_id WHERE p.caseload = 'alice' ORDER BY c.id"),
            q("SELECT alias, canonical FROM patient_alias ORDER BY alias"),
        ]

    def victim_untouched(self, before: list[Any]) -> None:
        """Her rows are as they were; she still syncs: a new action is acknowledged and a
        fresh workstation of hers pulls every one of her actions."""
        assert self.alice_rows() == before
        later = act(self.alice, "alice", self.patient, f"après l'attaque {uuid.uuid4().hex[:6]}")
        report = run_sync(self.alice, self.hub.url("alice"), "alice")
        assert report.refused == 0 and pending(self.alice) == 0
        with self.alice.session() as session:
            assert action_delivery(session, action_ids=[later]) == {later: "acknowledged"}
        fresh = self.workstation(f"alice-{uuid.uuid4().hex[:6]}")
        run_sync(fresh, self.hub.url("alice"), "alice")
        assert actions(fresh) == actions(self.alice)
        assert action_ids(fresh) == action_ids(self.alice)


@pytest.fixture
def scene(hub: Hub, workstation: Workstation) -> Scene:
    hub.grant("alice", follows=["alice"])
    hub.grant("mallory", follows=["mallory"])
    alice, mallory = workstation("alice"), workstation("mallory")
    patient = new_patient(alice, "alice", "Dubois", ins=ALICE_INS, email="d@example.fr")
    act(alice, "alice", patient, "appel confidentiel")
    run_sync(alice, hub.url("alice"), "alice")
    mine = new_patient(mallory, "mallory", "Martin", ins=make_ins(102))
    run_sync(mallory, hub.url("mallory"), "mallory")
    return Scene(hub, alice, patient, mine, workstation)


def entry(entity: str, entity_id: uuid.UUID | str, fields: dict[str, Any], *,
          actor: str = "mallory", op: str = "create", hlc: str = CLOCK,
          **extra: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "entity": entity, "entity_id": str(entity_id), "op": op,
            "actor": actor, "hlc": hlc, "fields": fields, "bases": {}, **extra}


def push(conn: psycopg.Connection[Any], *entries: dict[str, Any]) -> list[dict[str, Any]]:
    row = conn.execute("SELECT hub_push(%s::json)", (json.dumps(list(entries)),)).fetchone()
    assert row is not None
    return list(row[0])


def codes(receipts: list[dict[str, Any]]) -> list[str | None]:
    return [r.get("code") if r["status"] == "refused" else "applied" for r in receipts]


def call(patient: uuid.UUID, **payload: Any) -> dict[str, Any]:
    return {"patient_id": str(patient), "type": "call", "at": "2026-12-01T09:00:00+00:00",
            "note": "x", **payload}


# ------------------------------------------------------------------ no direct privilege

def test_every_relation_refuses_every_statement_to_a_member(scene: Scene) -> None:
    relations = scene.hub.query(
        "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n "
        "ON n.oid = c.relnamespace WHERE n.nspname = 'public' "
        "AND c.relkind IN ('r', 'v', 'm', 'S', 'p', 'f') ORDER BY 1")
    names = {name for name, _ in relations}
    assert {"patient", "patient_alias", "record", "action", "conflict", "receipt",
            "sync_cursor", "hub_user", "caseload_member", "reminder_state", "hub_seq",
            "hub_write_lock", "ins_collision", "alembic_version"} <= names
    before = scene.alice_rows()
    refused = 0
    with scene.member() as conn:
        for name, kind in relations:
            if kind == "S":
                statements = [f"SELECT * FROM {name}", f"SELECT nextval('{name}')",
                              f"SELECT setval('{name}', 9223372036854775000)",
                              f"SELECT currval('{name}')"]
            else:
                [(column,)] = scene.hub.query(
                    "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass "
                    "AND attnum = 1", (name,))
                statements = [f"SELECT * FROM {name} LIMIT 1",
                              f"INSERT INTO {name} DEFAULT VALUES",
                              f"UPDATE {name} SET {column} = {column}",
                              f"DELETE FROM {name}", f"TRUNCATE {name}",
                              f"LOCK TABLE {name} IN ACCESS SHARE MODE",
                              f"SELECT * FROM {name} FOR UPDATE"]
            expected: tuple[type[Exception], ...] = (psycopg.errors.InsufficientPrivilege,)
            if kind == "v":  # TRUNCATE of a view: not a table, refused all the same
                expected += (psycopg.errors.WrongObjectType,)
            for statement in statements:
                with conn.transaction(), pytest.raises(expected):
                    conn.execute(statement)
                refused += 1
        granted = conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r','v','m','S','p','f') AND ("
            "has_table_privilege(c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, "
            "REFERENCES, TRIGGER') OR has_any_column_privilege(c.oid, 'SELECT, INSERT, "
            "UPDATE, REFERENCES'))").fetchall()
    assert granted == [] and refused >= 7 * 12
    scene.victim_untouched(before)


def test_a_member_creates_nothing_and_reaches_no_inner_function(scene: Scene) -> None:
    before = scene.alice_rows()
    with scene.member() as conn:
        for statement in (
                "CREATE TABLE public.mine (x int)", "CREATE TABLE mine (x int)",
                "CREATE TEMP TABLE mine (x int)", "CREATE SCHEMA mine",
                "CREATE VIEW public.v AS SELECT 1",
                "CREATE FUNCTION public.f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
                "CREATE FUNCTION pg_temp.f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
                "CREATE FUNCTION hub_me() RETURNS int LANGUAGE sql AS 'SELECT 1'",
                "SELECT hub_me()", "SELECT hub_take_write_lock()",
                "SELECT hub_caseloads('alice')",
                "SELECT * FROM hub_merge('{}', '{}', '{}', 'x', 'y', '{}', '{}', "
                "gen_random_uuid(), 'patient', gen_random_uuid())",
                "SELECT hub_write_conflicts('[]')"):
            with conn.transaction(), pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
        # The functions she may call are exactly these.
        callable_ = conn.execute(
            "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = 'public' AND has_function_privilege(p.oid, 'EXECUTE') "
            "ORDER BY 1").fetchall()
    assert [r[0] for r in callable_] == ["hub_pull", "hub_push", "hub_save_cursor",
                                          "hub_session", "hub_workload"]
    scene.victim_untouched(before)


# ------------------------------------------------------------------ forged calls

def test_forged_pushes_into_another_caseload_are_refused(scene: Scene) -> None:
    before = scene.alice_rows()
    [(alice_record,)] = scene.hub.query("SELECT gen_random_uuid()")
    with scene.member() as conn:
        receipts = push(
            conn,
            entry("action", uuid.uuid4(), call(scene.patient)),
            entry("patient", scene.patient, {"given_names": "Pirate"}, op="update"),
            entry("patient", uuid.uuid4(), {"birth_name": "X", "care_manager": "alice"}),
            entry("related_person", uuid.uuid4(), {"patient_id": str(scene.patient),
                                                   "name": "Pirate"}),
            entry("reminder", alice_record, {"patient_id": str(scene.patient),
                                             "state": "done"}),
            entry("patient", scene.mine, {"care_manager": "alice"}, op="update",
                  hlc=LATER),
        )
        assert codes(receipts) == ["patient_not_visible", "patient_not_visible",
                                   "not_your_caseload", "patient_not_visible",
                                   "patient_not_visible", "not_your_caseload"]
        # The refusals never name the other caseload or its care manager.
        assert not any("alice" in (r.get("reason") or "") for r in receipts[:2])
        # Her own receipts come back to her; nothing of Alice's does.
        page = conn.execute("SELECT hub_pull(0, 1000)").fetchone()[0]  # type: ignore[index]
    assert {p["caseload"] for p in page["patients"]} == {"mallory"}
    assert page["actions"] == page["records"] == page["conflicts"] == []
    assert {r["entry_id"] for r in page["receipts"]} >= {r["id"] for r in receipts}
    scene.victim_untouched(before)


def test_author_and_sequence_cannot_be_forged(scene: Scene) -> None:
    before = scene.alice_rows()
    [(top,)] = scene.hub.query("SELECT last_value FROM hub_seq")
    with scene.member() as conn:
        receipts = push(
            conn,
            entry("action", uuid.uuid4(), call(scene.mine, author="alice")),
            entry("action", uuid.uuid4(), call(scene.mine), actor="alice"),
            entry("action", uuid.uuid4(), call(scene.mine, seq=9223372036854775000,
                                               pushed_by="alice"),
                  seq=9223372036854775000),
        )
        assert codes(receipts) == ["forged_author", "forged_author", "applied"]
        conn.execute("SELECT hub_save_cursor('laptop', 9223372036854775000)")
    [(author, pushed_by, seq)] = scene.hub.query(
        "SELECT author, pushed_by, seq FROM action WHERE patient_id = %s", (scene.mine,))
    assert (author, pushed_by) == ("mallory", "mallory") and top < seq < top + 10
    [(cursor,)] = scene.hub.query("SELECT cursor FROM sync_cursor WHERE member = 'mallory' "
                                  "AND workstation = 'laptop'")
    assert cursor < 1000
    scene.victim_untouched(before)


def test_no_conflict_can_be_written_or_settled_on_another_caseloads_patient(
        scene: Scene) -> None:
    conflict = uuid.uuid4()
    scene.hub.query(
        "INSERT INTO conflict (id, patient_id, entity, entity_id, field, kept_value, kept_hlc, "
        "kept_from, overwritten_value, overwritten_hlc, overwritten_from) VALUES (%s, %s, "
        "'patient', %s, 'email', '\"d@example.fr\"', %s, 'alice', '\"x@example.fr\"', %s, "
        "'alice') RETURNING id", (conflict, scene.patient, scene.patient, CLOCK, CLOCK))
    before = scene.alice_rows()
    with scene.member() as conn:
        receipts = push(
            conn,
            entry("conflict", conflict, {"resolution": "overwritten"}, op="resolve"),
            entry("conflict", uuid.uuid4(), {"patient_id": str(scene.patient),
                                             "kept_value": "Pirate"}, op="create"),
        )
    assert codes(receipts) == ["unknown_conflict", "unknown_conflict"]
    # A conflict comes only from the hub's own merge, on her own patient.
    with scene.member() as conn:
        push(conn, entry("patient", scene.mine, {"used_name": "A"}, op="update", hlc=LATER),
             entry("patient", scene.mine, {"used_name": "B"}, op="update", hlc=CLOCK))
    assert scene.hub.query("SELECT DISTINCT patient_id FROM conflict WHERE id <> %s",
                           (conflict,)) == [(scene.mine,)]
    scene.victim_untouched(before)


def test_the_same_ins_never_hijacks_another_caseloads_patient(scene: Scene) -> None:
    before = scene.alice_rows()
    stolen = uuid.uuid4()
    with scene.member() as conn:
        receipts = push(
            conn,
            # An alias hijack: her new patient with Alice's patient's INS...
            entry("patient", stolen, {"birth_name": "Dubois", "ins": ALICE_INS,
                                      "care_manager": "mallory"}),
            # ...then actions and reminder states of "hers" that would land on Alice's.
            entry("action", uuid.uuid4(), call(stolen)),
            # A re-key: her own patient edited to Alice's patient's INS.
            entry("patient", scene.mine, {"ins": ALICE_INS}, op="update", hlc=LATER),
        )
    assert codes(receipts) == ["ins_in_other_caseload", "unknown_patient",
                               "ins_in_other_caseload"]
    for receipt in receipts[::2]:  # the other patient's id, caseload, care manager: unsaid
        assert str(scene.patient) not in receipt["reason"] and "alice" not in receipt["reason"]
    assert scene.hub.query("SELECT count(*) FROM patient_alias") == [(0,)]
    collisions = list_collisions(scene.hub.admin_url)
    assert [(c.hub_user, c.ins, c.existing_patient, c.existing_caseload) for c in collisions] \
        == [("mallory", ALICE_INS, str(scene.patient), "alice")] * 2
    # The administrator resolves them from the command line.
    done = CliRunner().invoke(app, ["hub", "collisions", "--hub", scene.hub.admin_url])
    assert done.exit_code == 0 and f"#{collisions[0].id} " in done.output
    done = CliRunner().invoke(app, ["hub", "collisions", "--hub", scene.hub.admin_url,
                                    "--resolve", str(collisions[0].id), "--note",
                                    "doublon saisi par erreur"])
    assert done.exit_code == 0 and "1 collision(s) marked resolved" in done.output
    assert len(list_collisions(scene.hub.admin_url)) == 1
    scene.victim_untouched(before)


def test_ins_enumeration_is_cut_off_by_the_daily_budget(scene: Scene) -> None:
    known = [make_ins(200 + k) for k in range(21)]
    for ins in known:  # people the hub holds in Alice's caseload
        scene.hub.query("INSERT INTO patient (id, ins, caseload, fields, clocks) VALUES "
                        "(gen_random_uuid(), %s, 'alice', %s, '{}') RETURNING id",
                        (ins, json.dumps({"ins": ins, "care_manager": "alice"})))
    before = scene.alice_rows()
    with scene.member() as conn:
        guesses = [entry("patient", uuid.uuid4(), {"birth_name": "X", "ins": ins})
                   for ins in known]
        guesses.append(entry("patient", uuid.uuid4(), {"birth_name": "X",
                                                       "ins": make_ins(999)}))
        receipts = push(conn, *guesses)
    # Twenty collisions, then every INS new to her is refused alike: known or not, the
    # answer is the same, so guessing tells nothing more.
    assert codes(receipts) == ["ins_in_other_caseload"] * 20 + ["rate_limited"] * 2
    assert scene.hub.query("SELECT count(*) FROM patient WHERE caseload = 'mallory'") == [(1,)]
    assert len(list_collisions(scene.hub.admin_url)) == 20
    scene.victim_untouched(before)


# ------------------------------------------------------------------ bad entries

def test_a_bad_entry_is_refused_alone_and_never_blocks_the_good_ones(scene: Scene) -> None:
    before = scene.alice_rows()
    with scene.member() as conn:
        receipts = push(
            conn,
            entry("action", uuid.uuid4(), call(scene.mine, note="nul \u0000 ici")),
            entry("action", uuid.uuid4(), call(scene.mine, at="2023-02-30T10:00:00+00:00")),
            entry("patient", scene.mine, {"birth_date": "2023-02-30"}, op="update"),
            entry("action", uuid.uuid4(), call(scene.mine, note="bip \u0007")),
            entry("action", uuid.uuid4(), call(scene.mine), hlc="not a clock"),
            entry("spell", uuid.uuid4(), {}),
            entry("action", "not-a-uuid", call(scene.mine)),
            entry("action", uuid.uuid4(), call(scene.mine, note="bon")),
        )
    assert codes(receipts) == ["invalid_text", "invalid_date", "invalid_date", "invalid_text",
                               "invalid_clock", "unknown_entity", "invalid_value", "applied"]
    scene.victim_untouched(before)


def test_a_hand_edited_outbox_holds_up_nothing(scene: Scene, workstation: Workstation
                                               ) -> None:
    mallory = workstation("mallory2")
    good = act(mallory, "mallory", new_patient(mallory, "mallory", "Roche",
                                               ins=make_ins(103)), "bon appel")
    bad = act(mallory, "mallory", make_ins(103), "appel à corriger")
    late = act(mallory, "mallory", make_ins(103), "appel suivant")
    with mallory.transaction() as session:  # the database edited by hand
        session.execute(text(
            "UPDATE outbox_entry SET payload = json_set(payload, '$.note', "
            "'avec ' || char(0) || ' nul') WHERE entity_id = :id"), {"id": str(bad)})
    report = run_sync(mallory, scene.hub.url("mallory"), "mallory")
    assert report.refused == 1 and pending(mallory) == 0
    with mallory.session() as session:
        assert action_delivery(session, action_ids=[good, bad, late]) == {
            good: "acknowledged", bad: "refused", late: "acknowledged"}
        code, reason = refusal(session, entity_id=str(bad)) or (None, None)
    assert code == "invalid_text" and reason and "NUL" in reason


def test_a_batch_the_hub_rejects_whole_is_split_down_to_the_bad_entry(
        scene: Scene, workstation: Workstation) -> None:
    mallory = workstation("mallory3")
    run = _Run(mallory, parse_hub_url(scene.hub.url("mallory")), "mallory", 10)
    batch = [PushEntry(id=uuid.uuid4(), entity="action", entity_id=uuid.uuid4(), op="create",
                       actor="mallory", hlc=CLOCK, fields=call(scene.mine, note=f"n{k}"))
             for k in range(7)]
    batch[4].fields["duration_s"] = float("nan")  # not JSON: the hub refuses the whole call
    with connect(parse_hub_url(scene.hub.url("mallory")), None) as conn:
        outcomes = run._send(conn, batch)
    assert [outcomes[e.id].status for e in batch] == ["applied"] * 4 + ["refused"] + \
        ["applied"] * 2
    assert outcomes[batch[4].id].code == "hub_rejected"


def test_a_malformed_clock_from_the_hub_is_a_clear_error_not_a_traceback(
        scene: Scene, workstation: Workstation) -> None:
    scene.hub.query("UPDATE patient SET clocks = jsonb_set(clocks, '{email}', "
                    "'{\"hlc\": \"demain\", \"by\": \"?\"}') WHERE id = %s RETURNING id",
                    (scene.patient,))
    fresh = workstation("alice-fresh")
    with pytest.raises(HubError) as caught:
        run_sync(fresh, scene.hub.url("alice"), "alice")
    assert "sent a malformed answer" in caught.value.message
    done = subprocess.run(carehub_command(fresh, "alice", "sync", "--hub",
                                          scene.hub.url("alice")),
                          env=child_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("error: The hub ") and "malformed" in done.stderr


# ------------------------------------------------------------------ denial of service

def test_a_member_holding_locks_or_an_open_push_delays_nobody(scene: Scene) -> None:
    before = scene.alice_rows()
    with scene.member() as holder, psycopg.connect(scene.hub.url("mallory")) as pusher:
        # Every advisory lock the old hub used, and then some: the hub takes none.
        holder.execute("SELECT pg_advisory_lock(7207201), pg_advisory_lock(1), "
                       "pg_advisory_lock(0)")
        # A push left open, its timeouts switched off: it holds the hub's write lock.
        pusher.execute("SET idle_in_transaction_session_timeout = 0")
        pusher.execute("SET statement_timeout = 0")
        push(pusher, entry("action", uuid.uuid4(), call(scene.mine, note="jamais validé")))
        scene.victim_untouched(before)  # her sync goes through (the holder is ended)
        with pytest.raises(psycopg.OperationalError):
            pusher.execute("SELECT 1")
        holder.execute("SELECT 1")  # an advisory lock harms nobody: left alone
    assert scene.hub.query("SELECT count(*) FROM action WHERE patient_id = %s",
                           (scene.mine,)) == [(0,)]


def test_a_member_cannot_take_every_connection(scene: Scene) -> None:
    before = scene.alice_rows()
    held = []
    try:
        with pytest.raises(psycopg.OperationalError, match="too many connections"):
            for _ in range(10):
                held.append(scene.member())
        assert len(held) == 4
        scene.victim_untouched(before)
    finally:
        for conn in held:
            conn.close()


# ------------------------------------------------------------------ revocation, cover

def _reconnect(url: str, stop: threading.Event, opened: list[psycopg.Connection[Any]]
               ) -> None:
    """A stolen laptop's sync, reconnecting as fast as it can."""
    while not stop.is_set():
        with contextlib.suppress(psycopg.OperationalError):
            opened.append(psycopg.connect(url, autocommit=True))


def test_a_revoked_role_reconnecting_in_a_loop_is_out_every_time(scene: Scene) -> None:
    before = scene.alice_rows()
    for attempt in range(10):
        role = f"thief{attempt}_{uuid.uuid4().hex[:6]}"
        add_member(scene.hub.admin_url, user=f"thief{attempt}", role=role, follows=["alice"])
        stop = threading.Event()
        opened: list[psycopg.Connection[Any]] = []
        reconnect = functools.partial(_reconnect, scene.hub.url(role), stop, opened)
        thread = threading.Thread(target=reconnect)
        thread.start()
        while not opened:
            stop.wait(0.005)
        revoke_member(scene.hub.admin_url, role=role)
        stop.set()
        thread.join()
        assert scene.hub.query("SELECT count(*) FROM pg_stat_activity WHERE usename = %s",
                               (role,)) == [(0,)], f"attempt {attempt}"
        for conn in opened:
            with pytest.raises(psycopg.OperationalError):
                conn.execute("SELECT hub_pull(0, 10)")
            conn.close()
        with pytest.raises(psycopg.OperationalError, match="not permitted to log in"):
            psycopg.connect(scene.hub.url(role))
    scene.victim_untouched(before)


def test_a_cover_that_ends_stops_at_once(scene: Scene, workstation: Workstation) -> None:
    scene.hub.grant("bob", follows=["bob"], covers=["alice"])
    bob = workstation("bob")
    run_sync(bob, scene.hub.url("bob"), "bob")
    assert (ALICE_INS, "appel confidentiel") in actions(bob)
    with psycopg.connect(scene.hub.url("bob"), autocommit=True) as session:
        withdraw_caseloads(scene.hub.admin_url, role="bob", caseloads=["alice"])
        # The same open session: the very next call no longer reaches Alice's caseload.
        assert codes(push(session, entry("action", uuid.uuid4(), call(scene.patient),
                                         actor="bob"))) == ["patient_not_visible"]
        doc = session.execute("SELECT hub_session()").fetchone()[0]  # type: ignore[index]
        assert (doc["follows"], doc["covers"]) == (["bob"], [])
    before = scene.alice_rows()
    scene.victim_untouched(before)
    cursor_before = len(actions(bob))
    run_sync(bob, scene.hub.url("bob"), "bob")
    assert len(actions(bob)) == cursor_before  # Alice's later action did not come
    with psycopg.connect(scene.hub.url("bob"), autocommit=True) as session:
        page = session.execute("SELECT hub_pull(0, 1000)").fetchone()[0]  # type: ignore[index]
    assert all(p["caseload"] != "alice" for p in page["patients"])
    assert all(a["patient_id"] != str(scene.patient) for a in page["actions"])


def test_a_supervisor_following_no_caseload_reaches_nothing(scene: Scene,
                                                            workstation: Workstation) -> None:
    add_member(scene.hub.admin_url, user="sam", follows=[], covers=[])
    before = scene.alice_rows()
    with scene.member("sam") as conn:
        page = conn.execute("SELECT hub_pull(0, 1000)").fetchone()[0]  # type: ignore[index]
        assert page["patients"] == page["actions"] == page["records"] == []
        assert codes(push(conn, entry("action", uuid.uuid4(), call(scene.patient),
                                      actor="sam"),
                          entry("patient", uuid.uuid4(), {"birth_name": "X"}, actor="sam"))) \
            == ["patient_not_visible", "not_your_caseload"]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM patient")
    sam = workstation("sam")
    with pytest.raises(HubError) as caught:
        run_sync(sam, scene.hub.url("sam"), "sam")
    assert "follows or covers no caseload" in caught.value.message
    scene.victim_untouched(before)


# ------------------------------------------------------------------ the migration

def test_migrating_an_h0001_hub_keeps_every_row_and_locks_it_down(
        pg_server: PgServer, workstation: Workstation) -> None:
    name = f"old_hub_{uuid.uuid4().hex[:8]}"
    pg_server.execute(f"CREATE DATABASE {name}")
    admin = pg_server.url("postgres", name)
    role = f"ines_{uuid.uuid4().hex[:6]}"
    try:
        migrate_hub(admin, revision="h0001")
        pg_server.execute(f"CREATE ROLE {role} LOGIN")
        pg_server.execute(f"GRANT carehub_member TO {role}")
        pid = uuid.uuid4()
        for statement, params in (
                ("INSERT INTO hub_user (name, role_name) VALUES ('ines', %s)", (role,)),
                ("INSERT INTO caseload_member VALUES ('ines', %s, 'follows')", (role,)),
                ("INSERT INTO patient (id, ins, caseload, fields, clocks) VALUES "
                 "(%s, %s, 'ines', %s, '{}')",
                 (pid, make_ins(300), json.dumps({"birth_name": "Ancien", "ins": make_ins(300),
                                                  "care_manager": "ines",
                                                  "given_names": "Jeanne",
                                                  "birth_date": "1940-05-17"}))),
                ("INSERT INTO action (id, patient_id, type, at, author, payload, origin_entry) "
                 "VALUES (gen_random_uuid(), %s, 'call', now(), 'ines', %s, gen_random_uuid())",
                 (pid, json.dumps({"type": "call", "note": "avant", "patient_id": str(pid),
                                   "author": "ines", "at": "2026-11-30T10:00:00+00:00"})))):
            pg_server.execute(statement, params, database=name)
        with psycopg.connect(pg_server.url(role, name)) as conn:  # h0001: tables readable
            assert conn.execute("SELECT count(*) FROM patient").fetchone() == (1,)
        result = migrate_hub(admin)
        assert result.summary().startswith(
            "Hub schema at h0002: migrated h0001 -> h0002: members now reach the hub only "
            "through hub_session/hub_push")
        assert re.search(r"; \d+ member role\(s\) lost every direct privilege",
                         result.summary())  # roles are the cluster's: other hubs' too
        assert "every row kept (1 patient(s), 1 action(s))" in result.summary()
        assert pg_server.query("SELECT rolconnlimit, rolconfig FROM pg_roles "
                               "WHERE rolname = %s", (role,), database=name) == [
            (4, ["statement_timeout=60s", "lock_timeout=5s",
                 "idle_in_transaction_session_timeout=15s"])]
        with psycopg.connect(pg_server.url(role, name)) as conn, \
                pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT count(*) FROM patient")
        ines = workstation("ines")
        run_sync(ines, pg_server.url(role, name), "ines")
        assert actions(ines) == {(make_ins(300), "avant")}
        act(ines, "ines", make_ins(300), "après")
        assert run_sync(ines, pg_server.url(role, name), "ines").pushed == 1
        assert pg_server.query("SELECT count(*) FROM action", database=name) == [(2,)]
    finally:
        pg_server.execute(f"DROP DATABASE {name} WITH (FORCE)")
