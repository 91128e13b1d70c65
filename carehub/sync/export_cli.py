"""`carehub export fhir [--since D] --out FILE [--endpoint URL]` (DESIGN.md contract)."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from carehub.sync.fhir_export import build_export, mark_pushed, push_bundle, write_bundle

export_app = typer.Typer(no_args_is_help=True, help="Export data for other software.")


@export_app.command("fhir")
def export_fhir(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="Where to write the Bundle (JSON).")],
    since: Annotated[str | None, typer.Option(
        "--since", help="Only actions on or after this date (YYYY-MM-DD).")] = None,
    endpoint: Annotated[str | None, typer.Option(
        "--endpoint", envvar="CAREHUB_FHIR_ENDPOINT",
        help="Also post the Bundle to this FHIR server's base URL (conditional creates: "
             "posting again creates nothing twice).")] = None,
    token: Annotated[str | None, typer.Option(
        "--token", envvar="CAREHUB_FHIR_TOKEN", show_default=False,
        help="Bearer token for the FHIR server (better from the environment).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Coordination actions as a FHIR R4 transaction Bundle (optionally posted)."""
    try:
        since_date = date.fromisoformat(since) if since is not None else None
    except ValueError:
        raise typer.BadParameter(f"{since!r} is not a date YYYY-MM-DD",
                                 param_hint="--since") from None
    state = ctx.obj
    with state.read() as session:
        result = build_export(session, since=since_date)
    write_bundle(result, out)
    report = result.as_dict()
    report["out"] = str(out)
    if endpoint:
        pushed = push_bundle(result, endpoint=endpoint, token=token)
        with state.write() as (_db, session):
            mark_pushed(session, action_ids=result.action_ids, target=endpoint)
        report.update(pushed.as_dict())
    if as_json:
        json.dump(report, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return
    typer.echo(f"Wrote {report['exported']} actions to {out}"
               + (f" ({report['skipped_without_ins']} left out: patient without INS)"
                  if report["skipped_without_ins"] else "") + ".")
    if endpoint:
        typer.echo(f"Posted to {endpoint}: {report['created']} created, "
                   f"{report['already_there']} already there.")
