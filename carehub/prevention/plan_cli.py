"""`carehub plan [--from D] [--days N] --json` and `carehub plan capacity` (DESIGN.md).

Registered by carehub/cli.py. The plan is the acting user's (--user before the command);
it brings the reminders up to date for the day first, as `calllist` does (one
transaction), then rebuilds the plan and prints its days.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from carehub.prevention.cli import CliContext, _date
from carehub.prevention.plan import DAY_NAMES_FR, contact_plan, get_capacity, set_capacity
from carehub.prevention.services import recompute_reminders

plan_app = typer.Typer(help="The contact plan: the due patients spread over the coming "
                            "working days, within each care manager's capacity.")


@plan_app.callback(invoke_without_command=True)
def plan(
    ctx: typer.Context,
    start: Annotated[str | None, typer.Option(
        "--from", help="The plan's first day, today by default (YYYY-MM-DD).")] = None,
    days: Annotated[int, typer.Option("--days", min=1, max=366,
                                      help="How many plan days to show.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="JSON array on stdout.")] = False,
) -> None:
    """The acting user's plan, per day: patients, reasons, load and capacity."""
    if ctx.invoked_subcommand is not None:
        return
    state: CliContext = ctx.obj
    day = _date(start, "--from")
    with state.write() as (_db, session):
        recompute_reminders(session, as_of=day, actor=state.user)
        found = contact_plan(session, user=state.user, as_of=day, days=days)
    if as_json:
        json.dump(found.as_json(), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return
    typer.echo(f"{found.capacity.per_day} calls a day on {found.capacity.days_text}; "
               f"{found.total} patients planned, {found.beyond} after the days shown.")
    for plan_day in found.days:
        typer.echo(f"{DAY_NAMES_FR[plan_day.day.isoweekday() - 1]:9} "
                   f"{plan_day.day.isoformat()}  {plan_day.load:4d} / {plan_day.capacity}"
                   f"  ({plan_day.urgent} urgent, {plan_day.carried_over} carried over)")


@plan_app.command("capacity")
def capacity(
    ctx: typer.Context,
    user: Annotated[str | None, typer.Option(
        "--user", help="Whose capacity (default: the acting user).")] = None,
    per_day: Annotated[int | None, typer.Option(
        "--per-day", help="Calls per working day.")] = None,
    days: Annotated[str | None, typer.Option(
        "--days", help="Working days, e.g. mon,tue,wed,thu,fri.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON object on stdout.")] = False,
) -> None:
    """Show or set a care manager's capacity (calls per working day, working days)."""
    state: CliContext = ctx.obj
    owner = user or state.user
    with state.write() as (_db, session):
        current = get_capacity(session, user=owner)
        if per_day is not None or days is not None:
            current = set_capacity(session, user=owner,
                                   per_day=per_day if per_day is not None else current.per_day,
                                   days=days if days is not None else current.days,
                                   actor=state.user)
    if as_json:
        json.dump(current.as_json(), sys.stdout, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        typer.echo(f"{owner}: {current.per_day} calls a day on {current.days_text}.")
