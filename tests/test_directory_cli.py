"""`carehub directory import | near | print` as DESIGN.md's contract states them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from carehub.cli import app

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURE = REPO_ROOT / "tests" / "data" / "annuaire" / "PS_LibreAcces_Personne_activite.txt"
MAILBOXES = FIXTURE.with_name("Extraction_Correspondance_MSSante_202611230800.txt")
RESULT_FIELDS = {"id", "rpps", "last_name", "first_name", "profession", "specialty", "commune",
                 "distance_km", "phone", "address"}
runner = CliRunner()


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run([sys.executable, "-m", "carehub.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_import_then_near_json_gives_the_contract_fields_nearest_first(db_path: Path) -> None:
    imported = runner.invoke(app, ["--db", str(db_path), "directory", "import", str(FIXTURE),
                                   str(MAILBOXES)])  # each file told apart by its header
    assert imported.exit_code == 0, imported.output
    assert "100%" in imported.stderr and "13 rows" in imported.stdout
    assert "8 rows, 5 MSSanté mailboxes of 4 practitioners" in imported.stdout
    result = runner.invoke(app, ["--db", str(db_path), "directory", "near", "--commune",
                                 "41018", "--profession", "Médecin", "--specialty", "SM54",
                                 "--radius", "25", "--limit", "5", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["last_name"] for r in rows] == ["GARNIER", "MARTIN", "LEROY", "DUBOIS", "ROUX"]
    assert all(set(r) >= RESULT_FIELDS for r in rows)
    martin = rows[1]
    assert (martin["id"], martin["rpps"], martin["phone"], martin["commune"]) == (
        "810000000017", "10000000017", "+33254781234", "41018")
    assert martin["address"] == "12 Rue DENIS PAPIN, 41000 BLOIS"
    assert martin["mssante"] == "jeanne.martin@medecin.mssante.fr"
    assert rows[0]["mssante"] is None  # GARNIER has none listed


def test_a_malformed_file_exits_1_with_an_english_message_naming_the_line(
        db_path: Path, tmp_path: Path) -> None:
    bad = tmp_path / "broken.txt"
    lines = FIXTURE.read_text(encoding="utf-8").splitlines(keepends=True)
    bad.write_text("".join([*lines[:3], "8|123|8123|\n", *lines[3:]]), encoding="utf-8")
    result = run_script("--db", str(db_path), "directory", "import", str(bad))
    assert result.returncode == 1
    assert "error: broken.txt, line 4: 3 fields where the header has 52; nothing was " \
        "imported." in result.stderr


def test_near_needs_exactly_one_origin(db_path: Path) -> None:
    result = runner.invoke(app, ["--db", str(db_path), "directory", "near", "--json"])
    assert result.exit_code == 2
