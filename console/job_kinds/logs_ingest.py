"""`logs-ingest`: read what is new in the configured log files into the store (schedule it
every minute; see `[logs.sources]` and `[schedules]` in config.toml).

The files are the `[logs.sources.<name>]` glob patterns (or the run's own `paths`),
expanded at the run's first step and read oldest first, so rotated files (`syslog.2.gz`,
`syslog.1`) come before the live one. Each step reads one file for at most
`seconds_per_step` through the ingest service (console.logs.ingest), which commits every
chunk with the file's new offset: the store itself is the per-file checkpoint. A step
repeated after a crash re-reads only what was not committed, so the kind runs outside the
framework's step transaction. Every file read is audited by the service (`logs.ingest`).
"""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Any

from pydantic import Field
from sqlmodel import Session, select

from console.errors import Conflict, ValidationError
from console.jobs import Checkpoint, JobContext, JobFailed, JobKind, Params, job_kind
from console.logs.common import Format
from console.logs.ingest import ingest
from console.logs.reader import is_gzip
from console.permissions import Permission
from console.principal import Principal
from models.logs import LogFile

_WILDCARDS = ("*", "?", "[")


class IngestParams(Params):
    sources: str = Field(default="", description="Names of [logs.sources] to read, "
                         "comma-separated (default: every enabled one)")
    paths: str = Field(default="", description="Files or glob patterns to read instead, "
                       "comma-separated absolute paths")
    format: Format = Field(default=Format.AUTO, description="Format of the `paths` files")
    source: str = Field(default="", max_length=64,
                        description="Source name for the `paths` files (default: from "
                                    "each file's name)")
    seconds_per_step: float = Field(default=10.0, ge=0, le=600,
                                    description="Time spent on one file before the run "
                                                "checkpoints and goes on (0: every chunk)")


class IngestCheckpoint(Checkpoint):
    resolved: bool = False
    files: list[tuple[str, str, str]] = Field(default_factory=list)  # (path, format, source)
    index: int = 0  # the file being read
    files_read: int = 0
    lines: int = 0
    entries: int = 0
    unparsed: int = 0
    skipped: list[str] = Field(default_factory=list)  # "path: why" (busy, missing)
    errors: list[str] = Field(default_factory=list)  # "path: what is wrong"


def _expand(pattern: str) -> list[str]:
    if any(c in pattern for c in _WILDCARDS):
        return sorted(p for p in glob.glob(pattern) if os.path.isfile(p))
    return [pattern]


def _compressed(path: str) -> bool:
    try:
        return is_gzip(Path(path))
    except OSError:
        return False


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return float("inf")  # missing: noted when its turn comes


def resolve(ctx: JobContext, params: IngestParams) -> list[tuple[str, str, str]]:
    """(path, format, source) of every file to read, oldest modified first."""
    wanted: list[tuple[str, str, str]] = []
    if params.paths.strip():
        for pattern in (p.strip() for p in params.paths.split(",")):
            if pattern and not pattern.startswith("/"):
                raise JobFailed(f"param paths: {pattern!r} is not an absolute path")
            wanted.extend((p, params.format.value, params.source.strip())
                          for p in _expand(pattern) if pattern)
    else:
        configured = ctx.settings.logs.sources
        names = [n.strip() for n in params.sources.split(",") if n.strip()] or \
            [n for n, s in configured.items() if s.enabled]
        unknown = [n for n in names if n not in configured]
        if unknown:
            raise JobFailed(f"no [logs.sources.{unknown[0]}] in the config; configured: "
                            f"{', '.join(configured) or 'none'}")
        if not names:
            raise JobFailed("nothing to read: add a [logs.sources.<name>] table with paths "
                            "to config.toml, or give --param paths=/var/log/...")
        for name in names:
            for pattern in configured[name].paths:
                wanted.extend((p, configured[name].format, name) for p in _expand(pattern))
    unique = list(dict.fromkeys(wanted))
    return sorted(unique, key=lambda f: _mtime(f[0]))


