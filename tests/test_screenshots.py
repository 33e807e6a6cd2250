"""bench/screenshots.py saves one SVG per area (plus the login screen and a support
session) from a small demo, each showing that area's own keys."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest
from textual.binding import Binding

from console.app import AREAS

ROOT = Path(__file__).resolve().parent.parent


def own_key_label(area) -> str:
    """The first key the area's screen shows in its key bar, as the SVG spells it."""
    screen = getattr(importlib.import_module(f"screens.{area.module}"), area.screen)
    label = next(b.description for b in screen.BINDINGS if isinstance(b, Binding) and b.show)
    return label.replace(" ", "&#160;")


@pytest.mark.integration
def test_screenshot_script_saves_every_area(tmp_path: Path) -> None:
    out = tmp_path / "shots"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "screenshots.py"), "--out", str(out),
         "--data-dir", str(tmp_path / "demo"), "--employees", "3", "--customers", "5",
         "--sales", "20", "--size", "100x32"],
        capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    areas = [a for a in AREAS if a.available]
    expected = {f"{a.id}.svg" for a in areas} | {"login.svg", "support-session.svg"}
    assert {p.name for p in out.iterdir()} == expected
    for area in areas:
        svg = (out / f"{area.id}.svg").read_text(encoding="utf-8")
        assert svg.lstrip().startswith("<svg") and svg.rstrip().endswith("</svg>")
        assert own_key_label(area) in svg, f"{area.id}.svg does not show the {area.title} area"
    session = (out / "support-session.svg").read_text(encoding="utf-8")
    assert "SUPPORT&#160;ACCESS" in session
    assert f"{len(expected)} screenshots" in done.stdout


def test_readme_shows_every_area() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in [a.id for a in AREAS if a.available] + ["login", "support-session"]:
        assert f"(docs/screenshots/{name}.svg)" in readme, f"README misses {name}.svg"
        assert (ROOT / "docs" / "screenshots" / f"{name}.svg").is_file(), name
