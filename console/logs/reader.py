"""Reading log files: plain or gzip'd, from a byte offset, in chunks of whole lines.

Lines are split on \\n only (a \\r before it is dropped) and decoded as UTF-8 with
replacement characters, so nothing is ever lost to a decoding error. Continuation lines
(indented lines, blank lines inside an entry, Python and Java stack traces) join the
entry before them; lines that start no entry and continue none are kept as entries of
level `unknown` and counted.

A chunk carries its entries as columns, ready for a bulk insert: everything that does not
need the database (times, levels, origins interned per file, provisional time-ordered
ids, volume rollups) is worked out here, which may be a second process (console.logs.worker).
"""

from __future__ import annotations

import gzip
import hashlib
import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import accumulate, islice, repeat
from operator import itemgetter, le, lshift
from pathlib import Path
from typing import BinaryIO

from console.display import zone
from console.logs.common import SEQ_BITS, Format, Level, from_us
from console.logs.formats import MULTILINE, Parser, make_parser

BLOCK = 4 << 20
CHUNK_LINES = 100_000  # lines per chunk: one transaction each; small enough to pipeline
SAMPLE_LINES = 64
BUCKET_US = 300_000_000  # the finest rollup bucket (5 minutes)
# From a parsed line: the columns stored as they are, and what names its origin.
_COLUMNS = [itemgetter(i) for i in (0, 1, 4, 5, 6)]  # ts, level, message, prefix, extra
_ORIGIN = itemgetter(7, 2, 3)  # (source, host, program), None where the line says nothing
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


OriginKey = tuple[str, str, str]  # (source, host, program)
_SEP = "\x00"


@dataclass
class Chunk:
    """Entries from whole lines [start_offset, end_offset) of a file, as columns (one
    item per entry)."""

    start_offset: int = 0
    end_offset: int = 0
    end_line: int = 0
    lines: int = 0
    unparsed: int = 0
    last_ts: int | None = None
    leading: list[str] = field(default_factory=list)  # continuation of an earlier entry
    ts: tuple[int, ...] = ()  # microseconds since the epoch, UTC
    levels: tuple[int, ...] = ()
    origins: list[int] = field(default_factory=list)  # indexes into origin_keys
    messages: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()
    extras: tuple[str | None, ...] | None = None  # None: no entry has extra fields
    line_nos: list[int] = field(default_factory=list)
    origin_keys: list[OriginKey] = field(default_factory=list)  # every one of the file so far
    # Ids as if nothing else were stored: time << SEQ_BITS, the next free one when entries
    # share a microsecond. `ordered`: strictly increasing (the time never went back).
    ids: list[int] = field(default_factory=list)
    ordered: bool = True
    rollups: Counter[tuple[int, int, str]] = field(default_factory=Counter)  # (5-minute
    # bucket, level, source) -> entries

    def __len__(self) -> int:
        return len(self.ts)

    def __getstate__(self) -> dict[str, object]:
        # Sent to the storing process: one joined string per text column pickles several
        # times faster than a tuple of small strings (unless a line holds the separator).
        state = dict(self.__dict__)
        for name in ("messages", "prefixes"):
            column = state[name]
            if column:
                joined = _SEP.join(column)  # type: ignore[arg-type]
                if joined.count(_SEP) == len(column) - 1:  # type: ignore[arg-type]
                    state[name] = joined
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        for name in ("messages", "prefixes"):
            if isinstance(state[name], str):
                state[name] = tuple(state[name].split(_SEP))  # type: ignore[union-attr]
        self.__dict__.update(state)

    @property
    def entries(self) -> list[tuple]:
        """(ts, level, host, program, message, prefix, extra, source, line) per entry."""
        keys = self.origin_keys
        extras = self.extras or (None,) * len(self.ts)
        return [(t, lv, keys[o][1], keys[o][2], m, p, x, keys[o][0], n) for t, lv, o, m, p, x, n
                in zip(self.ts, self.levels, self.origins, self.messages, self.prefixes,
                       extras, self.line_nos, strict=True)]


