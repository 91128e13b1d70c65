"""`pip install .` gives working commands: the wheel carries code, data and migrations.

The wheel is built as a user would (pip fetches hatchling, the build backend), installed
away from the source tree, and its `carehub` creates a database from its own copies.
"""

from __future__ import annotations

import configparser
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGING = REPO_ROOT / "packaging"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
         "--disable-pip-version-check", "-w", str(out), str(REPO_ROOT)],
        capture_output=True, text=True, timeout=300, check=False)
    assert build.returncode == 0, build.stdout + build.stderr
    (built,) = out.glob("carehub-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel installed into a folder of its own (dependencies come from this Python)."""
    target = tmp_path_factory.mktemp("site")
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet",
         "--disable-pip-version-check", "--target", str(target), str(wheel)],
        capture_output=True, text=True, timeout=300, check=False)
    assert install.returncode == 0, install.stdout + install.stderr
    return target


def entry_points(wheel: Path) -> configparser.ConfigParser:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/entry_points.txt")]
        parser = configparser.ConfigParser()
        parser.read_string(archive.read(name).decode())
    return parser


def test_wheel_carries_both_packages_data_and_migrations(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"carehub/__init__.py", "carehub/cli.py", "carehub/db.py",
            "carehub/_resources/communes-fr.csv",
            "carehub/_migrations/env.py", "carehub/_migrations/script.py.mako"} <= names
    shipped = {n.removeprefix("carehub/_migrations/") for n in names
               if n.startswith("carehub/_migrations/versions/") and n.endswith(".py")}
    in_tree = {str(p.relative_to(REPO_ROOT / "migrations"))
               for p in (REPO_ROOT / "migrations" / "versions").glob("*.py")}
    assert shipped == in_tree and shipped
    in_ui = {str(p.relative_to(REPO_ROOT)) for p in (REPO_ROOT / "ui").rglob("*.py")}
    assert in_ui <= names  # every screen's package, not only the top of ui/
    assert not [n for n in names if n.endswith(".pyc") or "__pycache__" in n]
    assert not [n for n in names if n.startswith(("tests/", "bench/"))]


def test_wheel_declares_the_two_commands(wheel: Path) -> None:
    points = entry_points(wheel)
    assert points["console_scripts"]["carehub"].strip() == "carehub.cli:main"
    module, _, function = points["gui_scripts"]["carehub-gui"].strip().partition(":")
    assert function
    names = set(zipfile.ZipFile(wheel).namelist())
    assert module.replace(".", "/") + ".py" in names  # the GUI's entry module is shipped


def run_installed(installed: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The installed `carehub` script, run from outside the repository."""
    env = {k: v for k, v in os.environ.items() if k not in ("CAREHUB_DB", "CAREHUB_KEY_FILE")}
    env["PYTHONPATH"] = str(installed)  # the installed copy, never the source tree
    return subprocess.run([sys.executable, str(installed / "bin" / "carehub"), *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
                          check=False)


def test_installed_package_is_the_one_imported(installed: Path, tmp_path: Path) -> None:
    probe = subprocess.run(
        [sys.executable, "-c", "import json, carehub.paths as p; print(json.dumps("
         "[p.__file__, str(p.resources_dir()), str(p.migrations_dir())]))"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(installed)},
        capture_output=True, text=True, timeout=60, check=False)
    assert probe.returncode == 0, probe.stderr
    module, resources, migrations = (Path(p) for p in json.loads(probe.stdout))
    for path in (module, resources, migrations):
        assert path.is_relative_to(installed)
        assert not path.is_relative_to(REPO_ROOT)


def test_installed_command_creates_a_database_from_its_own_migrations(
        installed: Path, tmp_path: Path) -> None:
    help_text = run_installed(installed, tmp_path, "--help")
    assert help_text.returncode == 0, help_text.stderr
    assert "init" in help_text.stdout

    db, key = tmp_path / "data" / "carehub.db", tmp_path / "data" / "carehub.key"
    init = run_installed(installed, tmp_path, "--db", str(db), "--key-file", str(key), "init")
    assert init.returncode == 0, init.stderr
    listed = run_installed(installed, tmp_path, "--db", str(db), "--key-file", str(key),
                           "patients", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []


def test_desktop_entry_starts_the_gui_with_the_shipped_icon(wheel: Path) -> None:
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    entry.read(PACKAGING / "carehub.desktop", encoding="utf-8")
    desktop = entry["Desktop Entry"]
    assert desktop["Type"] == "Application"
    assert desktop["Exec"].split()[0] in entry_points(wheel)["gui_scripts"]
    assert (PACKAGING / f"{desktop['Icon']}.svg").is_file()
    assert desktop["Terminal"] == "false"


def test_pyinstaller_spec_points_at_files_that_exist() -> None:
    spec = (PACKAGING / "carehub.spec").read_text(encoding="utf-8")
    compile(spec, "carehub.spec", "exec")
    for needed in ('"ui/app.py"', '"carehub/cli.py"', '"resources"', '"migrations"',
                   '"carehub/_resources"', '"carehub/_migrations"'):
        assert needed in spec
    for path in ("carehub/cli.py", "resources", "migrations"):
        assert (REPO_ROOT / path).exists()
