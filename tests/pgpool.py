"""PostgreSQL test databases made ahead of time and dropped behind the tests.

A clone of the template costs about 0.4 s of the server's time (it copies the catalogs)
and a drop about 0.05 s; most of it is spent waiting on the disk. A thread per test
process keeps a few clones ready and another drops the used ones, so a test only waits
when it outruns them.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable

from console.jobs.leases import process_alive, this_host

# Databases of a run are named flowpro_t_<pid>_<n>: a later run drops those whose process
# is gone (a worker killed mid-run cannot drop its own).
PREFIX = "flowpro_t_"
READY = 2


class ClonePool:
    """Clones of `template` made by `execute(sql)` in the background."""

    def __init__(self, template: str, execute: Callable[[str], None]) -> None:
        self.template = template
        self.execute = execute
        self.ready: queue.Queue[str | BaseException] = queue.Queue(maxsize=READY)
        self.used: queue.Queue[str | None] = queue.Queue()
        self.stopping = threading.Event()
        self.count = 0
        self.threads = [threading.Thread(target=self._make, daemon=True, name="pg-clones"),
                        threading.Thread(target=self._drop, daemon=True, name="pg-drops")]
        for thread in self.threads:
            thread.start()

    def take(self) -> str:
        """The name of a fresh clone (waits for one; raises what making it raised)."""
        got = self.ready.get(timeout=120)
        if isinstance(got, BaseException):
            raise got
        return got

    def give_back(self, name: str) -> None:
        """Drop `name` in the background."""
        self.used.put(name)

    def close(self) -> None:
        """Stop making clones; drop the unused ones and wait for every drop."""
        self.stopping.set()
        self.threads[0].join(timeout=120)
        while True:
            try:
                got = self.ready.get_nowait()
            except queue.Empty:
                break
            if isinstance(got, str):
                self.used.put(got)
        self.used.put(None)
        self.threads[1].join(timeout=120)

    def _make(self) -> None:
        while not self.stopping.is_set():
            self.count += 1
            name = f"{PREFIX}{os.getpid()}_{self.count}"
            try:
                self.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}" '
                             "STRATEGY WAL_LOG")
                got: str | BaseException = name
            except BaseException as exc:  # noqa: BLE001 - handed to the test that waits
                got = exc
            while True:
                try:
                    self.ready.put(got, timeout=0.2)
                    break
                except queue.Full:
                    if self.stopping.is_set():
                        if isinstance(got, str):
                            self.used.put(got)
                        return

    def _drop(self) -> None:
        while (name := self.used.get()) is not None:
            self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def orphans(names: list[str]) -> list[str]:
    """Test databases left by test processes that no longer run."""
    found = []
    for name in names:
        pid = name.removeprefix(PREFIX).split("_", 1)[0]
        if name.startswith(PREFIX) and pid.isdigit() and not process_alive(this_host(), int(pid)):
            found.append(name)
    return found
