"""`carehub directory ...`: import extracts, nearest practitioners, the printable list.

The PDF is laid out by Qt (ui/directory/printout.py), which the headless core never imports:
`directory print` prepares the list's content here and hands it as JSON to
`python -m ui.directory.printout` in a child process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from carehub.directory.extract_import import import_directory_file
from carehub.directory.extract_parse import ImportProgress
from carehub.directory.services import DirectorySearch, printable_list, search_directory
from carehub.errors import InputError

directory_app = typer.Typer(no_args_is_help=True, help="The practitioner directory.")

CommuneOption = Annotated[str | None, typer.Option("--commune", help="Around this commune "
                                                   "(INSEE code).")]
PatientOption = Annotated[str | None, typer.Option("--patient", help="Around this patient's "
                                                   "commune (local id or INS).")]
ProfessionOption = Annotated[str | None, typer.Option(
    "--profession", help="Code (10) or label (Médecin).")]
SpecialtyOption = Annotated[str | None, typer.Option(
    "--specialty", help="Savoir-faire code (SM54) or label (Médecine générale).")]
RadiusOption = Annotated[float, typer.Option("--radius", min=0.1, max=1000,
                                             help="Radius in km.")]


def _search(commune: str | None, patient: str | None, profession: str | None,
            specialty: str | None, radius: float, limit: int) -> DirectorySearch:
    if (commune is None) == (patient is None):
        raise typer.BadParameter("give exactly one of --commune and --patient")
    return DirectorySearch(commune=commune, patient=patient, profession=profession,
                           specialty=specialty, radius_km=radius, limit=limit)


def _progress_line(progress: ImportProgress) -> None:
    sys.stderr.write(f"\r{progress.file_name}: {progress.fraction:4.0%} "
                     f"({progress.rows:,} rows)")
    sys.stderr.flush()


@directory_app.command("import")
def directory_import(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(
        help="PS_LibreAcces_Personne_activite.txt extracts and "
             "Extraction_Correspondance_MSSante files, oldest first.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the reports as JSON.")] = False,
) -> None:
    """Import Annuaire Santé extracts and MSSanté mailbox files (all of them, or nothing)."""
    state = ctx.obj
    reports = []
    try:
        with state.write() as (_db, session):
            for file in files:
                reports.append(import_directory_file(session, path=file, actor=state.user,
                                                     progress=_progress_line))
                sys.stderr.write("\n")
    except BaseException:
        sys.stderr.write("\n")
        raise
    if as_json:
        json.dump([r.as_dict() for r in reports], sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        for report in reports:
            typer.echo(report.summary())


@directory_app.command("near")
def directory_near(
    ctx: typer.Context,
    commune: CommuneOption = None,
    patient: PatientOption = None,
    profession: ProfessionOption = None,
    specialty: SpecialtyOption = None,
    radius: RadiusOption = 30.0,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="JSON array on stdout.")] = False,
) -> None:
    """Nearest practitioners, one row each at their nearest site, nearest first."""
    search = _search(commune, patient, profession, specialty, radius, limit)
    with ctx.obj.read() as session:
        result = search_directory(session, search=search)
    if as_json:
        json.dump([p.as_json() for p in result.practitioners], sys.stdout,
                  ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return
    for p in result.practitioners:
        typer.echo(f"{p.distance_km:6.1f} km  {p.display_name}  ({p.profession_label}"
                   f"{' – ' + p.specialty_label if p.specialty_label else ''})  "
                   f"{p.phone_display or '-'}  {p.address}")


@directory_app.command("print")
def directory_print(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="The PDF to write.")],
    commune: CommuneOption = None,
    patient: PatientOption = None,
    profession: ProfessionOption = None,
    specialty: SpecialtyOption = None,
    radius: RadiusOption = 30.0,
    limit: Annotated[int, typer.Option("--limit", min=1, max=200)] = 20,
    large_print: Annotated[bool, typer.Option("--large-print",
                                              help="Large type, for poor eyesight.")] = False,
) -> None:
    """The printable list "Professionnels de santé près de chez vous" as a PDF."""
    search = _search(commune, patient, profession, specialty, radius, limit)
    with ctx.obj.read() as session:
        result = search_directory(session, search=search)
    document = printable_list(result, radius_km=radius, today=date.today(),
                              large_print=large_print)
    render_pdf(document, out)
    typer.echo(f"Wrote {out} ({len(result.practitioners)} practitioners).")


def render_pdf(document: dict[str, Any], out: Path) -> None:
    """Lay the list out with Qt in a child process (the core stays free of Qt)."""
    env = dict(os.environ)
    if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    completed = subprocess.run(
        [sys.executable, "-m", "ui.directory.printout", "--out", str(out)],
        input=json.dumps(document, ensure_ascii=False), text=True, capture_output=True,
        env=env, timeout=120, check=False)
    if completed.returncode != 0:
        detail = completed.stderr.strip().splitlines()[-1:] or ["no detail"]
        raise InputError(f"Cannot write the PDF {out}: {detail[0]}",
                         f"Impossible d'écrire le PDF {out} : {detail[0]}")
