"""`carehub sync --hub URL` (DESIGN.md), and `carehub hub ...` for the hub's administrator.

Registered on the main app by carehub/cli.py through `register(app)`.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from carehub.sync import credentials
from carehub.sync.hub import parse_hub_url
from carehub.sync.hub_admin import (
    add_member,
    list_collisions,
    migrate_hub,
    resolve_collisions,
    revoke_member,
    withdraw_caseloads,
)
from carehub.sync.service import sync

HubOption = Annotated[str, typer.Option(
    "--hub", envvar="CAREHUB_HUB",
    help="The hub: postgresql://user@host:port/db (?host=/socket/dir allowed).")]

hub_app = typer.Typer(no_args_is_help=True,
                      help="The team hub: set up, members, the hub password of this user.")


def sync_command(
    ctx: typer.Context,
    hub: HubOption,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1,
                                            help="Changes per transaction.")] = 500,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Push the outbox to the team hub and pull the caseloads' changes."""
    state = ctx.obj
    database = state.open()
    try:
        report = sync(database, hub_url=hub, user=state.user, batch_size=batch_size)
    finally:
        database.close()
    if as_json:
        values: dict[str, Any] = {
            "pushed": report.pushed, "pulled": report.pulled, "conflicts": report.conflicts,
            "refused": report.refused, "started_at": report.started_at.isoformat(),
            "finished_at": report.finished_at.isoformat()}
        json.dump(values, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        typer.echo(report.summary())


@hub_app.command("password")
def hub_password(hub: HubOption) -> None:
    """Keep this user's hub password in the OS keyring (asked for, never echoed)."""
    address = parse_hub_url(hub)
    secret = typer.prompt(f"Password of {address.user} at the hub", hide_input=True)
    credentials.store_password(hub=address.key, user=address.user, password=secret)
    typer.echo(f"Password of {address.user} kept in the keyring.")


@hub_app.command("migrate")
def hub_migrate(hub: HubOption) -> None:
    """Create or upgrade the hub's schema (as the hub's owner)."""
    typer.echo(migrate_hub(hub).summary())


@hub_app.command("grant")
def hub_grant(
    hub: HubOption,
    user: Annotated[str, typer.Option("--user", help="CareHub user name of the member.")],
    role: Annotated[str | None, typer.Option(
        "--role", help="Her PostgreSQL login role (default: the user name).")] = None,
    follows: Annotated[list[str] | None, typer.Option(
        "--follows", help="A caseload she follows (repeat).")] = None,
    covers: Annotated[list[str] | None, typer.Option(
        "--covers", help="A caseload she covers (repeat).")] = None,
) -> None:
    """Let a care manager sync the caseloads she follows or covers (as the hub's owner)."""
    add_member(hub, user=user, role=role, follows=follows or [user] if follows is None
               and covers is None else follows or [], covers=covers or [])
    typer.echo(f"{role or user} may sync at the hub.")


@hub_app.command("withdraw")
def hub_withdraw(
    hub: HubOption,
    role: Annotated[str, typer.Option("--role", help="Her PostgreSQL login role.")],
    caseloads: Annotated[list[str], typer.Option(
        "--caseload", help="A caseload she no longer follows or covers (repeat).")],
) -> None:
    """End a cover (or a following): her next sync no longer brings that caseload."""
    ended = withdraw_caseloads(hub, role=role, caseloads=caseloads)
    typer.echo(f"{role}: {ended} caseload(s) withdrawn.")


@hub_app.command("revoke")
def hub_revoke(
    hub: HubOption,
    role: Annotated[str, typer.Option("--role", help="The PostgreSQL role to revoke.")],
) -> None:
    """A lost or stolen laptop: the role can no longer sync (as the hub's owner)."""
    closed = revoke_member(hub, role=role)
    typer.echo(f"{role} can no longer log in to the hub ({closed} open session(s) closed).")


@hub_app.command("collisions")
def hub_collisions(
    ctx: typer.Context,
    hub: HubOption,
    resolve: Annotated[list[int] | None, typer.Option(
        "--resolve", help="Mark this collision resolved (repeat).")] = None,
    note: Annotated[str, typer.Option(
        "--note", help="How it was resolved (with --resolve).")] = "",
    show_all: Annotated[bool, typer.Option("--all", help="Resolved ones too.")] = False,
) -> None:
    """Patients pushed with an INS the hub holds in another caseload (as the hub's owner):
    refused to the care manager who pushed them, kept here for a supervisor."""
    if resolve:
        by = getattr(ctx.obj, "user", None) or parse_hub_url(hub).user
        done = resolve_collisions(hub, ids=resolve, by=str(by), note=note)
        typer.echo(f"{done} collision(s) marked resolved.")
        return
    rows = list_collisions(hub, unresolved_only=not show_all)
    if not rows:
        typer.echo("No INS collision to resolve." if not show_all else "No INS collision.")
        return
    for c in rows:
        state = (f"resolved by {c.resolved_by}: {c.resolution}" if c.resolved_at
                 else "to resolve")
        typer.echo(f"#{c.id} {c.at:%Y-%m-%d %H:%M} {c.hub_user} ({c.member}) pushed patient "
                   f"{c.pushed_patient} with INS {c.ins}, held by patient {c.existing_patient}"
                   f" in caseload {c.existing_caseload!r}: {state}")


def register(app: typer.Typer) -> None:
    app.command("sync")(sync_command)
    app.add_typer(hub_app, name="hub")
