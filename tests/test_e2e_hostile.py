"""Hostile strings over a real terminal: log lines, a display name and a grant reason
carrying ANSI escapes, OSC 52 clipboard writes, a window-title change, a cursor-position
query (which makes a terminal type an answer), C1 controls, BIDI overrides, NUL and Rich
markup are put into the data and viewed in the console over `ssh -tt` inside tmux.

Every byte the console sends to the terminal is recorded (`tmux pipe-pane`); none of the
data's control sequences may be among them, and tmux must not have acted on any (no
clipboard buffer, no new window title). On the screen the text shows literally."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from console import clock
from console.principal import system_principal
from console.support import create_grant
from console.users import create_user
from tests.conftest import ADMIN_PASSWORD
from tests.e2ehelp import E2eWorld, log_in, started_world, write_logs
from tests.supporthelp import add_engineer

pytestmark = pytest.mark.integration

# Each sequence, if it reached the terminal, would do something: blink red, set the
# clipboard, retitle the window, make the terminal answer as if typed, leave the alternate
# screen, reverse the text's direction.
LEAKS = {
    "SGR blink red": "\x1b[5;31m",
    "OSC 52 clipboard write": "\x1b]52;c;cHduZWQgYnkgYSBsb2cgbGluZQ==\x07",
    "OSC 0 window title": "\x1b]0;pwned-title\x07",
    "CSI 6n cursor report": "\x1b[6n",
    "leave alternate screen": "\x1b[?1049l",
    "C1 CSI clear screen": "\u009b2J",
    "BIDI right-to-left override": "\u202e",
    "NUL": "\x00",
}
MARKUP = "[bold red]markup[/] [link=https://evil.example]click[/link]"
HOSTILE = "HOSTILE " + " ".join(f"{name}:{seq}" for name, seq in LEAKS.items()) + " " + MARKUP
DISPLAY_NAME = "[bold red]Mallory[/] [reverse]Admin[/reverse]"
REASON = "[blink]Urgent[/blink] payroll [on red]fix[/] for ticket"


def hostile_logs(path: Path) -> Path:
    """The payload as FlowPro JSON Lines (message and an extra field), newest of all, and
    once more as raw bytes in a plain-text line."""
    now = clock.now()
    write_logs(path, extra=[{"ts": (now - timedelta(minutes=3)).isoformat(), "level": "error",
                             "system": "pos", "host": "till\x1b[31m07", "message": HOSTILE,
                             "user": f"eve{LEAKS['OSC 52 clipboard write']}"}])
    raw = path.with_suffix(".log")
    stamp = (now - timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    raw.write_bytes(f"{stamp} ERROR RAWLINE {HOSTILE}\n".encode())
    return raw


@pytest.fixture
def e2e(tmp_path: Path) -> Iterator[E2eWorld]:
    def prepare(made: E2eWorld) -> None:
        raw = hostile_logs(tmp_path / "app.jsonl")
        made.ingest(tmp_path / "app.jsonl")
        made.ingest(raw)
        runtime = made.runtime()
        with runtime.database.scope() as db:
            create_user(db, system_principal("test"), "aa-mallory",
                        security=runtime.settings.security, password=ADMIN_PASSWORD,
                        roles=("auditor",), display_name=DISPLAY_NAME)
            add_engineer(runtime, db)
            create_grant(db, system_principal("admin"), settings=runtime.settings.support,
                         engineer="fp-jane", scope="logs.read", reason=REASON,
                         ticket="FP-1")

    with started_world(tmp_path, prepare) as made:
        yield made


def test_no_control_sequence_from_the_data_reaches_the_terminal(e2e: E2eWorld) -> None:
    admin = e2e.admin_terminal("hostile", size=(120, 40), record=True)
    with e2e.explained():
        log_in(admin)
        admin.keys("4")
        logs = admin.wait_for("RAWLINE", "HOSTILE")
        admin.keys("Enter")  # the newest entry (the raw line) in full
        detail = admin.wait_for("esc closes")
        admin.keys("Escape")
        admin.wait_for("esc closes", absent=True)
        admin.keys("Up", "Enter")  # the JSON entry: its extra fields too
        json_detail = admin.wait_for("esc closes", "eve")
        admin.keys("Escape")
        admin.wait_for("esc closes", absent=True)  # else ESC + "2" reads as alt+2
        admin.keys("2")
        users = admin.wait_for("Mallory")
        admin.keys("5")
        admin.wait_for("Waiting")
        admin.keys("g")
        admin.wait_for("Active (1)", "fp-jane")
        admin.keys("Enter")  # the grant in full: its request's reason
        support = admin.wait_for("Urgent")
        sent = admin.raw()  # before quitting (leaving, the console itself ends the
        admin.keys("C-q")  # alternate screen)
        admin.wait_until(lambda _s: admin.dead(), "the console quitting")

        assert b"HOSTILE" in sent and b"Mallory" in sent  # the recording holds the screens
        for name, sequence in LEAKS.items():
            assert sequence.encode() not in sent, f"{name} reached the terminal"
        assert b"\x1b]52" not in sent, "an OSC 52 clipboard write reached the terminal"
        assert b"\x1b]0;" not in sent and b"\x1b]2;" not in sent, "a window title was set"
        assert b"\xc2\x9b" not in sent and b"\xe2\x80\xae" not in sent
        # tmux acted on nothing: no clipboard buffer, the window title unchanged.
        assert admin.tmux("list-buffers").strip() == ""
        assert "pwned" not in admin.tmux("display-message", "-p", "-t", "main",
                                         "#{pane_title}")

        # What the screen shows instead: the escapes as visible text, markup as typed.
        for screen in (logs, detail):  # the list cuts the message at the window's edge
            assert "\\x1b[5;31m" in screen and "\\x1b]52;c;" in screen
        assert "\\u202e" in detail and "\\x1b]0;pwned-title\\x07" in detail
        assert "\\x00" in detail and "\\x9b2J" in detail
        assert MARKUP in detail
        # The JSON entry's fields (pretty JSON): the user field with the clipboard write.
        assert '"user": "eve\\u001b]52;c;' in json_detail
        assert "till\\u001b[31m07" in json_detail
        assert DISPLAY_NAME[:36] in users, users  # (the panel shortens long names)
        assert "[blink]Urgent[/blink]" in support
