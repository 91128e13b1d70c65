"""`carehub`: the scriptable face of the services (contract in DESIGN.md).

Errors a user can fix go to stderr in English with exit status 1; usage errors exit 2.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlmodel import Session

from carehub.cohort.cli import query as cohort_query
from carehub.coordination.cli import actions_app
from carehub.db import Database, create_database, default_db_path, open_database
from carehub.directory.cli import directory_app
from carehub.directory.communes import ensure_communes
from carehub.errors import CareHubError
from carehub.keystore import key_store
from carehub.prevention.cli import calllist, reminders_app
from carehub.prevention.plan_cli import plan_app
from carehub.sync.cli import register as register_sync
from carehub.sync.export_cli import export_app
from carehub.users.access import require_user
from carehub.users.cli import register as register_users
from carehub.users.services import ensure_user
from carehub.workload.cli import workload_command

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="CareHub: the care manager's workstation, from the command line.")
patients_app = typer.Typer(no_args_is_help=True, help="The caseload's patients.")
import_app = typer.Typer(no_args_is_help=True, help="Import data from other software.")
audit_app = typer.Typer(no_args_is_help=True, help="The tamper-evident audit chain.")
app.add_typer(patients_app, name="patients")
app.add_typer(import_app, name="import")
app.add_typer(audit_app, name="audit")
app.add_typer(directory_app, name="directory")
app.add_typer(actions_app, name="actions")
app.add_typer(export_app, name="export")
app.command("query")(cohort_query)
app.command("calllist")(calllist)
app.add_typer(reminders_app, name="reminders")
app.add_typer(plan_app, name="plan")
register_sync(app)
app.command("workload")(workload_command)
register_users(app)


@dataclass
class CliState:
    db_path: Path
    user: str
    key_file: Path | None

    def open(self) -> Database:
        """The database, its sessions acting for --user (the services check her rights)."""
        database = open_database(self.db_path, key_store(self.key_file))
        database.acting_user = self.user
        return database

    @contextmanager
    def write(self) -> Iterator[tuple[Database, Session]]:
        database = self.open()
        try:
            with database.transaction() as session:
                ensure_user(session, name=self.user)
                require_user(session, user=self.user)  # a deactivated user writes nothing
                yield database, session
        finally:
            database.close()

    @contextmanager
    def read(self) -> Iterator[Session]:
        database = self.open()
        try:
            with database.session() as session:
                yield session
        finally:
            database.close()


def _state(ctx: typer.Context) -> CliState:
    state = ctx.obj
    assert isinstance(state, CliState)
    return state


def default_user() -> str:
    return os.environ.get("CAREHUB_USER") or getpass.getuser()


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")


def parse_date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date YYYY-MM-DD", param_hint=option) from None


@app.callback()
def main_options(
    ctx: typer.Context,
    db: Annotated[Path | None, typer.Option("--db", envvar="CAREHUB_DB",
                                            help="Database file (default: the user's).")] = None,
    user: Annotated[str | None, typer.Option("--user", envvar="CAREHUB_USER",
                                             help="Acting care manager (default: login).")] = None,
    key_file: Annotated[Path | None, typer.Option(
        "--key-file", envvar="CAREHUB_KEY_FILE",
        help="Keep the database key in this file instead of the OS keyring.")] = None,
) -> None:
    ctx.obj = CliState(db_path=db or default_db_path(), user=user or default_user(),
                       key_file=key_file)


@app.command()
def init(ctx: typer.Context) -> None:
    """Create the encrypted database and its key."""
    state = _state(ctx)
    store = key_store(state.key_file)
    database = create_database(state.db_path, store)
    try:
        with database.transaction() as session:
            ensure_user(session, name=state.user)
            ensure_communes(session)
    finally:
        database.close()
    typer.echo(f"Created {state.db_path} (key kept in the {store.describe()}).")


@app.command()
def demo(
    ctx: typer.Context,
    patients: Annotated[int, typer.Option(min=1, help="Number of patients.")] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same caseload.")] = 1,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Today for the history.")] = None,
) -> None:
    """Fill the database with a reproducible synthetic caseload."""
    from carehub.caseload.demo import generate_demo

    state = _state(ctx)
    with state.write() as (_db, session):
        report = generate_demo(session, patients=patients, seed=seed, actor=state.user,
                               as_of=parse_date(as_of, "--as-of") or date.today())
    typer.echo(report.summary())


@import_app.command("fhir")
def import_fhir(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A FHIR R4 Bundle (JSON).")],
    assign_to: Annotated[str | None, typer.Option(
        "--assign-to", help="Care manager of the new patients (default: the acting user).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Import a FHIR R4 Bundle from a practice's software (all or nothing)."""
    from carehub.caseload.fhir_import import import_fhir_file

    state = _state(ctx)
    with state.write() as (_db, session):
        report = import_fhir_file(session, path=file, actor=state.user, assign_to=assign_to)
    if as_json:
        print_json(report.as_dict())
    else:
        typer.echo(report.summary())


@patients_app.command("list")
def patients_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="JSON array on stdout.")] = False,
) -> None:
    """Patients: id, ins, names, birth date, commune."""
    from carehub.caseload.services import list_patients

    with _state(ctx).read() as session:
        rows = list_patients(session)
    if as_json:
        print_json(rows)
        return
    for row in rows:
        typer.echo(f"{row['id']}  {row['ins'] or '-':15}  {row['used_name'] or row['birth_name']} "
                   f"{row['given_names']}  {row['birth_date']}  {row['commune'] or ''}")


@audit_app.command("verify")
def audit_verify(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Recompute the audit chain; report the first broken link (exit 1 if any)."""
    from carehub.coordination.audit import verify_chain

    with _state(ctx).read() as session:
        report = verify_chain(session)
    if as_json:
        print_json({"events": report.events, "intact": report.intact,
                    "first_broken_seq": report.first_broken_seq})
    elif report.intact:
        typer.echo(f"Audit chain intact: {report.events} events.")
    if not report.intact:
        typer.echo(f"error: audit chain broken at event {report.first_broken_seq}: it was "
                   "altered or removed after being written.", err=True)
        raise typer.Exit(1)


def main() -> None:
    try:
        app()  # standalone: usage errors print their help and exit 2
    except CareHubError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
