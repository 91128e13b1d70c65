"""`carehub query "EXPR" [--as-of D] [--json]`: the cohort search from the command line.

It searches every patient of the local database (a workstation holds one nurse's
caseload); `--mine` keeps only the acting user's patients. Registered by carehub/cli.py.
"""

from __future__ import annotations

import json
import sys
from contextlib import AbstractContextManager
from datetime import date
from typing import Annotated, Protocol

import typer
from sqlmodel import Session

from carehub.caseload.services import list_patients
from carehub.cohort.service import run_query


class CliContext(Protocol):
    """What the main app's callback leaves in ctx.obj (carehub.cli.CliState)."""

    user: str

    def read(self) -> AbstractContextManager[Session]: ...


def query(
    ctx: typer.Context,
    expr: Annotated[str, typer.Argument(help="The query, e.g. \"sex F and age 50..74\".")],
    as_of: Annotated[str | None, typer.Option("--as-of", help="Today (YYYY-MM-DD).")] = None,
    mine: Annotated[bool, typer.Option("--mine", help="Only the acting user's patients.")
                    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON array on stdout.")] = False,
) -> None:
    """Cohort search: the patients matching EXPR, printed like `patients list`."""
    state: CliContext = ctx.obj
    day = _date(as_of) if as_of else date.today()
    with state.read() as session:
        ids = run_query(session, expr=expr, as_of=day,
                        care_manager=state.user if mine else None)
        rows = list_patients(session, ids=ids)
    if as_json:
        json.dump(rows, sys.stdout, ensure_ascii=False, indent=2, default=str)
        sys.stdout.write("\n")
        return
    for row in rows:
        typer.echo(f"{row['id']}  {row['ins'] or '-':15}  {row['used_name'] or row['birth_name']} "
                   f"{row['given_names']}  {row['birth_date']}  {row['commune'] or ''}")


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date YYYY-MM-DD",
                                 param_hint="--as-of") from None
