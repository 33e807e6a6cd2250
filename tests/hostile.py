"""The hostile-strings corpus: the Big List of Naughty Strings (tests/data/blns.json, MIT,
vendored from github.com/minimaxir/big-list-of-naughty-strings; see blns.LICENSE) plus
terminal escapes, OSC 52 clipboard writes, BIDI overrides, Rich/Textual markup, NUL and
SQL/FTS syntax. `corpus()` is shared by the tests and bench/reliability.py."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

DATA = Path(__file__).parent / "data"

TERMINAL = [
    "\x1b[31mred\x1b[0m plain",
    "\x1b[2J\x1b[Hscreen cleared",
    "\x1b]0;owned title\x07",
    "\x1b]52;c;ZWNobyBvd25lZA==\x07 clipboard write",
    "\x1b]52;c;ZWNobyBvd25lZA==\x1b\\ clipboard write (ST)",
    "\x1b]8;;https://evil.example/\x1b\\link\x1b]8;;\x1b\\",
    "\x1bP+q544e\x1b\\ DCS query",
    "\x9b31m C1 CSI",
    "bell\x07 backspace\x08 tab\t vertical\x0b formfeed\x0c",
    "carriage\roverwritten",
    "\u202eevil.exe\u202c reversed",
    "\u2066isolate\u2069 \u200f\u200e marks \u061c",
    "zero\u200bwidth\ufeffbom",
    "a\x00b NUL inside",
    "\x00",
    "\x7f delete",
]
MARKUP = [
    "[bold]not bold[/bold]",
    "[bold red on white]x[/]",
    "[link=https://evil.example]click[/link]",
    "[@click=app.quit]quit[/]",
    "[/]",
    "[",
    "]",
    "[b]unclosed",
    "$accent $text-muted",
    ":warning: :smile:",
    "\\[escaped]",
]
SQLISH = [
    "%", "_", "%_%", "'", "''", "'; DROP TABLE users; --", "\" OR 1=1 --", "*", "a*", "**",
    "NEAR(a b)", "NEAR(", "\"", "\"\"", "-", "--", "-x", "OR", "AND", "NOT", "a OR b",
    "a AND NOT b", "(", ")", "a:b", "^a", "{a b}", "\\", "\\%", "$1", "?", ":name",
    "x' UNION SELECT password_hash FROM users --", "a & b | !c", "<->", "a:*",
]


@functools.cache
def blns() -> list[str]:
    return json.loads((DATA / "blns.json").read_text(encoding="utf-8"))


def corpus() -> list[str]:
    """Every hostile string once (the 10 MB line is separate: `big_line()`)."""
    seen: dict[str, None] = {}
    for s in [*blns(), *TERMINAL, *MARKUP, *SQLISH]:
        seen.setdefault(s, None)
    return list(seen)


def sample(every: int) -> list[str]:
    """The test suite's share of the corpus: every `every`-th string of the big list plus
    all the terminal, markup and SQL strings; the whole corpus when FLOWPRO_HOSTILE_FULL=1
    (bench/reliability.py)."""
    if os.environ.get("FLOWPRO_HOSTILE_FULL") == "1":
        return corpus()
    seen: dict[str, None] = {}
    for s in [*blns()[::every], *TERMINAL, *MARKUP, *SQLISH]:
        seen.setdefault(s, None)
    return list(seen)


def big_line(size: int = 10 << 20) -> str:
    """A line of `size` characters with escapes and markup inside."""
    unit = "x" * 1000 + "\x1b[31m[bold]"
    return (unit * (size // len(unit) + 1))[:size]
