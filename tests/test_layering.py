"""The layering is enforced: screens -> console services -> models, Textual only in the UI."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import console
import models

ROOT = Path(__file__).resolve().parent.parent
UI_MODULES = {"console.app", "console.commands.tui"}


def service_modules() -> list[str]:
    names = [f"console.{m.name}" for m in pkgutil.iter_modules(console.__path__)]
    names += [f"console.commands.{m.name}" for m in
              pkgutil.iter_modules([str(ROOT / "console" / "commands")])]
    names += [f"models.{m.name}" for m in pkgutil.iter_modules(models.__path__)]
    return sorted(n for n in names if n not in UI_MODULES and not n.endswith("__main__"))


def test_services_and_models_never_import_textual() -> None:
    code = ("import importlib, sys\n"
            f"for name in {service_modules()!r}:\n"
            "    importlib.import_module(name)\n"
            "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
            "print(','.join(bad))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout.strip()
    assert out == "", f"Textual imported by services: {out}"


def test_cli_start_up_imports_only_click() -> None:
    code = ("import sys, console.cli\n"
            "heavy = [m for m in ('sqlalchemy', 'sqlmodel', 'textual', 'pydantic') "
            "if m in sys.modules]\nprint(','.join(heavy))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout.strip()
    assert out == ""


def test_import_linter_contracts_hold() -> None:
    exe = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(exe)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-3000:]


def test_screens_never_touch_sql() -> None:
    offenders = []
    for path in (ROOT / "screens").rglob("*.py"):
        source = path.read_text()
        for needle in ("import sqlalchemy", "from sqlalchemy", "import sqlmodel",
                       "from sqlmodel", ".exec(", ".execute("):
            if needle in source:
                offenders.append(f"{path.relative_to(ROOT)}: {needle}")
    assert offenders == []
