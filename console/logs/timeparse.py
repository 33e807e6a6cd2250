"""Turning the timestamps of log lines into UTC microseconds, fast: the start of each
calendar day is worked out once (in the configured zone, or the offset the line gives), and
a time is that plus its seconds into the day. Days on which the zone changes its offset
(daylight saving) take the slow, exact path for every time. RFC 3164's missing year is
inferred against a reference time (the file's last modification), never into the future."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone, tzinfo

from console.logs.common import MAX_TS_US

MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
# "HH:MM" -> seconds into the day (a dict look-up is cheaper than two int() calls).
HOUR_MINUTE = {f"{h:02d}:{m:02d}": h * 3600 + m * 60 for h in range(24) for m in range(60)}
_MAX_SECS = MAX_TS_US // 1_000_000
_SHIFTING = -(1 << 62)  # a day whose UTC offset changes: compute each time exactly
_CACHE_LIMIT = 1 << 16  # entries per cache before it is cleared (memory stays bounded)
_MISSING = object()


def _offset(text: str) -> tzinfo:
    sign = -1 if text[0] == "-" else 1
    return timezone(sign * timedelta(hours=int(text[1:3]), minutes=int(text[3:5])))


def _zone_of(rest: str, default: tzinfo | None) -> tzinfo | None:
    """The zone an ISO 8601 time gives after its seconds (Z, +01:00, +0100), else
    `default` (the configured zone)."""
    off = rest.strip()
    if off in ("Z", "z", "UTC"):
        return UTC
    if off[:1] in ("+", "-") and off[1:3].isdigit():
        sign = -1 if off[0] == "-" else 1
        mins = int(off[1:3]) * 60 + int(off[-2:] if len(off) > 3 else 0)
        return timezone(sign * timedelta(minutes=mins))
    return default


class Clock:
    """Turns wall-clock fields into UTC microseconds (None: not a valid time, or before
    1970, or too far ahead to be an entry id)."""

    def __init__(self, zone: tzinfo | None, reference: datetime) -> None:
        self.zone = zone  # None: the machine's local zone
        self.reference = reference.astimezone(zone) if zone else reference.astimezone()
        self._latest = (self.reference + timedelta(days=1)).date()
        self._days: dict[tuple[int, int, int, object], int | None] = {}
        self._bsd_days: dict[str, int | None] = {}  # "Nov 22" -> start of that day (year inferred)
        self._iso_days: dict[tuple[str, str], object] = {}  # (date, zone text) -> day start
        self._cache: dict[object, int | None] = {}  # whole stamps, for formats that use it

    # -- days ----------------------------------------------------------------------------

    def day_start(self, y: int, mo: int, d: int, tz: tzinfo | None) -> int | None:
        """Unix seconds of 00:00 on that day in `tz` (None: local), _SHIFTING when the
        zone's offset changes during the day, None when the date is invalid."""
        key = (y, mo, d, tz)
        found = self._days.get(key, _MISSING)
        if found is not _MISSING:
            return found  # type: ignore[return-value]
        try:
            first = datetime(y, mo, d, tzinfo=tz).timestamp()
            last = datetime(y, mo, d, 23, 59, 59, tzinfo=tz).timestamp()
            # The same offset at both ends: no daylight saving change that day.
            value: int | None = int(first) if last - first == 86399 else _SHIFTING
        except (ValueError, OverflowError, OSError):
            value = None
        if len(self._days) >= _CACHE_LIMIT:
            self._days.clear()
        self._days[key] = value
        return value

    def wall(self, y: int, mo: int, d: int, h: int, mi: int, s: int,
             zone: tzinfo | None | bool = False) -> int | None:
        tz = self.zone if zone is False else zone
        if not (0 <= h < 24 and 0 <= mi < 60 and 0 <= s < 60):
            return None
        start = self.day_start(y, mo, d, tz)  # type: ignore[arg-type]
        if start is None:
            return None
        if start == _SHIFTING:
            return self._exact(y, mo, d, h, mi, s, tz)  # type: ignore[arg-type]
        secs = start + h * 3600 + mi * 60 + s
        return secs * 1_000_000 if 0 <= secs <= _MAX_SECS else None

    def _exact(self, y: int, mo: int, d: int, h: int, mi: int, s: int,
               tz: tzinfo | None) -> int | None:
        try:
            secs = int(datetime(y, mo, d, h, mi, s, tzinfo=tz).timestamp())
        except (ValueError, OverflowError, OSError):
            return None
        return secs * 1_000_000 if 0 <= secs <= _MAX_SECS else None

    # -- formats -------------------------------------------------------------------------

    def bsd_date(self, stamp: str) -> tuple[int, int, int] | None:
        """(year, month, day) of 'Nov 22 ...': the year inferred, never in the future."""
        month = MONTHS.get(stamp[:3])
        day = stamp[4:6].strip()
        if not month or not day.isdigit():
            return None
        year = self.reference.year
        try:
            if date(year, month, int(day)) > self._latest:
                year -= 1
        except ValueError:  # Feb 29 outside a leap year: the last leap year
            year -= 1
        return year, month, int(day)

    def bsd_day(self, stamp: str) -> int | None:
        """Start of the day of 'Nov 22 ...' (_SHIFTING or None as `day_start`)."""
        key = stamp[:6]
        found = self._bsd_days.get(key, _MISSING)
        if found is not _MISSING:
            return found  # type: ignore[return-value]
        ymd = self.bsd_date(stamp)
        value = None if ymd is None else self.day_start(*ymd, self.zone)
        self._bsd_days[key] = value  # at most 12 x 31 keys
        return value

    def bsd(self, stamp: str) -> int | None:
        """'Nov 22 01:02:03' with the year inferred (never in the future)."""
        start = self.bsd_day(stamp)
        into = HOUR_MINUTE.get(stamp[7:12])
        sec = stamp[13:15]
        if start is None or into is None or not sec.isdigit() or int(sec) > 59:
            return None
        if start == _SHIFTING:
            y, mo, d = self.bsd_date(stamp)  # type: ignore[misc]
            return self._exact(y, mo, d, into // 3600, into // 60 % 60, int(sec), self.zone)
        secs = start + into + int(sec)
        return secs * 1_000_000 if 0 <= secs <= _MAX_SECS else None

    def iso(self, stamp: str) -> int | None:
        """ISO 8601 / RFC 3339: 2026-11-22T01:02:03.123+01:00, Z, space, comma, naive."""
        rest = stamp[19:]
        frac = 0
        if rest[:1] in (".", ","):
            digits = len(rest) - len(rest[1:].lstrip("0123456789")) - 1
            frac = int((rest[1:1 + digits] + "000000")[:6]) if digits else 0
            rest = rest[1 + digits:]
        key = (stamp[:10], rest)
        start = self._iso_days.get(key, _MISSING)
        if start is _MISSING:
            try:
                start = self.day_start(int(stamp[:4]), int(stamp[5:7]), int(stamp[8:10]),
                                       _zone_of(rest, self.zone))
            except ValueError:
                start = None
            if len(self._iso_days) >= _CACHE_LIMIT:
                self._iso_days.clear()
            self._iso_days[key] = start
        if start is None:
            return None
        into = HOUR_MINUTE.get(stamp[11:16])
        sec = stamp[17:19]
        if into is None or not sec.isdigit() or start == _SHIFTING:
            try:
                base = self.wall(int(stamp[:4]), int(stamp[5:7]), int(stamp[8:10]),
                                 int(stamp[11:13]), int(stamp[14:16]), int(sec),
                                 _zone_of(rest, self.zone))
            except ValueError:
                return None
            return None if base is None else base + frac
        secs = start + into + int(sec)  # type: ignore[operator]
        if int(sec) > 59 or not 0 <= secs <= _MAX_SECS:
            return None
        return secs * 1_000_000 + frac

    def epoch(self, value: float) -> int | None:
        if value > 1e14:  # milliseconds or finer
            value /= 1000.0
        return int(value * 1_000_000) if 0 <= value < 1e11 else None
