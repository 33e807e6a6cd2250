"""Reading log files: plain or gzip'd, from a byte offset, in chunks of whole lines.

Lines are split on \\n only (a \\r before it is dropped) and decoded as UTF-8 with
replacement characters, so nothing is ever lost to a decoding error. Continuation lines
(indented lines, blank lines inside an entry, Python and Java stack traces) join the
entry before them; lines that start no entry and continue none are kept as entries of
level `unknown` and counted.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from console.display import zone
from console.logs.common import Format, Level, from_us
from console.logs.formats import MULTILINE, Parser, make_parser

BLOCK = 4 << 20
SAMPLE_LINES = 64
_CONT = re.compile(r"Traceback \(most recent call last\)|Caused by:|During handling of the "
                   r"above|The above exception|\.\.\. \d+ (?:more|common frames)")
_EXC = re.compile(r"[A-Za-z_][\w.$]*(?:Error|Exception|Exit|Interrupt|Warning|Failure|Fault)"
                  r"\b")


def is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def open_binary(path: Path) -> BinaryIO:
    return gzip.open(path, "rb") if is_gzip(path) else open(path, "rb")  # type: ignore[return-value]


def first_line(path: Path, *, complete_only: bool = True) -> bytes | None:
    """The first line (without \\n); None when the file is empty or (with
    `complete_only`) its first line is still being written."""
    with open_binary(path) as fh:
        data = fh.read(65536)
        while b"\n" not in data:
            more = fh.read(65536)
            if not more:
                break
            data += more
    if not data:
        return None
    end = data.find(b"\n")
    if end < 0:
        return None if complete_only else data
    return data[:end]


def fingerprint(line: bytes) -> str:
    return hashlib.sha256(line).hexdigest()


def sample(path: Path, n: int = SAMPLE_LINES) -> list[str]:
    lines: list[str] = []
    with open_binary(path) as fh:
        for raw in fh:
            text = raw.decode("utf-8", "replace").rstrip("\r\n")
            if text.strip():
                lines.append(text)
                if len(lines) >= n:
                    break
    return lines


def detect(lines: list[str], parsers: dict[Format, Parser]) -> Format:
    """The format that parses most of `lines` (with a time); generic when none does."""
    best, best_score = Format.GENERIC, 0
    for fmt in (Format.JSONL, Format.SYSLOG, Format.APACHE_ACCESS, Format.APACHE_ERROR,
                Format.PYTHON):
        parser = parsers[fmt]
        score = 0
        for line in lines:
            parsed = parser.parse(line)
            if parsed is not None and (parsed[0] is not None or fmt == Format.PYTHON):
                score += 1
        if score > best_score:
            best, best_score = fmt, score
    if best_score * 4 < len(lines):
        return Format.GENERIC
    return best


@dataclass
class Chunk:
    """Entries from whole lines [start_offset, end_offset) of a file."""

    entries: list[tuple] = field(default_factory=list)  # see Assembler.emit
    leading: list[str] = field(default_factory=list)  # continuation of an earlier entry
    start_offset: int = 0
    end_offset: int = 0
    end_line: int = 0
    lines: int = 0
    unparsed: int = 0
    last_ts: int | None = None


class Assembler:
    """Turns lines into entries: (ts_us, level, host, program, message, prefix, extra,
    source, line_no). Time missing from a line: the previous entry's, else `fallback_ts`."""

    def __init__(self, parser: Parser, fmt: Format, fallback_ts: int) -> None:
        self.parse = parser.parse
        self.multiline = fmt in MULTILINE
        self.last_ts = fallback_ts

    def feed(self, lines: list[str], first_no: int, chunk: Chunk) -> None:
        parse, multiline = self.parse, self.multiline
        out = chunk.entries
        append = out.append
        pending: tuple | None = None
        cont: list[str] = []
        last_ts = self.last_ts
        no = first_no - 1
        for line in lines:
            no += 1
            if line.endswith("\r"):
                line = line[:-1]
            p = parse(line)
            if p is None:
                if multiline and (not line or line[0] in " \t" or _CONT.match(line)
                                  or ((cont or (pending is None and chunk.leading))
                                      and _EXC.match(line))):
                    if pending is not None:
                        cont.append(line)
                    elif line.strip():
                        chunk.leading.append(line)
                    continue
                if not line.strip():
                    continue
                chunk.unparsed += 1
                if pending is not None:
                    append(_finish(pending, cont) if cont else pending)
                    cont = []
                pending = (last_ts, Level.UNKNOWN, None, "", line, "", None, None, no)
                continue
            if pending is not None:
                append(_finish(pending, cont) if cont else pending)
                cont = []
            ts = p[0]
            if ts is None:
                ts = last_ts
            else:
                last_ts = ts
            pending = (ts, p[1], p[2], p[3], p[4], p[5], p[6], p[7], no)
        if pending is not None:
            append(_finish(pending, cont) if cont else pending)
        # Continuation lines before the first entry of a chunk (chunk.leading) belong to
        # the last entry stored from this file: the caller appends them to it.
        self.last_ts = last_ts
        chunk.last_ts = last_ts


