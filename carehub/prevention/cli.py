"""`carehub calllist --as-of D --json` (DESIGN.md) and `carehub reminders recompute`.

Registered by carehub/cli.py. The call list is the acting user's (--user), read from the
stored reminders; `calllist` first brings them up to date for the day (one transaction).
"""

from __future__ import annotations

import json
import sys
from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import Annotated, Any, Protocol

import typer
from sqlmodel import Session

from carehub.prevention.services import call_list, recompute_reminders

reminders_app = typer.Typer(no_args_is_help=True, help="Prevention and screening reminders.")


class CliContext(Protocol):
    """What the main app's callback leaves in ctx.obj (carehub.cli.CliState)."""

    user: str

    def write(self) -> AbstractContextManager[tuple[Any, Session]]: ...


def _date(value: str | None, option: str) -> date:
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date YYYY-MM-DD",
                                 param_hint=option) from None


def _time(value: str | None, day: date) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.combine(day, datetime.strptime(value, "%H:%M").time())
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a time HH:MM", param_hint="--at") from None


def calllist(
    ctx: typer.Context,
    as_of: Annotated[str | None, typer.Option("--as-of", help="The day (YYYY-MM-DD).")] = None,
    at: Annotated[str | None, typer.Option(
        "--at", help="The time of day the list is for (HH:MM, local); default now, or "
                     "the rules' default call time for another day.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON array on stdout.")] = False,
) -> None:
    """The acting user's calls for the day, in order: one line per patient."""
    state: CliContext = ctx.obj
    day = _date(as_of, "--as-of")
    with state.write() as (_db, session):
        recompute_reminders(session, as_of=day, actor=state.user)
        items = call_list(session, user=state.user, as_of=day, now=_time(at, day))
    if as_json:
        json.dump([i.as_json() for i in items], sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return
    for item in items:
        reasons = ", ".join(r.code for r in item.reasons)
        phone = item.phones[0].formatted if item.phones else "-"
        typer.echo(f"{item.priority:5d}  {item.name}  {phone}  [{item.channel}]  {reasons}")


@reminders_app.command("recompute")
def reminders_recompute(
    ctx: typer.Context,
    as_of: Annotated[str | None, typer.Option("--as-of", help="The day (YYYY-MM-DD).")] = None,
) -> None:
    """Bring every stored reminder in line with the clinical facts for the day."""
    state: CliContext = ctx.obj
    with state.write() as (_db, session):
        report = recompute_reminders(session, as_of=_date(as_of, "--as-of"), actor=state.user)
    typer.echo(report.summary())
