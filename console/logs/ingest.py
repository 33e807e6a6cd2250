"""Ingest: read log files into the store, incrementally and exactly once.

A file is known by the SHA-256 of its first line (console.models.logs.LogFile): a file
renamed by rotation (syslog -> syslog.1), compressed (syslog.2.gz) or copied away before a
truncation (copytruncate) resumes at the byte where reading stopped; the new file at the
old path starts from zero. Each chunk of entries commits with the file's new offset in one
transaction, guarded by the offset it started from, so two ingesters never store a line
twice and a crash loses nothing.
"""

from __future__ import annotations

import os
import re
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text
from sqlmodel import Session, select

from console import audit, clock
from console.contract import service
from console.db import writing
from console.display import zone
from console.errors import Conflict, ValidationError
from console.logs import reader, store
from console.logs.common import Format, from_us, ts_us
from console.logs.formats import make_parser
from console.logs.load import ChunkLoader, with_orphans
from console.logs.reader import (
    Chunk,
    ParseJob,
    detect,
    fingerprint,
    first_line,
    is_gzip,
    parse_file,
    sample,
)
from console.logs.worker import parse_in_worker
from console.permissions import Permission
from console.principal import Principal
from models.logs import LogFile

PARALLEL_BYTES = 16 << 20  # files with this much to read are parsed in a second process
SETTLE_SECONDS = 10  # an unterminated last line is taken once the file is this quiet
_ROTATED = re.compile(r"(\.\d+)?(\.gz)?$")
_GENERIC_STEMS = {"access", "error", "access_log", "error_log", "ssl_access", "ssl_error",
                  "other_vhosts_access", "log", "current", "output"}

Progress = Callable[[int, str], None]  # (bytes read since the last call, path)


@dataclass
class FileResult:
    path: str
    format: str = ""
    source: str = ""
    lines: int = 0
    entries: int = 0
    unparsed: int = 0
    appended: int = 0  # continuation lines added to an entry stored earlier
    from_offset: int = 0
    to_offset: int = 0
    note: str = ""  # new | resumed | rotated from ... | truncated | unchanged | skipped: why
    complete: bool = True  # False: stopped early (time budget or stop request); call again