def _finish(pending: tuple, cont: list[str]) -> tuple:
    while cont and not cont[-1].strip():
        cont.pop()
    if not cont:
        return pending
    return (*pending[:4], pending[4] + "\n" + "\n".join(cont), *pending[5:])


def read_chunks(fh: BinaryIO, assembler: Assembler, *, offset: int, line_no: int,
                final: bool, max_lines: int = 200_000) -> Iterator[Chunk]:
    """Chunks of at most about `max_lines` lines from `offset` (already positioned).
    The last line is taken without its \\n only when `final` (the file is complete)."""
    buffer = b""
    eof = False
    while not eof:
        data = fh.read(BLOCK)
        if not data:
            eof = True
        buffer += data
        # Gather about max_lines lines before parsing, without splitting bytes twice.
        if not eof and buffer.count(b"\n") < max_lines and len(buffer) < 64 * BLOCK:
            continue
        cut = buffer.rfind(b"\n") + 1
        if eof and final and cut < len(buffer):
            cut = len(buffer)
        if cut == 0:
            if eof:
                break
            continue
        block, buffer = buffer[:cut], buffer[cut:]
        text = block.decode("utf-8", "replace")
        if text.endswith("\n"):
            text = text[:-1]
        lines = text.split("\n")
        chunk = Chunk(start_offset=offset, end_offset=offset + cut,
                      end_line=line_no + len(lines), lines=len(lines))
        assembler.feed(lines, line_no + 1, chunk)
        offset += cut
        line_no += len(lines)
        yield chunk


def parse_file(path: str, fmt: str, zone_name: str, reference_us: int, mtime_us: int, host: str,
           offset: int, line_no: int, final: bool) -> Iterator[Chunk]:
    parser = make_parser(Format(fmt), zone(zone_name), from_us(reference_us), host)
    assembler = Assembler(parser, Format(fmt), mtime_us)
    with open_binary(Path(path)) as fh:
        fh.seek(offset)
        yield from read_chunks(fh, assembler, offset=offset, line_no=line_no, final=final)


def spare_core() -> bool:
    """A second process only pays when a core is idle: pickling the chunks costs CPU."""
    cores = os.cpu_count() or 1
    return cores > 1 and os.getloadavg()[0] <= cores - 1


def can_fork() -> bool:
    import multiprocessing
    import threading

    # Forking a process that runs other threads (the TUI) is not safe.
    return "fork" in multiprocessing.get_all_start_methods() and \
        threading.active_count() == 1


def _child(queue, args: tuple) -> None:  # runs in the forked parser process
    try:
        for chunk in parse_file(*args):
            queue.put(chunk)
        queue.put(None)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises
        queue.put(RuntimeError(f"parsing {args[0]} failed: {exc!r}"))


def parse_file_in_child(args: tuple) -> Iterator[Chunk]:
    """Parse in a forked process while this one stores: the two halves of an ingest on
    two cores. Chunks come back through a queue of two (memory stays bounded)."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    queue = context.Queue(maxsize=2)
    child = context.Process(target=_child, args=(queue, args), daemon=True)
    child.start()
    try:
        while True:
            item = queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        if child.is_alive():
            child.terminate()
        child.join(5)
        queue.close()
