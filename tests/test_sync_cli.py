"""`carehub hub migrate|grant|revoke` for the hub's administrator, `carehub sync --json`."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

from typer.testing import CliRunner

from carehub.cli import app
from carehub.db import Database
from tests.hub_server import PgServer
from tests.sync_helpers import act, make_ins, new_patient

runner = CliRunner()


def test_an_administrator_sets_up_a_hub_and_its_team_from_the_command_line(
        pg_server: PgServer, workstation: Callable[[str], Database]) -> None:
    name = f"cli_hub_{uuid.uuid4().hex[:8]}"
    pg_server.execute(f"CREATE DATABASE {name}")
    admin = pg_server.url("postgres", name)
    role = f"ines_{uuid.uuid4().hex[:6]}"
    try:
        done = runner.invoke(app, ["hub", "migrate", "--hub", admin])
        assert done.exit_code == 0, done.output
        assert done.output.startswith("Hub schema at h0002: created: team hub schema created")
        assert "only through hub_session/hub_push/hub_pull" in done.output
        again = runner.invoke(app, ["hub", "migrate", "--hub", admin])
        assert again.output.startswith("Hub schema at h0002: already up to date")
        done = runner.invoke(app, ["hub", "grant", "--hub", admin, "--user", "ines",
                                   "--role", role])
        assert done.exit_code == 0, done.output
        assert pg_server.query("SELECT caseload, kind FROM caseload_member", database=name) \
            == [("ines", "follows")]
        ines = workstation("ines")
        act(ines, "ines", new_patient(ines, "ines", "Robin", ins=make_ins(40)), "appel")
        done = runner.invoke(app, ["--db", str(ines.path), "--user", "ines", "sync", "--hub",
                                   pg_server.url(role, name), "--json"])
        assert done.exit_code == 0, done.output
        assert json.loads(done.output)["pushed"] == 2
        done = runner.invoke(app, ["hub", "revoke", "--hub", admin, "--role", role])
        assert done.exit_code == 0 and "can no longer log in" in done.output
        assert pg_server.query("SELECT rolcanlogin FROM pg_roles WHERE rolname = %s", (role,),
                               database=name) == [(False,)]
    finally:
        pg_server.execute(f"DROP DATABASE {name} WITH (FORCE)")


def test_a_hub_without_our_schema_is_named_as_such(
        pg_server: PgServer, workstation: Callable[[str], Database]) -> None:
    name = f"empty_{uuid.uuid4().hex[:8]}"
    pg_server.execute(f"CREATE DATABASE {name}")
    try:
        alice = workstation("alice")
        done = runner.invoke(app, ["--db", str(alice.path), "--user", "alice", "sync", "--hub",
                                   pg_server.url("postgres", name)])
        assert done.exit_code == 1
        assert "is not set up for this CareHub" in str(done.exception)
    finally:
        pg_server.execute(f"DROP DATABASE {name} WITH (FORCE)")
