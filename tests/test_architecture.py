"""The headless core never imports Qt: checked in the source and at run time."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "carehub"
QT_PACKAGES = ("PySide6", "PyQt5", "PyQt6", "PySide2", "shiboken6", "qtpy")


def _core_modules() -> list[str]:
    modules = []
    for path in sorted(CORE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules.append(".".join(parts))
    return modules


def _imported_roots(tree: ast.AST) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(
                node.func, "id", None)) in ("import_module", "__import__") and node.args \
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            roots.add(node.args[0].value.split(".")[0])
    return roots


def test_no_core_file_imports_qt_or_the_ui() -> None:
    offenders = {}
    for path in sorted(CORE.rglob("*.py")):
        roots = _imported_roots(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        bad = sorted(roots & {*QT_PACKAGES, "ui"})
        if bad:
            offenders[str(path.relative_to(ROOT))] = bad
    assert offenders == {}


def test_importing_every_core_module_loads_no_qt() -> None:
    modules = _core_modules()
    assert "carehub.db" in modules and "carehub.caseload.services" in modules
    script = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        f"{[*QT_PACKAGES, 'ui']!r})))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


# -- ui/: one package per screen over a shared base, and no import circle anywhere ----------

UI = ROOT / "ui"
SHELL = {"ui.app", "ui.main_window"}  # compose the screens: no screen or base module uses them
BASE_PACKAGES = {"widgets"}  # shared by the screens, like the modules at the top of ui/


def _modules_under(root: Path, *tops: str) -> dict[str, Path]:
    found = {}
    for top in tops:
        for path in sorted((root / top).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imports_of(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The modules of `known` that `module` imports: at its top, under TYPE_CHECKING or
    inside a function alike (a circle hidden from the interpreter is still a circle)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in known)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            for alias in node.names:
                if f"{base}.{alias.name}" in known:
                    found.add(f"{base}.{alias.name}")
                elif base in known:
                    found.add(base)
    found.discard(module)
    return found


def _import_circles(root: Path, *tops: str) -> list[list[str]]:
    """Every set of modules that import one another round in a circle (Tarjan's SCCs)."""
    known = _modules_under(root, *tops)
    graph = {m: sorted(_imports_of(m, p, known)) for m, p in known.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(graph[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        while work:
            node, edges = work[-1]
            for target in edges:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    work.append((target, iter(graph[target])))
                    break
                if target in stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    members = []
                    while True:
                        member = stack.pop()
                        members.append(member)
                        if member == node:
                            break
                    if len(members) > 1:
                        circles.append(sorted(members))
    return circles


def _screens() -> set[str]:
    return {p.parent.name for p in UI.glob("*/__init__.py")} - BASE_PACKAGES


def _ui_imports() -> dict[str, set[str]]:
    known = _modules_under(ROOT, "ui")
    return {m: _imports_of(m, p, known) for m, p in known.items()}


def test_each_screen_uses_only_the_base_never_another_screen_nor_the_main_window() -> None:
    screens = _screens()
    assert {"caseload", "my_day", "directory", "cohort", "dashboard", "sync",
            "access"} <= screens
    offenders = {}
    for module, imported in _ui_imports().items():
        parts = module.split(".")
        if len(parts) < 2 or parts[1] not in screens:
            continue
        bad = sorted(i for i in imported
                     if i in SHELL or (i.split(".")[1] in screens and i.split(".")[1] != parts[1]))
        if bad:
            offenders[module] = bad
    assert offenders == {}


def test_the_shared_base_imports_no_screen() -> None:
    screens = _screens()
    offenders = {}
    for module, imported in _ui_imports().items():
        parts = module.split(".")
        if module in SHELL or (len(parts) > 1 and parts[1] in screens):
            continue
        bad = sorted(i for i in imported
                     if i in SHELL or (len(i.split(".")) > 1 and i.split(".")[1] in screens))
        if bad:
            offenders[module] = bad
    assert offenders == {}


def test_no_import_circle_in_the_ui_or_the_core() -> None:
    assert _import_circles(ROOT, "carehub", "ui") == []


def test_an_import_circle_is_found_even_behind_type_checking(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.b import B\n")
    (package / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.c import C\n")
    (package / "c.py").write_text("def f():\n    from . import a\n")
    (package / "d.py").write_text("from pkg import a\n")
    assert _import_circles(tmp_path, "pkg") == [["pkg.a", "pkg.b", "pkg.c"]]