class Assembler:
    """Turns lines into chunk columns. Time missing from a line: the previous entry's,
    else `fallback_ts`. `source` and `host` stand in for what a line does not name;
    `last_id` is the id of the entry stored last from this file (ids continue above it)."""

    def __init__(self, parser: Parser, fmt: Format, fallback_ts: int, *, source: str = "",
                 host: str = "", last_id: int = 0) -> None:
        self.parse = parser.parse
        self.multiline = fmt in MULTILINE
        self.last_ts = fallback_ts
        self.source, self.host = source[:64], (host or parser.host)[:255]
        self.last_id = last_id
        self.origin_index: dict[tuple[str | None, str | None, str], int] = {}
        self.origin_keys: list[OriginKey] = []

    def feed(self, lines: list[str], first_no: int, chunk: Chunk) -> None:
        parse, multiline, leading = self.parse, self.multiline, chunk.leading
        found: list[tuple] = []
        numbers: list[int] = []
        add, number = found.append, numbers.append
        cont: list[str] = []  # continuation lines of found[-1]
        for no, line in enumerate(lines, first_no):
            p = parse(line)
            if p is not None:
                if cont:
                    _extend(found, cont)
                    cont = []
                add(p)
                number(no)
                continue
            if multiline and (not line or line[0] in " \t" or _CONT.match(line)
                              or ((cont or (not found and leading)) and _EXC.match(line))):
                if found:
                    cont.append(line)
                elif line.strip():
                    leading.append(line)
                continue
            if not line.strip():
                continue
            chunk.unparsed += 1
            if cont:
                _extend(found, cont)
                cont = []
            add((None, Level.UNKNOWN, None, "", line, "", None, None))
            number(no)
        if cont:
            _extend(found, cont)
        # Continuation lines before the first entry of a chunk (chunk.leading) belong to
        # the last entry stored from this file: the caller appends them to it.
        if found:
            self._columns(found, numbers, chunk)
        chunk.last_ts = self.last_ts

    def _columns(self, found: list[tuple], numbers: list[int], chunk: Chunk) -> None:
        ts, levels, messages, prefixes, extras = (tuple(map(get, found)) for get in _COLUMNS)
        if None in ts:  # lines without a time: the previous entry's
            filled, last = [], self.last_ts
            for t in ts:
                if t is None:
                    t = last
                last = t
                filled.append(t)
            ts = tuple(filled)
        self.last_ts = ts[-1]
        keys = list(map(_ORIGIN, found))
        origins = list(map(self.origin_index.get, keys))
        if None in origins:  # some seen first in this chunk
            for key in dict.fromkeys(keys):
                self._origin(key)
            origins = list(map(self.origin_index.__getitem__, keys))
        chunk.ts, chunk.levels, chunk.origins = ts, levels, origins  # type: ignore[assignment]
        chunk.messages, chunk.prefixes, chunk.line_nos = messages, prefixes, numbers
        chunk.extras = None if extras.count(None) == len(extras) else extras
        chunk.origin_keys = list(self.origin_keys)
        chunk.ids, chunk.ordered = self._ids(ts)
        chunk.rollups = self._rollups(ts, levels, origins, in_order=chunk.ordered)

    def _rollups(self, ts: tuple[int, ...], levels: tuple[int, ...], origins: list[int], *,
                 in_order: bool) -> Counter[tuple[int, int, str]]:
        """Entries per (5-minute bucket, level, source). Times in order: counted per
        bucket from slices found by bisection, not entry by entry."""
        keys = self.origin_keys
        sources = {keys[o][0] for o in set(origins)}
        counts: Counter[tuple[int, int, str]] = Counter()
        # Sparse times (few entries per bucket: a quiet log over days) are counted entry by
        # entry in C; a slice per bucket pays off when buckets hold many entries.
        sparse = (ts[-1] - ts[0]) // BUCKET_US + 1 > len(ts) // 16 if in_order else True
        if sparse:
            by_source = [k[0] for k in keys]
            counts.update(zip([t // BUCKET_US for t in ts], levels,
                              map(by_source.__getitem__, origins), strict=True))
            return counts
        start, n = 0, len(ts)
        only = sources.pop() if len(sources) == 1 else None
        while start < n:
            bucket = ts[start] // BUCKET_US
            end = bisect_left(ts, (bucket + 1) * BUCKET_US, start)
            if only is not None:
                for level, count in Counter(levels[start:end]).items():
                    counts[(bucket, level, only)] += count
            else:
                for (level, o), count in Counter(zip(levels[start:end], origins[start:end],
                                                     strict=True)).items():
                    counts[(bucket, level, keys[o][0])] += count
            start = end
        return counts

    def _origin(self, raw: tuple[str | None, str | None, str]) -> None:
        if raw not in self.origin_index:
            source, host, program = raw
            self.origin_index[raw] = len(self.origin_keys)
            self.origin_keys.append(((source or self.source)[:64], (host or self.host)[:255],
                                     program[:128]))

    def _ids(self, ts: tuple[int, ...]) -> tuple[list[int], bool]:
        """Ids continuing above `last_id`: time << SEQ_BITS, or the one after the previous
        id when entries share a microsecond. ([], False) when the time goes back: the
        store allocates those."""
        if ts[0] < self.last_id >> SEQ_BITS or not all(map(le, ts, islice(ts, 1, None))):
            self.last_id = 0
            return [], False
        ids = list(accumulate(map(lshift, ts, repeat(SEQ_BITS)), _next_id,
                              initial=self.last_id))
        del ids[0]
        self.last_id = ids[-1]
        return ids, True


def _next_id(previous: int, candidate: int) -> int:
    return candidate if candidate > previous else previous + 1


def _extend(found: list[tuple], cont: list[str]) -> None:
    """Join continuation lines (without trailing blank ones) to the last entry."""
    while cont and not cont[-1].strip():
        cont.pop()
    if cont:
        p = found[-1]
        found[-1] = (*p[:4], p[4] + "\n" + "\n".join(cont), *p[5:])


def read_chunks(fh: BinaryIO, assembler: Assembler, *, offset: int, line_no: int,
                final: bool, max_lines: int = CHUNK_LINES) -> Iterator[Chunk]:
    """Chunks of about `max_lines` lines from `offset` (already positioned).
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
        if "\r" in text:  # a \r before a \n is dropped
            text = text.replace("\r\n", "\n")
        if text.endswith("\n"):
            text = text[:-1]
        elif text.endswith("\r"):  # the unterminated last line of a complete file
            text = text[:-1]
        lines = text.split("\n")
        chunk = Chunk(start_offset=offset, end_offset=offset + cut,
                      end_line=line_no + len(lines), lines=len(lines))
        assembler.feed(lines, line_no + 1, chunk)
        offset += cut
        line_no += len(lines)
        yield chunk


@dataclass(frozen=True)
class ParseJob:
    """What to parse: a file from an offset, and what its lines do not say themselves."""

    path: str
    fmt: str
    zone_name: str
    reference_us: int  # "now" for RFC 3164's missing year (the file's mtime, not later)
    fallback_us: int  # the time of entries before the first line that has one
    host: str
    source: str
    offset: int
    line_no: int
    final: bool
    last_id: int = 0  # id of the entry stored last from this file
    max_lines: int = CHUNK_LINES


def parse_file(job: ParseJob) -> Iterator[Chunk]:
    fmt = Format(job.fmt)
    parser = make_parser(fmt, zone(job.zone_name), from_us(job.reference_us), job.host)
    assembler = Assembler(parser, fmt, job.fallback_us, source=job.source, host=job.host,
                          last_id=job.last_id)
    with open_binary(Path(job.path)) as fh:
        fh.seek(job.offset)
        yield from read_chunks(fh, assembler, offset=job.offset, line_no=job.line_no,
                               final=job.final, max_lines=job.max_lines)
