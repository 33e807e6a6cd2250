"""Noticing that the terminal went away (SSH dropped, pty closed, stdin at EOF).

Textual 8.2.8 can spin at 100 % CPU when stdin reaches EOF, and a hung-up pty makes every
terminal write fail, so the console does not try to shut the UI down politely: it records
the logout in a fresh database session and leaves with os._exit. Open transactions in other
threads are rolled back by the database when their connections close.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import threading
from collections.abc import Callable

POLL_SECONDS = 0.2


class TerminalWatch:
    """Calls `on_lost(reason)` once, from a background thread, then exits the process."""

    def __init__(self, on_lost: Callable[[str], None], *, fd: int | None = None,
                 exit_code: int = 129) -> None:
        self._on_lost = on_lost
        self._fd = sys.__stdin__.fileno() if fd is None and sys.__stdin__ else (fd or 0)
        self._exit_code = exit_code
        self._reason: str | None = None
        self._event = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="terminal-watch", daemon=True)

    def start(self) -> None:
        for signum, name in ((signal.SIGHUP, "SIGHUP"), (signal.SIGTERM, "SIGTERM")):
            signal.signal(signum, lambda _s, _f, name=name: self.trigger(f"terminal lost ({name})"))
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()

    def trigger(self, reason: str) -> None:
        if self._reason is None:
            self._reason = reason
        self._event.set()

    def _hung_up(self) -> str | None:
        poller = select.poll()
        poller.register(self._fd, select.POLLHUP | select.POLLERR | select.POLLNVAL)
        for _fd, mask in poller.poll(0):
            if mask & (select.POLLHUP | select.POLLERR | select.POLLNVAL):
                return "terminal lost (hang-up on stdin)"
        return None

    def _run(self) -> None:
        while not self._stopped.is_set():
            if self._event.wait(POLL_SECONDS):
                break
            reason = self._hung_up()
            if reason:
                self.trigger(reason)
                break
        if self._stopped.is_set() and not self._event.is_set():
            return
        # A second guard: if cleanup itself hangs (a locked database), leave anyway.
        threading.Timer(1.5, lambda: os._exit(self._exit_code)).start()
        try:
            self._on_lost(self._reason or "terminal lost")
        finally:
            os._exit(self._exit_code)
