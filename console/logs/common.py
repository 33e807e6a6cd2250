"""What every part of the log store shares: levels, entry ids, time conversions.

An entry's id is its time in microseconds since the Unix epoch (UTC) times 1024, plus a
sequence number for entries that share a microsecond. So ids follow time: a time window is
an id range, "newest first" is "highest id first", and the month partition of an entry
follows from its id alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import IntEnum, StrEnum

SEQ_BITS = 10
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_TS_US = (1 << (63 - SEQ_BITS)) - 1  # year ~2255


class Level(IntEnum):
    """Severity, numbered as syslog does (lower is worse), plus trace and unknown."""

    EMERGENCY = 0
    ALERT = 1
    CRITICAL = 2
    ERROR = 3
    WARNING = 4
    NOTICE = 5
    INFO = 6
    DEBUG = 7
    TRACE = 8
    UNKNOWN = 9

    @property
    def label(self) -> str:
        return LABELS[self]


LABELS = {Level.EMERGENCY: "emerg", Level.ALERT: "alert", Level.CRITICAL: "crit",
          Level.ERROR: "error", Level.WARNING: "warn", Level.NOTICE: "notice",
          Level.INFO: "info", Level.DEBUG: "debug", Level.TRACE: "trace",
          Level.UNKNOWN: "unknown"}

ALIASES: dict[str, Level] = {
    "emerg": Level.EMERGENCY, "emergency": Level.EMERGENCY, "panic": Level.EMERGENCY,
    "alert": Level.ALERT, "crit": Level.CRITICAL, "critical": Level.CRITICAL,
    "fatal": Level.CRITICAL, "err": Level.ERROR, "error": Level.ERROR,
    "severe": Level.ERROR, "warn": Level.WARNING, "warning": Level.WARNING,
    "notice": Level.NOTICE, "info": Level.INFO, "information": Level.INFO,
    "informational": Level.INFO, "debug": Level.DEBUG, "fine": Level.DEBUG,
    "trace": Level.TRACE, "finest": Level.TRACE, "notset": Level.DEBUG,
    "unknown": Level.UNKNOWN,
}
# Levels worth a partial index: the rare, interesting ones (warning and worse).
INDEXED_MAX_LEVEL = Level.WARNING


def parse_level(value: object) -> Level | None:
    """A level from a name (any case, common aliases, apache's trace1..8) or a number
    (0-7: syslog severity; 10-50: Python logging levels). None when not recognised."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = int(value)
        if 0 <= number <= 7:
            return Level(number)
        if number >= 10:
            return (Level.CRITICAL if number >= 50 else Level.ERROR if number >= 40 else
                    Level.WARNING if number >= 30 else Level.INFO if number >= 20 else
                    Level.DEBUG)
        return None
    if not isinstance(value, str):
        return None
    name = value.strip().lower()
    level = ALIASES.get(name)
    if level is None and name.startswith("trace") and name[5:].isdigit():
        return Level.TRACE
    if level is None and name.isdigit():
        return parse_level(int(name))
    return level


class Format(StrEnum):
    AUTO = "auto"
    JSONL = "jsonl"
    SYSLOG = "syslog"
    APACHE_ACCESS = "apache-access"
    APACHE_ERROR = "apache-error"
    PYTHON = "python"
    GENERIC = "generic"


# -- ids and time ----------------------------------------------------------------------


def ts_us(when: datetime) -> int:
    """Microseconds since the epoch for an aware datetime."""
    delta = when.astimezone(UTC) - EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def id_floor(when: datetime) -> int:
    """The smallest id an entry at `when` (or later) can have."""
    return max(ts_us(when), 0) << SEQ_BITS


def time_of(entry_id: int) -> datetime:
    return from_us(entry_id >> SEQ_BITS)


def month_key(entry_id: int) -> str:
    """'YYYYMM' of the partition holding `entry_id`."""
    when = time_of(entry_id)
    return f"{when.year:04d}{when.month:02d}"


def month_bounds(key: str) -> tuple[int, int]:
    """[first id, first id of the next month) of partition `key` ('YYYYMM')."""
    year, month = int(key[:4]), int(key[4:])
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    return id_floor(start), id_floor(end)


def month_label(key: str) -> str:
    return f"{key[:4]}-{key[4:]}"


def month_of_label(label: str) -> str:
    """'2026-11' -> '202611'; raises ValueError otherwise."""
    label = label.strip()
    if len(label) == 7 and label[4] == "-" and label[:4].isdigit() and label[5:].isdigit() \
            and 1 <= int(label[5:]) <= 12:
        return label[:4] + label[5:]
    raise ValueError(f"{label!r} is not a month like 2026-11")


def _checked(key: str) -> str:
    # Month keys become table names: never anything but six digits.
    if len(key) != 6 or not key.isdigit():
        raise ValueError(f"bad month key {key!r}")
    return key


def table_of(key: str) -> str:
    return f"log_entries_{_checked(key)}"


def fts_of(key: str) -> str:
    return f"log_fts_{_checked(key)}"


SPANS = (300, 3600, 86400)  # rollup bucket widths, finest first


@dataclass
class Entry:
    """One entry as a reader sees it (message masked for principals without pii.read)."""

    id: int
    level: Level
    source: str
    host: str
    program: str
    message: str
    prefix: str = ""
    extra: dict | None = None
    file_id: int | None = None
    line: int | None = None
    masked: bool = False
    ts: datetime = field(init=False)

    def __post_init__(self) -> None:
        self.ts = time_of(self.id)


# -- user input ----------------------------------------------------------------------------

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_when(value: str, now: datetime, zone: object = None) -> datetime:
    """'15m', '1h', '2d', 'last 1h' (that long ago), 'now', '2026-11-22',
    '2026-11-22 14:05[:09]' or ISO 8601 (wall times in `zone`, None: the local zone).
    Raises ValueError with what is accepted."""
    text = value.strip().lower().removeprefix("last ").strip()
    if text == "now":
        return now
    try:
        if len(text) >= 2 and text[:-1].isdigit() and text[-1] in _UNITS:
            return now - timedelta(seconds=int(text[:-1]) * _UNITS[text[-1]])
        parsed = datetime.fromisoformat(value.strip())
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=zone) if zone is not None else parsed.astimezone()
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # not a time, or too far back or ahead to be one
        raise ValueError(f"{value!r} is not a time: use e.g. 15m, 1h, 2d (ago), now, "
                         "2026-11-22 or 2026-11-22 14:05") from None


def parse_levels(value: str) -> frozenset[int]:
    """'error,warn' or 'warn+' (that level and worse). Raises ValueError."""
    result: set[int] = set()
    for part in value.split(","):
        name = part.strip()
        if not name:
            continue
        worse = name.endswith("+")
        level = parse_level(name.rstrip("+"))
        if level is None:
            known = ", ".join(LABELS.values())
            raise ValueError(f"unknown level {name!r}; known: {known} (add + for 'and worse')")
        result.update(range(0, level + 1) if worse else (level,))
    return frozenset(result)
