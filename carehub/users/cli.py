"""`carehub users|coverage|reassign|access`: user administration, who covers for whom,
reassignment of a patient, and break the glass. Registered by carehub/cli.py.

The acting user is the global --user (CAREHUB_USER); the services check her role.
"""

from __future__ import annotations

import json
import sys
import uuid
from contextlib import AbstractContextManager
from datetime import date
from typing import Annotated, Any, Protocol

import typer
from sqlmodel import Session

from carehub.users.grants import list_grants, open_access, reassign_patient
from carehub.users.models import ROLES
from carehub.users.services import (
    add_coverage,
    add_user,
    deactivate_user,
    end_coverage,
    list_coverage,
    set_password,
    set_role,
    user_rows,
)

users_app = typer.Typer(no_args_is_help=True, help="Users of the workstation and their roles.")
coverage_app = typer.Typer(no_args_is_help=True, help="Who covers for whom, and until when.")
access_app = typer.Typer(no_args_is_help=True,
                         help="Break the glass: open a patient outside your caseload.")


class CliContext(Protocol):
    """What the main app's callback leaves in ctx.obj (carehub.cli.CliState)."""

    user: str

    def write(self) -> AbstractContextManager[tuple[Any, Session]]: ...
    def read(self) -> AbstractContextManager[Session]: ...


def _print_json(value: Any) -> None:
    json.dump(value, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def _date(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date YYYY-MM-DD",
                                 param_hint=option) from None


def _role(value: str) -> str:
    if value not in ROLES:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(ROLES)}",
                                 param_hint="--role")
    return value


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    value: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


PasswordStdin = Annotated[bool, typer.Option(
    "--password-stdin", help="Read the password from the first line of stdin (no prompt).")]


@users_app.command("add")
def users_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Login name (no spaces).")],
    role: Annotated[str, typer.Option("--role", help=", ".join(ROLES))] = "care_manager",
    display_name: Annotated[str | None, typer.Option("--display-name")] = None,
    with_password: Annotated[bool, typer.Option(
        "--with-password", help="Ask for a password now (else sign-in is the OS account's)."
    )] = False,
    password_stdin: PasswordStdin = False,
) -> None:
    """Add a user (administrator only, once the workstation has one)."""
    password = _password(password_stdin) if with_password or password_stdin else None
    state: CliContext = ctx.obj
    with state.write() as (_db, session):
        add_user(session, name=name, role=_role(role), display_name=display_name,
                 password=password, actor=state.user)
    typer.echo(f"Added {name} ({role}).")


@users_app.command("list")
def users_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="JSON array on stdout.")] = False,
) -> None:
    """Users: name, role, active, whether they sign in with a password."""
    state: CliContext = ctx.obj
    with state.read() as session:
        rows = user_rows(session)
    if as_json:
        _print_json([r.as_json() for r in rows])
        return
    for r in rows:
        typer.echo(f"{r.name:20} {r.role:14} {'active' if r.active else 'deactivated':12} "
                   f"{'password' if r.has_password else 'os account'}  {r.display_name}")


@users_app.command("set-role")
def users_set_role(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument()],
    role: Annotated[str, typer.Option("--role", help=", ".join(ROLES))],
) -> None:
    """Change a user's role (administrator only)."""
    state: CliContext = ctx.obj
    with state.write() as (_db, session):
        set_role(session, name=name, role=_role(role), actor=state.user)
    typer.echo(f"{name} is now {role}.")


@users_app.command("set-password")
def users_set_password(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="Default: the acting user.")] = None,
    password_stdin: PasswordStdin = False,
) -> None:
    """Set a password (one's own, or anyone's for an administrator)."""
    state: CliContext = ctx.obj
    target = name or state.user
    password = _password(password_stdin)
    with state.write() as (_db, session):
        set_password(session, name=target, password=password, actor=state.user)
    typer.echo(f"Password of {target} set.")


@users_app.command("deactivate")
def users_deactivate(ctx: typer.Context, name: Annotated[str, typer.Argument()]) -> None:
    """Deactivate a user: no more sign-in nor access; her history stays."""
    state: CliContext = ctx.obj
    with state.write() as (_db, session):
        deactivate_user(session, name=name, actor=state.user)
    typer.echo(f"{name} deactivated.")


