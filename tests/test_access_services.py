"""Who sees what, enforced by the services and the CLI (issue 7, item 1 and 4).

A care manager cannot read a colleague's patient through any service or command; covering
and breaking the glass open access and are audited; the supervisor reassigns (audited)
and sees no clinical content of others' patients; the administrator manages users.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select

from carehub.caseload.services import list_patients, resolve_patient, search_patient_ids
from carehub.caseload.summary import patient_summary, patient_timeline
from carehub.cli import app
from carehub.cohort.service import run_query
from carehub.coordination.audit import AuditEvent, verify_chain
from carehub.coordination.services import list_actions, record_action
from carehub.db import Database
from carehub.directory.services import DirectorySearch, search_directory
from carehub.errors import InputError
from carehub.prevention.services import call_list, record_call_outcome
from carehub.sync.fhir_export import build_export
from carehub.sync.outbox import OutboxEntry
from carehub.users import AccessDenied, require_role
from carehub.users.grants import list_grants, open_access, reassign_patient
from carehub.users.models import User
from carehub.users.services import add_coverage, sign_in
from tests.access_helpers import ALICE_INS, BOB_INS, PASSWORD, Team, cli, make_team, runner

TODAY = date.today()


@pytest.fixture
def team(db: Database) -> Team:
    return make_team(db)


def as_user(db: Database, user: str) -> Database:
    return Database(path=db.path, engine=db.engine, acting_user=user)


def refused(db: Database, user: str, read: Callable[[Session], Any]) -> bool:
    with as_user(db, user).session() as session:
        try:
            read(session)
        except AccessDenied as exc:
            assert exc.message_fr  # the app shows the French message
            return True
    return False


def patient_ids_listed(session: Session) -> set[str]:
    return {row["id"] for row in list_patients(session)}


def test_a_care_manager_reads_no_colleagues_patient_through_any_service(
        db: Database, team: Team) -> None:
    bob = team.bob_patient
    alice = as_user(db, "alice")
    with alice.session() as session:
        assert patient_ids_listed(session) == {str(team.alice_patient)}
        assert list(search_patient_ids(session, text="")) == [team.alice_patient]
        assert list(search_patient_ids(session, text="bernard")) == []
        assert list(run_query(session, expr="condition E11*", as_of=TODAY)) == [
            team.alice_patient]
        assert {a.id for a in list_actions(session)} == {team.alice_action}
        exported = build_export(session)
        assert exported.action_ids + exported.without_ins == [team.alice_action]
    for read in (
        lambda s: resolve_patient(s, ref=BOB_INS),
        lambda s: patient_summary(s, patient_id=bob, as_of=TODAY),
        lambda s: patient_timeline(s, patient_id=bob),
        lambda s: list_actions(s, patient_ref=bob),
        lambda s: call_list(s, user="bob", as_of=TODAY),
        lambda s: search_directory(s, search=DirectorySearch(patient=str(bob))),
    ):
        assert refused(db, "alice", read)
    with pytest.raises(AccessDenied), alice.transaction() as session:
        record_action(session, patient_ref=bob, action_type="call", actor="alice")
    with pytest.raises(AccessDenied), alice.transaction() as session:
        record_call_outcome(session, patient_id=bob, outcome="reached", actor="alice")
    # Her own patient opens; internal jobs (no acting user) are not checked.
    assert not refused(db, "alice", lambda s: patient_summary(s, patient_id=team.alice_patient,
                                                              as_of=TODAY))
    with db.session() as session:
        assert len(list_patients(session)) == 3


def test_the_cli_refuses_every_command_on_a_colleagues_patient(
        db: Database, db_path: Path, team: Team) -> None:
    listed = cli(db_path, "alice", "patients", "list", "--json")
    assert [p["ins"] for p in json.loads(listed.stdout)] == [ALICE_INS]
    queried = cli(db_path, "alice", "query", "condition E11*", "--json")
    assert [p["ins"] for p in json.loads(queried.stdout)] == [ALICE_INS]
    calls = cli(db_path, "alice", "calllist", "--json")
    assert calls.exit_code == 0, calls.output
    assert str(team.bob_patient) not in calls.stdout
    actions = cli(db_path, "alice", "actions", "list", "--json")
    assert [a["id"] for a in json.loads(actions.stdout)] == [str(team.alice_action)]
    for command in (["actions", "list", "--patient", BOB_INS, "--json"],
                    ["actions", "add", "--patient", BOB_INS, "--type", "call"],
                    ["directory", "near", "--patient", BOB_INS, "--json"]):
        result = cli(db_path, "alice", *command)
        assert result.exit_code == 1, (command, result.output)
        assert "neither in alice's caseload" in str(result.exception)
    out = db_path.parent / "bundle.json"
    exported = cli(db_path, "alice", "export", "fhir", "--out", str(out))
    assert exported.exit_code == 0, exported.output
    assert "diabète" not in out.read_text(encoding="utf-8")
    assert "va bien" in out.read_text(encoding="utf-8")


def test_covering_for_a_colleague_opens_her_caseload_for_the_dates_and_is_audited(
        db: Database, db_path: Path, team: Team) -> None:
    assert refused(db, "alice", lambda s: patient_summary(s, patient_id=team.bob_patient,
                                                          as_of=TODAY))
    added = cli(db_path, "sue", "coverage", "add", "--user", "alice", "--for", "bob",
                "--from", TODAY.isoformat(), "--to", (TODAY + timedelta(days=7)).isoformat(),
                "--reason", "congés de Bob")
    assert added.exit_code == 0, added.output
    coverage_id = added.stdout.strip()
    with as_user(db, "alice").session() as session:
        assert patient_summary(session, patient_id=team.bob_patient, as_of=TODAY).ins == BOB_INS
        assert {a.id for a in list_actions(session)} == {team.alice_action, team.bob_action}
        assert call_list(session, user="bob", as_of=TODAY) is not None
    listed = json.loads(cli(db_path, "sue", "coverage", "list", "--json").stdout)
    assert [(c["user"], c["covers"]) for c in listed] == [("alice", "bob")]
    # A care manager cannot hand herself a colleague's caseload.
    selfish = cli(db_path, "alice", "coverage", "add", "--user", "alice", "--for", "sue",
                  "--from", TODAY.isoformat(), "--to", TODAY.isoformat())
    assert selfish.exit_code == 1
    ended = cli(db_path, "sue", "coverage", "end", coverage_id)
    assert ended.exit_code == 0, ended.output
    assert refused(db, "alice", lambda s: patient_summary(s, patient_id=team.bob_patient,
                                                          as_of=TODAY))
    with db.session() as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.entity == "coverage")
                              .order_by(col(AuditEvent.seq))).all()
    assert [(e.actor, e.action) for e in events] == [("sue", "create"), ("sue", "end")]


def test_coverage_of_one_patient_opens_that_patient_only(db: Database, team: Team) -> None:
    with db.transaction() as session:
        add_coverage(session, user="alice", patient_id=team.bob_patient, starts_on=TODAY,
                     ends_on=TODAY, actor="sue")
    with as_user(db, "alice").session() as session:
        assert patient_ids_listed(session) == {str(team.alice_patient), str(team.bob_patient)}
    assert refused(db, "alice", lambda s: call_list(s, user="bob", as_of=TODAY))


def test_breaking_the_glass_needs_a_reason_opens_for_a_while_and_shows_to_the_supervisor(
        db: Database, db_path: Path, team: Team) -> None:
    no_reason = cli(db_path, "alice", "access", "open", "--patient", BOB_INS, "--reason", " ")
    assert no_reason.exit_code == 1
    opened = cli(db_path, "alice", "access", "open", "--patient", BOB_INS,
                 "--reason", "appel de sa fille, Bob absent")
    assert opened.exit_code == 0, opened.output
    actions = cli(db_path, "alice", "actions", "list", "--patient", BOB_INS, "--json")
    assert actions.exit_code == 0, actions.output
    assert [a["note"] for a in json.loads(actions.stdout)] == ["diabète déséquilibré"]
    shown = json.loads(cli(db_path, "sue", "access", "list", "--json").stdout)
    assert [(g["user"], g["ins"], g["reason"]) for g in shown] == [
        ("alice", BOB_INS, "appel de sa fille, Bob absent")]
    assert json.loads(cli(db_path, "bob", "access", "list", "--json").stdout) == []
    with db.session() as session:
        [event] = session.exec(select(AuditEvent).where(AuditEvent.action == "break_glass"))
        assert (event.actor, event.details["patient_id"]) == ("alice", str(team.bob_patient))
        assert verify_chain(session).intact
    # An expired grant opens nothing.
    with db.transaction() as session:
        open_access(session, user="bob", patient_ref=ALICE_INS, reason="test expiré",
                    hours=0)
    assert refused(db, "bob", lambda s: patient_summary(s, patient_id=team.alice_patient,
                                                        as_of=TODAY))


def test_the_supervisor_sees_identities_reassigns_and_reads_no_clinical_content_of_others(
        db: Database, db_path: Path, team: Team) -> None:
    sue = as_user(db, "sue")
    with sue.session() as session:
        assert len(patient_ids_listed(session)) == 3  # every identity line, to rebalance
        assert list(run_query(session, expr="condition E11*", as_of=TODAY)) == [
            team.sue_patient]
        assert list_actions(session) == []
    for read in (lambda s: patient_summary(s, patient_id=team.bob_patient, as_of=TODAY),
                 lambda s: patient_timeline(s, patient_id=team.bob_patient),
                 lambda s: list_actions(s, patient_ref=team.bob_patient)):
        assert refused(db, "sue", read)
    not_allowed = cli(db_path, "alice", "reassign", "--patient", BOB_INS, "--to", "alice")
    assert not_allowed.exit_code == 1
    moved = cli(db_path, "sue", "reassign", "--patient", BOB_INS, "--to", "alice")
    assert moved.exit_code == 0, moved.output
    assert "before: bob" in moved.stdout
    assert not refused(db, "alice", lambda s: patient_timeline(s, patient_id=team.bob_patient))
    assert refused(db, "bob", lambda s: patient_timeline(s, patient_id=team.bob_patient))
    with db.session() as session:
        event = session.exec(select(AuditEvent).where(
            AuditEvent.entity_id == str(team.bob_patient), AuditEvent.actor == "sue")).one()
        assert event.details == {"changed": {"care_manager": "alice"},
                                 "before": {"care_manager": "bob"}}
        queued = session.exec(select(OutboxEntry).where(
            OutboxEntry.entity_id == str(team.bob_patient))).all()
        assert [q.payload for q in queued] == [{"care_manager": "alice"}]
    with pytest.raises(InputError), sue.transaction() as session:
        reassign_patient(session, patient_ref=BOB_INS, to="adam")  # not a care manager


def test_the_administrator_manages_users_and_nobody_else_does(
        db: Database, db_path: Path, team: Team) -> None:
    assert cli(db_path, "alice", "users", "add", "eve").exit_code == 1
    added = cli(db_path, "adam", "users", "add", "eve", "--role", "care_manager",
                "--password-stdin", stdin="un mot de passe\n")
    assert added.exit_code == 0, added.output
    assert cli(db_path, "adam", "users", "set-role", "eve", "--role", "supervisor"
               ).exit_code == 0
    assert cli(db_path, "eve", "users", "set-password", "--password-stdin",
               stdin="son nouveau secret\n").exit_code == 0  # her own
    assert cli(db_path, "eve", "users", "set-password", "alice", "--password-stdin",
               stdin="pas le sien du tout\n").exit_code == 1
    assert cli(db_path, "adam", "users", "deactivate", "bob").exit_code == 0
    rows = {u["user"]: u for u in json.loads(cli(db_path, "adam", "users", "list", "--json"
                                                 ).stdout)}
    assert (rows["eve"]["role"], rows["eve"]["has_password"]) == ("supervisor", True)
    assert rows["bob"]["active"] is False
    # A deactivated user reads and writes nothing; her history stays.
    assert cli(db_path, "bob", "patients", "list", "--json").exit_code == 1
    assert cli(db_path, "bob", "actions", "add", "--patient", BOB_INS, "--type", "call"
               ).exit_code == 1
    with db.session() as session:
        eve = session.exec(select(User).where(User.name == "eve")).one()
        assert eve.password_hash is not None and eve.password_hash.startswith("$argon2id$")
        assert sign_in(session, name="eve", password="son nouveau secret") is not None
        events = session.exec(select(AuditEvent).where(AuditEvent.entity == "user")).all()
        assert "secret" not in json.dumps([e.details for e in events])
        assert require_role(session, user="eve", roles={"supervisor"}).name == "eve"
        with pytest.raises(AccessDenied):
            require_role(session, user="alice", roles={"supervisor", "administrator"})


def test_sign_in_refuses_a_wrong_password_and_audits_every_attempt(
        db: Database, team: Team) -> None:
    with db.transaction() as session:
        assert sign_in(session, name="alice", password="wrong password") is None
        assert sign_in(session, name="nobody", password=PASSWORD) is None
        assert sign_in(session, name="alice", password=PASSWORD) is not None
    with db.session() as session:
        attempts = session.exec(select(AuditEvent).where(AuditEvent.entity == "sign_in")
                                .order_by(col(AuditEvent.seq))).all()
    assert [(e.actor, e.action) for e in attempts] == [
        ("alice", "failure"), ("nobody", "failure"), ("alice", "success")]


def test_grants_listed_for_a_care_manager_are_her_own(db: Database, team: Team) -> None:
    with db.transaction() as session:
        open_access(session, user="alice", patient_ref=BOB_INS, reason="remplacement")
        open_access(session, user="bob", patient_ref=ALICE_INS, reason="remplacement")
    with as_user(db, "alice").session() as session:
        assert [g.user for g in list_grants(session)] == ["alice"]
    with as_user(db, "sue").session() as session:
        assert sorted(g.user for g in list_grants(session)) == ["alice", "bob"]


def test_a_fresh_workstation_restricts_nothing_until_roles_are_set_up(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """DESIGN.md's CLI acts as the login name: on a single-nurse workstation where nobody
    is supervisor or administrator and nobody has a password, the default user lists the
    patients imported for bob; once an administrator exists, she no longer does."""
    monkeypatch.delenv("CAREHUB_USER", raising=False)
    practice = Path(__file__).parent / "data" / "fhir" / "practice_export.json"
    base = ["--db", str(tmp_path / "carehub.db")]
    assert runner.invoke(app, [*base, "init"]).exit_code == 0
    imported = runner.invoke(app, [*base, "import", "fhir", str(practice),
                                   "--assign-to", "bob", "--json"])
    assert imported.exit_code == 0, imported.output
    listed = runner.invoke(app, [*base, "patients", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert len(rows) == 3 and {row["care_manager"] for row in rows} == {"bob"}

    added = runner.invoke(app, [*base, "users", "add", "adam", "--role", "administrator"])
    assert added.exit_code == 0, added.output
    listed = runner.invoke(app, [*base, "patients", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout) == []  # bob's patients are bob's now
