"""Every screen's stylesheet is scoped to that screen. Textual applies a stylesheet loaded
through CSS_PATH to every screen from then on, so an unscoped '#view' rule in the export
form once made the log browser's view one row tall after the form had been opened."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import screens
import screens.widgets


def _owners() -> dict[Path, str]:
    """Stylesheet -> the selector its rules must start with (the owner's type or class)."""
    found: dict[Path, str] = {}
    for package in (screens, screens.widgets):
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            for _name, cls in inspect.getmembers(module, inspect.isclass):
                css = cls.__dict__.get("CSS_PATH")
                if cls.__module__ != module.__name__ or not isinstance(css, str):
                    continue
                scope = cls.__name__
                if cls.__name__.startswith("_"):  # a base: scoped by its default class
                    scope = "." + cls.__dict__["DEFAULT_CLASSES"].split()[0]
                found[Path(inspect.getfile(cls)).parent / css] = scope
    return found


def test_every_screen_stylesheet_is_scoped_to_its_screen() -> None:
    owners = _owners()
    assert len(owners) >= 20
    for path, scope in owners.items():
        text = re.sub(r"/\*.*?\*/", "", path.read_text(encoding="utf-8"), flags=re.S)
        depth = 0
        for line in text.splitlines():
            if depth == 0 and "{" in line:
                for selector in line.split("{", 1)[0].split(","):
                    selector = selector.strip()
                    assert selector == scope or selector.startswith(scope + " "), (
                        f"{path.name}: '{selector}' is not scoped to {scope}")
            depth += line.count("{") - line.count("}")
