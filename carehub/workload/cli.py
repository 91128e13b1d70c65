"""`carehub workload [--from D] [--to D] --json` (DESIGN.md): the supervisor's figures.

Registered by carehub/cli.py. The acting user (--user) sees the whole team when she is a
supervisor or an administrator, her own figures otherwise.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from typing import Annotated, Any

import typer

from carehub.prevention.rules import load_rules
from carehub.workload.coverage_cache import refresh_coverage_cache
from carehub.workload.service import Workload, default_period, workload


def _date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date YYYY-MM-DD",
                                 param_hint=option) from None


def as_json(found: Workload) -> list[dict[str, Any]]:
    """One object per care manager: the contract's keys first (user, patients, overdue,
    calls, reached), then the period, the richer figures and the source."""
    period = {"from": found.date_from.isoformat(), "to": found.date_to.isoformat(),
              "source": found.source, "unavailable": list(found.unavailable)}
    return [{**figures.as_json(), **period} for figures in found.managers]


def _text(found: Workload) -> str:
    lines = [f"{found.date_from:%d/%m/%Y} - {found.date_to:%d/%m/%Y} ({found.source})",
             f"{'user':16} {'patients':>8} {'overdue':>8} {'calls':>6} {'reached':>8} "
             f"{'referrals':>9}"]
    for f in [*found.managers, found.team]:
        lines.append(f"{f.user:16} {f.patients:8} {f.overdue:8} {f.calls:6} {f.reached:8} "
                     f"{f.referrals:9}")
    for code, rate in found.team.coverage.items():
        share = "-" if rate.rate is None else f"{100 * rate.rate:.0f} %"
        lines.append(f"{code:22} {rate.numerator}/{rate.denominator} ({share}) "
                     f"on {rate.as_of:%d/%m/%Y}")
    if found.unavailable:
        lines.append(f"not available from this source: {', '.join(found.unavailable)}")
    return "\n".join(lines)


def workload_command(
    ctx: typer.Context,
    date_from: Annotated[str | None, typer.Option(
        "--from", help="First day (YYYY-MM-DD), included; default 30 days ago.")] = None,
    date_to: Annotated[str | None, typer.Option(
        "--to", help="Last day (YYYY-MM-DD), included; default today.")] = None,
    care_manager: Annotated[list[str] | None, typer.Option(
        "--care-manager", help="Only this care manager (repeatable).")] = None,
    hub: Annotated[str | None, typer.Option(
        "--hub", help="Read the whole team's figures from this hub "
                      "(postgresql://user@host:port/db) instead of the local database.")
    ] = None,
    as_json_flag: Annotated[bool, typer.Option("--json", help="JSON array on stdout.")] = False,
) -> None:
    """The supervisor's figures per care manager over a period."""
    state = ctx.obj
    last = _date(date_to, "--to") or date.today()
    first = _date(date_from, "--from") or default_period(last)[0]
    users = care_manager or None
    if hub is not None:
        from carehub.workload.hub import hub_workload
        with state.read() as session:
            found = hub_workload(session, hub_url=hub, date_from=first, date_to=last,
                                 users=users, viewer=state.user)
    else:
        database, rules = state.open(), load_rules()
        try:
            if last == date.today():  # later readings today need only the patients changed
                with database.transaction() as session:
                    refresh_coverage_cache(session, as_of=last, rules=rules)
            with database.session() as session:
                found = workload(session, date_from=first, date_to=last, users=users,
                                 viewer=state.user, rules=rules)
        finally:
            database.close()
    if as_json_flag:
        json.dump(as_json(found), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        typer.echo(_text(found))