@coverage_app.command("add")
def coverage_add(
    ctx: typer.Context,
    user: Annotated[str, typer.Option("--user", help="Who covers.")],
    start: Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD).")],
    end: Annotated[str, typer.Option("--to", help="Last day (YYYY-MM-DD).")],
    covers: Annotated[str | None, typer.Option(
        "--for", help="The colleague whose caseload is covered.")] = None,
    patient: Annotated[str | None, typer.Option(
        "--patient", help="Or one patient only (local id or INS).")] = None,
    reason: Annotated[str | None, typer.Option("--reason")] = None,
) -> None:
    """`--user` covers for a colleague's caseload (--for) or one patient, --from..--to."""
    from carehub.caseload.services import resolve_patient
    from carehub.users.access import unchecked

    state: CliContext = ctx.obj
    with state.write() as (_db, session):
        patient_id = None
        if patient is not None:
            with unchecked(session):
                patient_id = resolve_patient(session, ref=patient).id
        coverage_id = add_coverage(session, user=user, covers=covers, patient_id=patient_id,
                                   starts_on=_date(start, "--from"), ends_on=_date(end, "--to"),
                                   reason=reason, actor=state.user)
    typer.echo(str(coverage_id))


@coverage_app.command("list")
def coverage_list(
    ctx: typer.Context,
    current: Annotated[bool, typer.Option("--current", help="Only those running today.")
                       ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON array on stdout.")] = False,
) -> None:
    """Coverage, newest first."""
    state: CliContext = ctx.obj
    with state.read() as session:
        rows = list_coverage(session, current_on=date.today() if current else None)
    if as_json:
        _print_json([r.as_json() for r in rows])
        return
    for r in rows:
        what = f"for {r.covers}" if r.covers else f"patient {r.patient_id}"
        ended = f"  (ended {r.ended_at:%Y-%m-%d})" if r.ended_at else ""
        typer.echo(f"{r.id}  {r.user} {what}  {r.starts_on}..{r.ends_on}{ended}")


@coverage_app.command("end")
def coverage_end(ctx: typer.Context, coverage_id: Annotated[str, typer.Argument()]) -> None:
    """End a coverage now (it stays listed, with its end)."""
    try:
        parsed = uuid.UUID(coverage_id)
    except ValueError:
        raise typer.BadParameter(f"{coverage_id!r} is not a coverage id") from None
    state: CliContext = ctx.obj
    with state.write() as (_db, session):
        end_coverage(session, coverage_id=parsed, actor=state.user)
    typer.echo(f"Coverage {coverage_id} ended.")


def reassign(
    ctx: typer.Context,
    patient: Annotated[str, typer.Option("--patient", help="Local id or INS.")],
    to: Annotated[str, typer.Option("--to", help="The care manager who takes the patient.")],
) -> None:
    """Hand a patient to another care manager (supervisor or administrator; audited)."""
    state: CliContext = ctx.obj
    with state.write() as (_db, session):
        before = reassign_patient(session, patient_ref=patient, to=to, actor=state.user)
    typer.echo(f"Patient {patient} now followed by {to} (before: {before or 'nobody'}).")


@access_app.command("open")
def access_open(
    ctx: typer.Context,
    patient: Annotated[str, typer.Option("--patient", help="Local id or INS.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept and shown to the "
                                                         "supervisor).")],
) -> None:
    """Break the glass: open a patient outside your caseload for the day; logged."""
    state: CliContext = ctx.obj
    with state.write() as (_db, session):
        grant_id = open_access(session, user=state.user, patient_ref=patient, reason=reason)
    typer.echo(str(grant_id))


@access_app.command("list")
def access_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="JSON array on stdout.")] = False,
) -> None:
    """Break-the-glass openings, newest first (all of them for a supervisor)."""
    state: CliContext = ctx.obj
    with state.read() as session:
        rows = list_grants(session)
    if as_json:
        _print_json([r.as_json() for r in rows])
        return
    for r in rows:
        typer.echo(f"{r.at:%Y-%m-%d %H:%M}  {r.user:12}  {r.ins or r.patient_id}  "
                   f"{r.patient_name}  {r.reason}")


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
    app.add_typer(coverage_app, name="coverage")
    app.add_typer(access_app, name="access")
    app.command("reassign")(reassign)
