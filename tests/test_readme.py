"""The README stays true: its command reference is what --help says."""

from __future__ import annotations

from pathlib import Path

from console.commands.reference import BEGIN, END, render

README = Path(__file__).resolve().parent.parent / "README.md"


def test_command_reference_matches_the_cli() -> None:
    text = README.read_text(encoding="utf-8")
    start, end = text.index(BEGIN), text.index(END) + len(END)
    assert text[start:end] == render(), (
        "README command reference is stale: regenerate with "
        "`python -m console.commands.reference` and paste it between the markers")


def test_readme_starts_with_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    head = text[: text.index("## ")]
    assert "flowpro-console demo" in head
    assert "pip install -e '.[test]' && .venv/bin/python -m pytest" in head
