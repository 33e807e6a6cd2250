"""A terminal the way a person has one: a command in its own tmux server (private socket),
read with `capture-pane`, typed into with `send-keys`, and every byte the command writes to
its terminal recorded with `pipe-pane`."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
from pathlib import Path

from tests.sshdhelp import unavailable

TMUX = shutil.which("tmux")


def require_tmux() -> str:
    if not TMUX:
        unavailable("tmux is not installed")
    return TMUX or "tmux"


class Tmux:
    """One tmux server with one window running `argv` at `cols` x `rows`."""

    def __init__(self, name: str, argv: list[str], *, cols: int, rows: int,
                 env: dict[str, str], record: Path | None = None) -> None:
        self.binary = require_tmux()
        self.socket = f"flowpro-{name}-{os.getpid()}"
        self.cols, self.rows = cols, rows
        self.record = record
        command = " ".join(shlex.quote(a) for a in
                           ["env", "-i", *(f"{k}={v}" for k, v in env.items()), *argv])
        # The shell writes the program's exit status to a file: tmux (3.3) sometimes marks
        # a pane dead without ever recording its status.
        self.status_file = Path(f"/tmp/{self.socket}.status")
        self.status_file.unlink(missing_ok=True)
        # -f /dev/null: no user tmux.conf; the window stays after the command exits so
        # its last screen can be read.
        self.tmux("-f", "/dev/null", "new-session", "-d", "-s", "main", "-x", str(cols),
                  "-y", str(rows), "sh", "-c",
                  f"sleep 0.3; {command}; echo $? > {shlex.quote(str(self.status_file))}")
        self.tmux("set-option", "-t", "main", "remain-on-exit", "on")
        self.tmux("set-option", "-t", "main", "status", "off")
        if record is not None:
            # -o: open the pipe; everything the pane's program writes, byte for byte.
            self.tmux("pipe-pane", "-o", "-t", "main", f"cat >> {shlex.quote(str(record))}")

    def tmux(self, *args: str) -> str:
        done = subprocess.run([self.binary, "-L", self.socket, *args], capture_output=True,
                              text=True, timeout=30)
        if done.returncode != 0:
            raise AssertionError(f"tmux {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    # -- reading ------------------------------------------------------------------------

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "main")

    def lines(self) -> list[str]:
        return self.screen().split("\n")[: self.rows]

    def raw(self) -> bytes:
        return self.record.read_bytes() if self.record and self.record.exists() else b""

    def dead(self) -> bool:
        return self.tmux("display-message", "-p", "-t", "main", "#{pane_dead}").strip() == "1"

    def exit_status(self) -> int | None:
        """The program's exit status once the pane is dead (128 + n for signal n)."""
        if not self.dead():
            return None
        end = time.monotonic() + 5
        while not self.status_file.exists() or not self.status_file.read_text().strip():
            if time.monotonic() > end:
                raise AssertionError("the pane died without its shell writing the status")
            time.sleep(0.05)
        return int(self.status_file.read_text())

    def pane_pid(self) -> int:
        """The pane's shell."""
        return int(self.tmux("display-message", "-p", "-t", "main", "#{pane_pid}").strip())

    def program_pid(self) -> int:
        """The program the shell runs (`env` execs it): the shell's child."""
        shell = str(self.pane_pid())
        end = time.monotonic() + 5
        while time.monotonic() < end:
            for stat in Path("/proc").glob("[0-9]*/stat"):
                try:
                    head, rest = stat.read_text().rsplit(")", 1)
                except (OSError, ValueError):
                    continue
                # The shell's first 0.3 s are a `sleep` (see __init__): not the program.
                if rest.split()[1] == shell and not head.endswith("(sleep"):
                    return int(stat.parent.name)
            time.sleep(0.05)
        raise AssertionError(f"the pane's shell {shell} runs no program")

    def wait_for(self, *needles: str, timeout: float = 30, absent: bool = False) -> str:
        """Until every needle is on the screen (or, with absent=True, none is)."""
        end = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < end:
            screen = self.screen()
            found = [n in screen for n in needles]
            if (not any(found)) if absent else all(found):
                return screen
            time.sleep(0.1)
        what = "still there" if absent else "never appeared"
        raise AssertionError(f"{needles!r} {what}; screen:\n{screen}")

    def wait_until(self, predicate, what: str, timeout: float = 30) -> str:
        end = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < end:
            screen = self.screen()
            if predicate(screen):
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{what} never happened; screen:\n{screen}")

    # -- typing -------------------------------------------------------------------------

    def keys(self, *keys: str, pause: float = 0.15) -> None:
        """tmux key names (Enter, Escape, C-p, Tab, a ...), one at a time."""
        for key in keys:
            self.tmux("send-keys", "-t", "main", key)
            time.sleep(pause)

    def type(self, text: str) -> None:
        """Literal text."""
        self.tmux("send-keys", "-t", "main", "-l", text)
        time.sleep(0.15)

    def close(self) -> None:
        subprocess.run([self.binary, "-L", self.socket, "kill-server"], capture_output=True)
        self.status_file.unlink(missing_ok=True)
