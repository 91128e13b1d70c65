"""`carehub actions add|list`: log and list coordination actions (DESIGN.md contract)."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Annotated

import typer

from carehub.coordination.models import ACTION_TYPES
from carehub.coordination.services import list_actions, record_action

actions_app = typer.Typer(no_args_is_help=True, help="Coordination actions (calls, referrals...).")


def _datetime(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date-time YYYY-MM-DDTHH:MM[:SS][+HH:MM]",
                                 param_hint="--at") from None


@actions_app.command("add")
def actions_add(
    ctx: typer.Context,
    patient: Annotated[str, typer.Option("--patient", help="Local id or INS.")],
    action_type: Annotated[str, typer.Option("--type", help=", ".join(ACTION_TYPES))],
    note: Annotated[str | None, typer.Option("--note", help="Free text.")] = None,
    at: Annotated[str | None, typer.Option(
        "--at", help="When it happened (ISO; local time unless an offset is given). "
                     "Default: now.")] = None,
    duration: Annotated[int | None, typer.Option("--duration", min=0,
                                                 help="Duration in minutes.")] = None,
) -> None:
    """Log a coordination action for a patient; prints its id."""
    if action_type not in ACTION_TYPES:
        raise typer.BadParameter(f"{action_type!r} is not one of {', '.join(ACTION_TYPES)}",
                                 param_hint="--type")
    moment = _datetime(at)
    state = ctx.obj
    with state.write() as (_db, session):
        action_id = record_action(session, patient_ref=patient, action_type=action_type,
                                  actor=state.user, at=moment, note=note,
                                  duration_s=None if duration is None else duration * 60)
    typer.echo(str(action_id))


@actions_app.command("list")
def actions_list(
    ctx: typer.Context,
    patient: Annotated[str | None, typer.Option("--patient", help="Local id or INS.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON array on stdout.")] = False,
) -> None:
    """Coordination actions, newest first."""
    with ctx.obj.read() as session:
        rows = list_actions(session, patient_ref=patient)
    if as_json:
        json.dump([row.as_json() for row in rows], sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return
    for row in rows:
        typer.echo(f"{row.at.astimezone():%Y-%m-%d %H:%M}  {row.type:18}  {row.author:12}  "
                   f"{row.ins or row.patient_id}  {row.note or ''}")
