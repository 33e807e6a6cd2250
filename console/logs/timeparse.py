"""Turning the timestamps of log lines into UTC microseconds, fast: each distinct second
is worked out once and cached. Wall-clock times are read in the configured zone; RFC 3164's
missing year is inferred against a reference time (the file's last modification), never
into the future."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo

MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}


class Clock:
    """Turns wall-clock fields into UTC microseconds, caching per second."""

    def __init__(self, zone: tzinfo | None, reference: datetime) -> None:
        self.zone = zone  # None: the machine's local zone
        self.reference = reference.astimezone(zone) if zone else reference.astimezone()
        self._cache: dict[object, int | None] = {}

    def wall(self, y: int, mo: int, d: int, h: int, mi: int, s: int,
             zone: tzinfo | None | bool = False) -> int | None:
        tz = self.zone if zone is False else zone
        try:
            if tz is None:
                secs = int(datetime(y, mo, d, h, mi, s).timestamp())
            else:
                secs = int(datetime(y, mo, d, h, mi, s, tzinfo=tz).timestamp())
        except (ValueError, OverflowError, OSError):
            return None
        return secs * 1_000_000 if secs >= 0 else None

    def bsd(self, stamp: str) -> int | None:
        """'Nov 22 01:02:03' with the year inferred (never in the future)."""
        cached = self._cache.get(stamp, -1)
        if cached != -1:
            return cached  # type: ignore[return-value]
        value = None
        month = MONTHS.get(stamp[:3])
        if month:
            try:
                day, hh, mm, ss = int(stamp[4:6]), int(stamp[7:9]), int(stamp[10:12]), \
                    int(stamp[13:15])
            except ValueError:
                day = 0
            ref = self.reference
            if day:
                year = ref.year
                latest = (ref + timedelta(days=1)).date()
                try:
                    if datetime(year, month, day).date() > latest:
                        year -= 1
                except ValueError:  # Feb 29 outside a leap year: the last leap year
                    year -= 1
                value = self.wall(year, month, day, hh, mm, ss)
        self._cache[stamp] = value
        return value

    def iso(self, stamp: str) -> int | None:
        """ISO 8601 / RFC 3339: 2026-11-22T01:02:03.123+01:00, Z, space, comma, naive."""
        head = stamp[:19]
        base = self._cache.get(("i", head, stamp[19:].lstrip("0123456789.,")), -1)
        frac = 0
        rest = stamp[19:]
        if rest[:1] in (".", ","):
            digits = len(rest) - len(rest[1:].lstrip("0123456789")) - 1
            frac = int((rest[1:1 + digits] + "000000")[:6]) if digits else 0
            rest = rest[1 + digits:]
        if base == -1:
            base = None
            try:
                y, mo, d = int(head[:4]), int(head[5:7]), int(head[8:10])
                h, mi, s = int(head[11:13]), int(head[14:16]), int(head[17:19])
                zone: tzinfo | None | bool = False
                off = rest.strip()
                if off in ("Z", "z", "UTC"):
                    zone = UTC
                elif off[:1] in ("+", "-") and off[1:3].isdigit():
                    sign = -1 if off[0] == "-" else 1
                    mins = int(off[1:3]) * 60 + int(off[-2:] if len(off) > 3 else 0)
                    zone = timezone(sign * timedelta(minutes=mins))
                base = self.wall(y, mo, d, h, mi, s, zone)
            except ValueError:
                base = None
            self._cache[("i", head, stamp[19:].lstrip("0123456789.,"))] = base
        return None if base is None else base + frac  # type: ignore[operator]

    def epoch(self, value: float) -> int | None:
        if value > 1e14:  # milliseconds or finer
            value /= 1000.0
        return int(value * 1_000_000) if 0 <= value < 1e11 else None


def _offset(text: str) -> tzinfo:
    sign = -1 if text[0] == "-" else 1
    return timezone(sign * timedelta(hours=int(text[1:3]), minutes=int(text[3:5])))
