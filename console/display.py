"""Showing text from logs and data literally.

A log line may hold ANSI escapes, OSC 52 clipboard writes, BIDI overrides or Rich markup.
None of it may reach the terminal or Textual as anything but visible characters: control
and format characters become `\\x1b`-style escapes, and text goes to Rich as `Text`, which
never parses markup.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from rich.text import Text

_TRANSLATE: dict[int, str] = {}


def _escape_char(ch: str) -> str:
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(value: object, *, max_len: int | None = None) -> str:
    """`value` as a single line of visible characters (controls and format chars escaped)."""
    text = "" if value is None else str(value)
    if max_len is not None and len(text) > max_len:
        text = text[:max_len] + "…"
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escape_char(ch) for ch in text)


def json_safe(line: str) -> str:
    """A line of JSON with every non-printable character (C1 controls, BIDI overrides and
    other format characters, which JSON encoders leave raw) written as a `\\uXXXX` escape:
    the same JSON value, but nothing in it can act on a terminal."""
    if line.isprintable():
        return line
    out = []
    for ch in line:
        if ch.isprintable() or ch in "\n\r\t":
            out.append(ch)
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:  # outside the BMP: a surrogate pair, as JSON spells it
            code = ord(ch) - 0x10000
            out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
    return "".join(out)


def literal(value: object, *, style: str = "", max_len: int | None = None) -> Text:
    """A Rich Text that shows `value` exactly (no markup, no escapes interpreted)."""
    return Text(printable(value, max_len=max_len), style=style, no_wrap=True, end="")


def zone(name: str) -> ZoneInfo | None:
    """The display time zone: None means the machine's local zone."""
    if name == "local":
        return None
    return ZoneInfo(name)


def local_time(value: datetime | None, tz_name: str = "local", fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    return value.astimezone(zone(tz_name)).strftime(fmt)
