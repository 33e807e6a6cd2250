"""Exporting the current filtered view to CSV or JSON Lines, masked as the reader sees
it, streamed page by page (memory stays flat whatever the row count)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import TextIO

import orjson
from sqlmodel import Session

from console import audit
from console.contract import service
from console.errors import ValidationError
from console.logs.common import Entry
from console.logs.query import LogFilter, _Plan, scan
from console.masking import sees_pii
from console.permissions import Permission
from console.principal import Principal

FIELDS = ("id", "time", "level", "source", "host", "program", "message", "extra", "line")


def iter_entries(db: Session, actor: Principal, flt: LogFilter, *, newest_first: bool = False,
                 limit: int | None = None) -> Iterator[Entry]:
    """Every entry matching `flt` (masked per `actor`), in time order. Needs logs.read."""
    actor.require(Permission.LOGS_READ)
    plan = _Plan(db, actor, flt)
    anchor = None if newest_first else plan.lo - 1
    produced = 0
    while True:
        page = scan(db, plan, anchor=anchor, direction="older" if newest_first else "newer",
                    limit=1000, scan_budget=200_000)
        entries = reversed(page.entries) if newest_first else page.entries
        for entry in entries:
            yield entry
            produced += 1
            if limit is not None and produced >= limit:
                return
        if page.exhausted:
            return
        anchor = page.cursor


def as_record(entry: Entry) -> dict[str, object]:
    return {"id": entry.id, "time": entry.ts.isoformat(), "level": entry.level.label,
            "source": entry.source, "host": entry.host, "program": entry.program,
            "message": entry.message, "extra": entry.extra, "line": entry.line}


def write_entries(entries: Iterator[Entry], out: TextIO, fmt: str) -> int:
    count = 0
    if fmt == "jsonl":
        for entry in entries:
            out.write(orjson.dumps(as_record(entry)).decode())
            out.write("\n")
            count += 1
        return count
    writer = csv.writer(out)
    writer.writerow(FIELDS)
    for entry in entries:
        record = as_record(entry)
        record["extra"] = orjson.dumps(entry.extra).decode() if entry.extra else ""
        writer.writerow([record[f] for f in FIELDS])
        count += 1
    return count


@service("logs.export")
def export(db: Session, actor: Principal, flt: LogFilter, out: TextIO, *, fmt: str = "jsonl",
           limit: int | None = None, where: str = "cli") -> int:
    """Write the entries matching `flt` to `out` as `fmt` (jsonl or csv), oldest first,
    masked for principals without pii.read; returns how many. Needs logs.read. Audited
    (filter, count, masked) after the export completes."""
    actor.require(Permission.LOGS_READ)
    if fmt not in ("jsonl", "csv"):
        raise ValidationError("format", "must be jsonl or csv")
    count = write_entries(iter_entries(db, actor, flt, limit=limit), out, fmt)
    audit.record_alone(db, actor, "logs.export", target=where,
                       details={"filter": flt.describe(), "format": fmt, "entries": count,
                                "masked": not sees_pii(actor)})
    return count


@service("logs.export")
def export_to_file(db: Session, actor: Principal, flt: LogFilter, path: str, *,
                   fmt: str | None = None) -> int:
    """Export to the file `path` (format from its suffix: .csv or JSON Lines), for the
    TUI. Needs logs.read; raises ValidationError when the file cannot be written."""
    actor.require(Permission.LOGS_READ)
    from pathlib import Path

    target = Path(path).expanduser()
    chosen = fmt or ("csv" if target.suffix.lower() == ".csv" else "jsonl")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "w", encoding="utf-8", newline="") as out:
            return export(db, actor, flt, out, fmt=chosen, where=str(target))
    except OSError as exc:
        raise ValidationError("path", f"cannot write {target}: {exc.strerror}") from None