@job_kind
class LogsIngest(JobKind[IngestParams, IngestCheckpoint]):
    name = "logs-ingest"
    title = "Log ingest"
    description = ("Read what is new in the configured log files (or the given paths) into "
                   "the log store; rotated and truncated files are followed")
    permission = Permission.JOBS_RUN
    transactional = False

    def check(self, db: Session, actor: Principal, params: IngestParams) -> None:
        for pattern in (p.strip() for p in params.paths.split(",")):
            if pattern and not pattern.startswith("/"):
                raise ValidationError("param paths", f"{pattern!r} is not an absolute path")

    def estimate(self, ctx: JobContext, params: IngestParams,
                 checkpoint: IngestCheckpoint) -> int | None:
        """Bytes left to read (a compressed file counts its compressed size)."""
        files = checkpoint.files if checkpoint.resolved else resolve(ctx, params)
        total = 0
        for path, _fmt, _source in files[checkpoint.index:]:
            try:
                size = os.stat(path).st_size
            except OSError:
                continue
            offset = ctx.db.exec(select(LogFile.offset).where(LogFile.path == path)
                                 .order_by(LogFile.last_read_at.desc())  # type: ignore[attr-defined]
                                 ).first()
            total += size if _compressed(path) else max(0, size - (offset or 0))
        ctx.db.rollback()
        return total

    def step(self, ctx: JobContext, params: IngestParams,
             cp: IngestCheckpoint) -> IngestCheckpoint | None:
        if not cp.resolved:
            cp.files, cp.resolved = resolve(ctx, params), True
            ctx.message(f"{len(cp.files)} file(s) to read")
            return cp
        if cp.index >= len(cp.files):
            ctx.message(f"{cp.files_read} of {len(cp.files)} file(s) read, {cp.lines:,} new "
                        "lines")
            if cp.errors:
                raise JobFailed(f"could not read {len(cp.errors)} of {len(cp.files)} files: "
                                f"{'; '.join(cp.errors[:3])}; fix that and run it again")
            return None
        path, fmt, source = cp.files[cp.index]
        # Progress is in bytes of the file on disk; a compressed file reports uncompressed
        # offsets, so it counts its size once it is done.
        gz = _compressed(path)
        try:
            report = ingest(ctx.db, ctx.actor, [Path(path)], fmt=Format(fmt),
                            source=source or None, zone_name=ctx.settings.logs.timezone,
                            progress=None if gz else lambda n, _p: ctx.advance(n),
                            budget_seconds=params.seconds_per_step, stop=ctx.should_stop)
        except Conflict as exc:  # another ingester is on it: it stores what is new
            cp.skipped.append(f"{path}: {exc.message}")
            cp.index += 1
            return cp
        except ValidationError as exc:
            if not os.path.exists(path):  # a log file that does not exist (yet)
                cp.skipped.append(f"{path}: does not exist")
            else:
                cp.errors.append(f"{path}: {exc.message}")
                ctx.log.warning("cannot read a log file", extra={"path": path,
                                                                  "error": exc.message})
            cp.index += 1
            return cp
        result = report.files[0]
        cp.lines += result.lines
        cp.entries += result.entries
        cp.unparsed += result.unparsed
        if result.complete:
            cp.index += 1
            cp.files_read += 1
            if gz:
                ctx.advance(os.path.getsize(path))
        ctx.message(f"{Path(path).name}: {result.lines:,} new lines"
                    + ("" if result.complete else " so far"))
        return cp

    def result(self, ctx: JobContext, params: IngestParams,
               checkpoint: IngestCheckpoint) -> dict[str, Any]:
        return {"files": len(checkpoint.files), "files_read": checkpoint.files_read,
                "lines": checkpoint.lines, "entries": checkpoint.entries,
                "unparsed": checkpoint.unparsed, "skipped": checkpoint.skipped,
                "errors": checkpoint.errors}
