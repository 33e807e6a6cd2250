"""Processing-log entries as an export part: through the log store's own query service,
masked as the reader sees them, in the same JSON Lines and CSV forms as the tables
(`console.export.rows`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlmodel import Session

from console.export.rows import Batch, ColumnInfo, Cursor, Part, csv_field

LOG_COLUMNS = (ColumnInfo("id", "integer"), ColumnInfo("time", "datetime"),
               ColumnInfo("level", "string"), ColumnInfo("source", "string"),
               ColumnInfo("host", "string"), ColumnInfo("program", "string"),
               ColumnInfo("message", "string"), ColumnInfo("extra", "json"),
               ColumnInfo("line", "integer"))


@dataclass
class LogPart(Part):
    """Processing-log entries matching one or more filters (several: the union, as for
    the lines that mention a data subject by any of their identifiers), through the log
    store's own query service, masked as `reader` sees them."""

    reader: Any  # Principal
    filters: list[Any]  # LogFilter
    name: str = "processing_logs"
    title: str = "Processing logs"
    columns: list[ColumnInfo] = field(default_factory=lambda: list(LOG_COLUMNS))
    notes: list[str] = field(default_factory=list)

    def fetch(self, db: Session, after: Cursor, limit: int) -> Batch:
        from console.logs.query import fetch

        after = int(after or 0)  # a log entry id; None: from the start
        if not self.filters:
            return Batch(0, after, True)
        entries: dict[int, Any] = {}
        bound: int | None = None
        for flt in self.filters:
            page = fetch(db, self.reader, flt, anchor=after, direction="newer",
                         limit=min(limit, 5000), scan_budget=200_000)
            for entry in page.entries:
                entries[entry.id] = entry
            if not page.exhausted:
                bound = page.cursor if bound is None else min(bound, page.cursor)
        chosen = sorted(i for i in entries if bound is None or i <= bound)
        done = bound is None
        last = bound if bound is not None else (chosen[-1] if chosen else after)
        jsonl, csv = [], []
        for entry_id in chosen:
            record = log_record(entries[entry_id])
            jsonl.append(orjson.dumps(record))
            csv.append(",".join(csv_field(record[c.name], c.type)
                                for c in self.columns).encode())
        if not chosen:
            return Batch(0, last, done)
        return Batch(len(chosen), last, done, b"\n".join(jsonl) + b"\n",
                     b"\r\n".join(csv) + b"\r\n")


def log_record(entry: Any) -> dict[str, Any]:
    from datetime import UTC

    return {"id": entry.id,
            "time": entry.ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "level": entry.level.label, "source": entry.source, "host": entry.host,
            "program": entry.program, "message": entry.message, "extra": entry.extra,
            "line": entry.line}

