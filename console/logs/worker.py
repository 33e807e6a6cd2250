"""A second process that parses while this one stores: the two halves of an ingest on two
cores. It reads the file and sends pickled chunks (console.logs.reader.Chunk) through a
pipe, then None (or the error that stopped it); the pipe's small buffer keeps it at most
about two chunks ahead, so memory stays bounded.

A process without other threads forks (instant, nothing to import again); one with
threads (the TUI, the scheduler) must not, and starts `python -m console.logs.worker`,
which reads its ParseJob from stdin. Either way the worker dies with a broken pipe when
the ingesting process goes away.
"""

from __future__ import annotations

import gc
import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from console.logs.reader import Chunk, ParseJob, parse_file


def _serve(job: ParseJob, out: BinaryIO) -> None:
    """The worker's side: chunks, then None; an error is sent as its text.

    The cyclic garbage collector is off: parsing makes hundreds of thousands of tuples and
    no cycles, and its passes over them cost about 15 % of the parse (measured). The
    process ends with the file, so nothing accumulates."""
    gc.disable()
    try:
        for chunk in parse_file(job):
            pickle.dump(chunk, out, protocol=pickle.HIGHEST_PROTOCOL)
            out.flush()
        pickle.dump(None, out)
    except BrokenPipeError:
        return
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises
        pickle.dump(f"parsing {job.path} failed: {exc!r}", out)
    out.flush()


class _Forked:
    def __init__(self, job: ParseJob) -> None:
        read, write = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the child: parse, send, leave without running any cleanup
            code = 0
            try:
                os.close(read)
                with os.fdopen(write, "wb", buffering=1 << 20) as out:
                    _serve(job, out)
            except BaseException:  # noqa: BLE001
                code = 1
            finally:
                os._exit(code)
        os.close(write)
        self.stream: BinaryIO = os.fdopen(read, "rb", buffering=1 << 20)

    def stop(self) -> None:
        self.stream.close()  # a worker still writing gets a broken pipe and leaves
        try:
            os.kill(self.pid, 9)
        except ProcessLookupError:
            pass
        os.waitpid(self.pid, 0)


class _Spawned:
    def __init__(self, job: ParseJob) -> None:
        root = str(Path(__file__).resolve().parents[2])  # where `console` is imported from
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        self.proc = subprocess.Popen([sys.executable, "-m", "console.logs.worker"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                                     bufsize=1 << 20)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        pickle.dump(job, self.proc.stdin)
        self.proc.stdin.close()
        self.stream = self.proc.stdout

    def stop(self) -> None:
        self.stream.close()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def can_fork() -> bool:
    """Forking a process that runs other threads (the TUI, the scheduler) is not safe."""
    return threading.active_count() == 1


def parse_in_worker(job: ParseJob) -> Iterator[Chunk]:
    """The chunks of `job`, parsed by a second process while the caller stores them."""
    worker = _Forked(job) if can_fork() else _Spawned(job)
    try:
        while True:
            try:
                item = pickle.load(worker.stream)
            except EOFError:
                raise RuntimeError(f"parsing {job.path}: the parsing process ended "
                                   "without finishing") from None
            if item is None:
                return
            if isinstance(item, str):
                raise RuntimeError(item)
            yield item
    finally:
        worker.stop()


if __name__ == "__main__":
    _serve(pickle.load(sys.stdin.buffer), sys.stdout.buffer)
