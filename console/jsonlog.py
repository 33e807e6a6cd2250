"""Logging in FlowPro's JSON Lines format: one JSON object per line.

Fields: `ts` (ISO 8601 UTC, milliseconds), `level` (debug, info, warning, error, critical),
`system` ("console"), `host`, `logger`, `message`, then any extra fields the call passed
(`log.info("...", extra={"run_id": 7})`), and `exception` (type and first line) plus
`traceback` when one is logged. The same format the log browser ingests, and what the
systemd journal shows line by line.
"""

from __future__ import annotations

import json
import logging
import socket
import sys
import traceback
from datetime import UTC, datetime
from typing import IO, Any

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime",
                                                                       "taskName"}


class JsonLinesFormatter(logging.Formatter):
    def __init__(self, system: str = "console", host: str | None = None) -> None:
        super().__init__()
        self.system = system
        self.host = host or socket.gethostname()

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "system": self.system,
            "host": self.host,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_") and key not in entry:
                entry[key] = value
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            first = (str(exc).strip().splitlines() or [""])[0]
            entry["exception"] = f"{type(exc).__name__}: {first}".rstrip(": ")
            entry["traceback"] = "".join(traceback.format_exception(*record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(stream: IO[str] | None = None, level: int = logging.INFO,
              logger: str = "flowpro") -> logging.Handler:
    """Send every log record to `stream` (stderr) as JSON Lines: `logger` (and its
    children) from `level`, everything else (libraries, Python warnings) from WARNING."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLinesFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    target = logging.getLogger(logger)
    target.handlers[:] = []
    target.setLevel(level)
    target.propagate = True
    logging.captureWarnings(True)
    return handler