@dataclass
class IngestReport:
    files: list[FileResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def lines(self) -> int:
        return sum(f.lines for f in self.files)

    @property
    def entries(self) -> int:
        return sum(f.entries for f in self.files)

    @property
    def unparsed(self) -> int:
        return sum(f.unparsed for f in self.files)

    @property
    def lines_per_second(self) -> float:
        return self.lines / self.seconds if self.seconds > 0 else 0.0


def _spare_core() -> bool:
    """Whether to parse in a second process: when there is a second core. Even when other
    work keeps both busy, two processes get a larger share of them than one."""
    return (os.cpu_count() or 1) > 1


def derive_source(path: Path) -> str:
    """A source name from a file name: /var/log/nginx/access.log.2.gz -> nginx,
    /var/log/payroll/app.log -> app, /var/log/syslog.1 -> syslog."""
    name = _ROTATED.sub("", path.name)
    stem = name[:-4] if name.endswith(".log") else name.rsplit(".", 1)[0] if "." in name \
        else name
    if stem.lower() in _GENERIC_STEMS and path.parent.name not in ("", "/", "log", "logs"):
        stem = path.parent.name
    return (stem or "logs")[:64]


class FileIngest:
    """One file in one run: where to start, how to parse, how to store each chunk."""

    def __init__(self, db: Session, actor: Principal, path: Path, fmt: Format,
                 source: str | None, zone_name: str, final: bool | None = None) -> None:
        self.db, self.actor, self.path = db, actor, path
        self.result = FileResult(str(path))
        self.requested = fmt
        self.source = source
        self.zone_name = zone_name
        self.final = final
        self.state: LogFile | None = None
        self.loader: ChunkLoader | None = None
        self.host = socket.gethostname()

    def prepare(self) -> bool:
        """Find the file's state; False when there is nothing to read now."""
        path, result = self.path, self.result
        try:
            st = path.stat()
        except FileNotFoundError:
            raise ValidationError("path", f"{path} does not exist") from None
        if not path.is_file():
            raise ValidationError("path", f"{path} is not a regular file")
        if not os.access(path, os.R_OK):
            raise ValidationError("path", f"{path} is not readable by this user")
        self.gz = is_gzip(path)
        if self.final is None:
            self.final = self.gz or time.time() - st.st_mtime >= SETTLE_SECONDS
        line = first_line(path, complete_only=not self.final)
        if line is None:
            result.note = "skipped: empty, or its first line is not complete yet"
            return False
        fp = fingerprint(line)
        self.db.rollback()
        state = self.db.exec(select(LogFile).where(LogFile.fingerprint == fp)).first()
        previous = self.db.exec(select(LogFile).where(LogFile.path == str(path))
                                .order_by(LogFile.last_read_at.desc())).first()  # type: ignore[attr-defined]
        mtime_us = int(st.st_mtime * 1_000_000)
        self.mtime_us = mtime_us
        if state is None:
            fmt = self._format()
            state = LogFile(fingerprint=fp, path=str(path), device=st.st_dev, inode=st.st_ino,
                            offset=0, lines=0, format=fmt.value,
                            source=self.source or derive_source(path),
                            first_seen_at=clock.now(), last_read_at=clock.now())
            if previous is not None and previous.fingerprint != fp:
                result.note = ("truncated: reading the new content from the start"
                               if previous.inode == st.st_ino and not self.gz
                               else f"rotated: {path} is a new file")
            else:
                result.note = "new"
        else:
            if state.path != str(path):
                result.note = f"rotated: continues {state.path} at byte {state.offset}"
            elif not self.gz and st.st_size < state.offset:
                result.note = "truncated: same first line, shorter; reading from the start"
                state.offset, state.lines = 0, 0
            else:
                result.note = "resumed"
            if self.source and self.source != state.source:
                state.source = self.source
        self.state = state
        self.fmt = Format(state.format)
        result.format, result.source = state.format, state.source
        result.from_offset = result.to_offset = state.offset
        return True

    def _format(self) -> Format:
        if self.requested != Format.AUTO:
            return self.requested
        lines = sample(self.path)
        parsers = {f: make_parser(f, zone(self.zone_name), from_us(self.mtime_us), self.host)
                   for f in Format if f != Format.AUTO}
        return detect(lines, parsers)

    def chunks(self) -> Iterator[Chunk]:
        state = self.state
        assert state is not None
        job = ParseJob(path=str(self.path.resolve()), fmt=self.fmt.value,
                       zone_name=self.zone_name,
                       reference_us=min(self.mtime_us, ts_us(clock.now())),
                       fallback_us=self.mtime_us, host=self.host, source=state.source,
                       offset=state.offset, line_no=state.lines, final=bool(self.final),
                       last_id=state.last_entry_id or 0, max_lines=reader.CHUNK_LINES)
        remaining = self.path.stat().st_size - (0 if self.gz else state.offset)
        if remaining >= PARALLEL_BYTES and _spare_core():
            yield from parse_in_worker(job)
        else:
            yield from parse_file(job)

    def store_chunk(self, chunk: Chunk, *, audit_now: bool,
                    follow: FollowAudit | None = None) -> None:
        db, state, result = self.db, self.state, self.result
        assert state is not None
        start_offset = state.offset
        with writing(db):
            if state.id is not None:
                current = db.execute(text("SELECT \"offset\" FROM log_files WHERE id = :i"),
                                     {"i": state.id}).scalar()
                if current != start_offset:
                    raise Conflict(f"{self.path} is being ingested by another process "
                                   "(its offset moved); try again when it is done")
            else:
                db.add(state)
                db.flush()
            leading = chunk.leading
            if leading and state.last_entry_id is not None and \
                    store.append_message(db, state.last_entry_id, "\n" + "\n".join(leading)):
                result.appended += len(leading)
            elif leading:  # nothing to continue: keep them as entries of their own
                chunk = with_orphans(chunk, state.source, self.host)
            if self.loader is None:
                self.loader = ChunkLoader(db, state.id)
            last = self.loader.store(chunk)
            if last is not None:
                state.last_entry_id = last
            entries = len(chunk)
            state.offset, state.lines = chunk.end_offset, chunk.end_line
            state.entries += entries
            state.unparsed += chunk.unparsed
            state.path = str(self.path)
            state.last_read_at = clock.now()
            db.add(state)
            result.lines += chunk.lines
            result.entries += entries
            result.unparsed += chunk.unparsed
            result.to_offset = chunk.end_offset
            details = {"format": result.format, "source": result.source,
                       "from_offset": result.from_offset, "to_offset": result.to_offset,
                       "lines": result.lines, "entries": result.entries,
                       "unparsed": result.unparsed, "note": result.note}
            if follow is not None:
                details = follow.add(str(self.path), chunk, entries, details)
            if audit_now:
                if follow is not None:
                    follow.pending.pop(str(self.path), None)
                audit.record(db, self.actor, "logs.ingest", target=str(self.path)[:255],
                             details=details)


@dataclass
class FollowAudit:
    """Audit bookkeeping for `logs ingest --follow`: one event per file per `every`
    seconds, each covering every chunk stored since the previous event."""

    every: float = 300.0
    last: dict[str, float] = field(default_factory=dict)
    pending: dict[str, dict[str, object]] = field(default_factory=dict)

    def add(self, path: str, chunk: Chunk, entries: int,
            details: dict[str, object]) -> dict[str, object]:
        """Count `chunk` in; returns the details an event written now would carry."""
        pending = self.pending.setdefault(path, {
            **details, "from_offset": chunk.start_offset, "lines": 0, "entries": 0,
            "unparsed": 0})
        pending["to_offset"] = chunk.end_offset
        for key, n in (("lines", chunk.lines), ("entries", entries),
                       ("unparsed", chunk.unparsed)):
            pending[key] = int(pending[key]) + n  # type: ignore[call-overload]
        return dict(pending)


@service("logs.ingest")
def flush_follow_audit(db: Session, actor: Principal, follow: FollowAudit) -> int:
    """Record what `logs ingest --follow` stored since each file's last audit event
    (when it stops). Needs jobs.run. Returns the events written."""
    actor.require(Permission.JOBS_RUN)
    written = 0
    for path, details in list(follow.pending.items()):
        audit.record_alone(db, actor, "logs.ingest", target=path[:255], details=details)
        follow.pending.pop(path, None)
        written += 1
    return written


@service("logs.ingest")
def ingest(db: Session, actor: Principal, paths: list[Path], *, fmt: Format = Format.AUTO,
           source: str | None = None, zone_name: str = "local",
           progress: Progress | None = None, final: bool | None = None,
           follow: FollowAudit | None = None, budget_seconds: float | None = None,
           stop: Callable[[], bool] | None = None) -> IngestReport:
    """Read what is new in each file into the store; returns what was read.

    Needs jobs.run (the OS owner holds it). `fmt` auto-detects per new file; `source`
    names the system (default: from the file name, or the `system` field of JSON Lines).
    One audit event per file that had new lines (when `follow` is given: at most one per
    file every `follow.every` seconds, covering everything since the previous one; the
    rest by `flush_follow_audit`). With `budget_seconds` or `stop`, reading ends with the
    chunk during which the budget ran out or `stop()` turned true (at least one chunk is
    stored per call): that file's result says `complete=False`, the files after it are not
    read, and the next call goes on from there. Raises ValidationError for a missing or unreadable path and
    Conflict when another process is ingesting the same file.
    """
    actor.require(Permission.JOBS_RUN)
    if source is not None and not source.strip():
        raise ValidationError("source", "must not be empty")
    started = time.perf_counter()
    report = IngestReport()

    def out_of_time() -> bool:
        return (budget_seconds is not None and time.perf_counter() - started >= budget_seconds) \
            or (stop is not None and stop())

    for path in paths:
        job = FileIngest(db, actor, Path(path), fmt, source and source.strip()[:64],
                         zone_name, final)
        report.files.append(job.result)
        if not job.prepare():
            continue
        try:
            touched = _store_all(job, path, follow, progress, out_of_time)
        finally:
            if job.loader is not None:
                job.loader.finish()
        if not touched and job.result.note == "resumed":
            job.result.note = "unchanged"
        if not job.result.complete:
            break
    report.seconds = time.perf_counter() - started
    return report


def _store_all(job: FileIngest, path: Path, follow: FollowAudit | None,
               progress: Progress | None, out_of_time: Callable[[], bool]) -> bool:
    """Store every chunk of the file, each in its own transaction, until `out_of_time()`
    after one (then the result says incomplete); whether any was stored."""
    chunks = job.chunks()
    try:
        return _store_chunks(job, chunks, path, follow, progress, out_of_time)
    finally:
        chunks.close()  # a parsing process still reading ahead is stopped now


def _store_chunks(job: FileIngest, chunks: Iterator[Chunk], path: Path,
                  follow: FollowAudit | None, progress: Progress | None,
                  out_of_time: Callable[[], bool]) -> bool:
    current = next(chunks, None)
    touched = False
    while current is not None:
        # Out of time: this chunk is the last of the call (it gets the audit event).
        stopping = out_of_time()
        following = None if stopping else next(chunks, None)
        last = following is None
        due = last
        if follow is not None:
            now = time.monotonic()
            due = last and now - follow.last.get(str(path), 0.0) >= follow.every
            if due:
                follow.last[str(path)] = now
        before = job.result.to_offset
        job.store_chunk(current, audit_now=due, follow=follow)
        touched = True
        if progress is not None:
            progress(current.end_offset - before, str(path))
        if stopping:
            job.result.complete = False
        current = following
    return touched
