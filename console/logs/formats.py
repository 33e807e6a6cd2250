"""One parser per log format. `parse(line)` returns a `Parsed` for a line that starts an
entry in that format, or None (the reader then decides: continuation line or unparsed).

Timestamps without an offset (syslog RFC 3164, Python logging, Apache/Nginx error logs)
are read in the zone given by `[logs] timezone`. RFC 3164 has no year: it is the year of
the file's last modification, or the one before when that would put the line in the
future.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import NamedTuple

import orjson

from console.logs.common import Format, Level, parse_level
from console.logs.timeparse import HOUR_MINUTE, MONTHS, Clock, _offset


class Parsed(NamedTuple):
    ts: int | None  # microseconds since the epoch, UTC; None: not in the line
    level: int
    host: str | None
    program: str
    message: str
    prefix: str  # raw text before the message (for JSON Lines: the whole raw line)
    extra: str | None = None  # JSON object text
    source: str | None = None


# -- level inference ----------------------------------------------------------------------

_WORDS = re.compile(r"\b(emerg|panic|alert|crit(?:ical)?|fatal|err(?:or)?|fail(?:ed|ure)?|"
                    r"warn(?:ing)?)\b")
_WORD_LEVEL = {"emerg": Level.EMERGENCY, "panic": Level.EMERGENCY, "alert": Level.ALERT,
               "crit": Level.CRITICAL, "critical": Level.CRITICAL, "fatal": Level.CRITICAL,
               "err": Level.ERROR, "error": Level.ERROR, "fail": Level.WARNING,
               "failed": Level.WARNING, "failure": Level.WARNING, "warn": Level.WARNING,
               "warning": Level.WARNING}


def guess_level(message: str, default: int = Level.INFO) -> int:
    """A level from words in free text (error, warning, failed, ...); `default` else.
    Cheap substring tests first: most lines hold none of the words."""
    low = message[:400].lower()
    if "err" in low or "fail" in low or "warn" in low or "crit" in low or "fatal" in low \
            or "emerg" in low or "alert" in low or "panic" in low:
        found = _WORDS.search(low)
        if found:
            return _WORD_LEVEL[found.group(1)]
    return default


# -- parsers ---------------------------------------------------------------------------------


class Parser:
    format: Format

    def __init__(self, clock: Clock, host: str | None = None) -> None:
        self.clock = clock
        self.host = host or socket.gethostname()

    def parse(self, line: str) -> Parsed | None:
        raise NotImplementedError

    def fields(self, line: str) -> dict[str, str]:
        """Every field this format finds in `line` (for the detail view)."""
        return {}


class JsonLines(Parser):
    format = Format.JSONL
    TS_KEYS = ("ts", "time", "timestamp", "@timestamp")
    MSG_KEYS = ("message", "msg")
    CORE = {"ts", "time", "timestamp", "@timestamp", "level", "severity", "message", "msg",
            "system", "host", "logger"}

    def parse(self, line: str) -> Parsed | None:
        if not line.startswith("{"):
            return None
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(doc, dict):
            return None
        ts = None
        for key in self.TS_KEYS:
            value = doc.get(key)
            if isinstance(value, str) and len(value) >= 19:
                ts = self.clock.iso(value)
            elif isinstance(value, int | float) and not isinstance(value, bool):
                ts = self.clock.epoch(float(value))
            if value is not None:
                break
        level = parse_level(doc.get("level", doc.get("severity")))
        message = next((doc[k] for k in self.MSG_KEYS if k in doc), "")
        extra = {k: v for k, v in doc.items() if k not in self.CORE}
        return Parsed(ts, Level.INFO if level is None else level,
                      _str(doc.get("host")) or None, _str(doc.get("logger")),
                      message if isinstance(message, str) else orjson.dumps(message).decode(),
                      line, orjson.dumps(extra).decode() if extra else None,
                      _str(doc.get("system")) or None)

    def fields(self, line: str) -> dict[str, str]:
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError:
            return {}
        return doc if isinstance(doc, dict) else {}


def _str(value: object) -> str:
    return "" if value is None else value if isinstance(value, str) else str(value)


class Syslog(Parser):
    """RFC 3164 (and its RFC 3339-timestamped variant written by rsyslog) and RFC 5424."""

    format = Format.SYSLOG
    BSD = re.compile(
        r"(?:<(\d{1,3})>)?([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d"
        r"|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?)"
        r" +(\S+) +(?:([^\s\[:]+)(?:\[(\d+)\])?: ?)?")
    RFC5424 = re.compile(r"<(\d{1,3})>(\d{1,2}) (\S+) (\S+) (\S+) (\S+) (\S+) ?")

    def __init__(self, clock: Clock, host: str | None = None) -> None:
        super().__init__(clock, host)
        self.parse = self._parser()  # type: ignore[method-assign]

    def parse(self, line: str) -> Parsed | None:  # replaced per instance by _parser()
        return self._parser()(line)

    def _parser(self) -> Callable[[str], Parsed | None]:
        """The hot path, as a closure: every name it uses is a local or a cell."""
        match, match_5424, rfc5424 = self.BSD.match, self.RFC5424.match, self._rfc5424
        clock, days, into_day = self.clock, self.clock._bsd_days, HOUR_MINUTE  # noqa: SLF001
        words, word_level, info = _WORDS.search, _WORD_LEVEL, int(Level.INFO)
        # Whole stamps seen lately -> time: lines of a busy log share their second.
        seen: dict[str, int] = {}
        seen_get = seen.get

        def parse(line: str) -> Parsed | None:
            m = match(line)
            if m is None:
                if line[:1] == "<" and (m := match_5424(line)) is not None:
                    return rfc5424(line, m)
                return None
            pri, stamp, host, program = m.group(1, 2, 3, 4)
            ts = seen_get(stamp)
            if ts is None:
                if stamp[3] == " ":  # RFC 3164: the day's start, plus the time into it
                    start = days.get(stamp[:6])
                    into = into_day.get(stamp[7:12])
                    sec = int(stamp[13:15])
                    if start is None or into is None or start < 0 or sec > 59:
                        ts = clock.bsd(stamp)
                    else:
                        ts = (start + into + sec) * 1_000_000
                else:
                    ts = clock.iso(stamp)
                if ts is None:
                    return None
                if len(seen) >= 4096:
                    seen.clear()
                seen[stamp] = ts
            end = m.end()
            message = line[end:]
            if pri:
                level = int(pri) & 7
            else:  # guess_level, inlined: most lines hold none of the words
                low = message[:400].lower()
                level = info
                if "err" in low or "fail" in low or "warn" in low or "crit" in low \
                        or "fatal" in low or "emerg" in low or "alert" in low \
                        or "panic" in low:
                    found = words(low)
                    if found:
                        level = word_level[found.group(1)]
            # A plain tuple in Parsed's field order.
            return (ts, level, host, program or "", message, line[:end], None, None)  # type: ignore[return-value]

        return parse

    def _rfc5424(self, line: str, m: re.Match[str]) -> Parsed | None:
        pri, _version, stamp, host, app, procid, msgid = m.groups()
        ts = self.clock.iso(stamp) if stamp != "-" else None
        data, rest = parse_structured_data(line[m.end():])
        if rest is None:
            return None
        message = rest[1:] if rest.startswith("\ufeff") else rest
        extra: dict[str, object] = {"facility": int(pri) >> 3}
        if procid != "-":
            extra["procid"] = procid
        if msgid != "-":
            extra["msgid"] = msgid
        if data:
            extra["sd"] = data
        return Parsed(ts, int(pri) & 7, None if host == "-" else host,
                      "" if app == "-" else app, message, line[:len(line) - len(message)],
                      orjson.dumps(extra).decode())

    def fields(self, line: str) -> dict[str, str]:
        if (m := self.RFC5424.match(line)) is not None:
            names = ("pri", "version", "timestamp", "host", "app", "procid", "msgid")
            return dict(zip(names, m.groups(), strict=True))
        if (m := self.BSD.match(line)) is not None:
            names = ("pri", "timestamp", "host", "program", "pid")
            return {k: v for k, v in zip(names, m.groups(), strict=True) if v is not None}
        return {}


def parse_structured_data(text: str) -> tuple[dict[str, dict[str, str]], str | None]:
    """RFC 5424 STRUCTURED-DATA at the start of `text` -> ({sd-id: {name: value}}, rest).
    rest is None when the data is malformed."""
    if text.startswith("-"):
        return {}, text[2:] if text.startswith("- ") else text[1:]
    data: dict[str, dict[str, str]] = {}
    i = 0
    while i < len(text) and text[i] == "[":
        j = i + 1
        while j < len(text) and text[j] not in " ]":
            j += 1
        sd_id = text[i + 1:j]
        params: dict[str, str] = {}
        while j < len(text) and text[j] == " ":
            eq = text.find('="', j)
            if eq < 0:
                return {}, None
            name = text[j + 1:eq]
            k, value = eq + 2, []
            while k < len(text) and text[k] != '"':
                if text[k] == "\\" and k + 1 < len(text) and text[k + 1] in '"\\]':
                    k += 1
                value.append(text[k])
                k += 1
            if k >= len(text):
                return {}, None
            params[name] = "".join(value)
            j = k + 1
        if j >= len(text) or text[j] != "]":
            return {}, None
        data[sd_id] = params
        i = j + 1
    if not data:
        return {}, None
    return data, text[i + 1:] if text[i:i + 1] == " " else text[i:]


class ApacheAccess(Parser):
    """Apache/Nginx access logs, common and combined (the request line onwards is the
    message; 5xx is an error, 4xx a warning)."""

    format = Format.APACHE_ACCESS
    LINE = re.compile(
        r'(\S+) (\S+) (\S+) \[(\d\d)/([A-Z][a-z]{2})/(\d{4}):(\d\d):(\d\d):(\d\d) '
        r'([+-]\d{4})\] "((?:[^"\\]|\\.)*)" (\d{3}|-) (\d+|-)'
        r'(?: "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)")?')
    NAMES = ("client", "ident", "user", "day", "month", "year", "hour", "minute", "second",
             "offset", "request", "status", "bytes", "referer", "agent")

    def parse(self, line: str) -> Parsed | None:
        m = self.LINE.match(line)
        if m is None:
            return None
        stamp = line[m.start(4):m.end(10)]
        ts = self.clock._cache.get(stamp, -1)  # noqa: SLF001 - the shared per-second cache
        if ts == -1:
            off = m.group(10)
            zone = _offset(off)
            ts = self.clock.wall(int(m.group(6)), MONTHS.get(m.group(5), 0) or 1,
                                 int(m.group(4)), int(m.group(7)), int(m.group(8)),
                                 int(m.group(9)), zone)
            if len(self.clock._cache) >= 1 << 16:  # noqa: SLF001 - bounded
                self.clock._cache.clear()  # noqa: SLF001
            self.clock._cache[stamp] = ts  # noqa: SLF001
        status = m.group(12)
        level = Level.ERROR if status[0] == "5" else Level.WARNING if status[0] == "4" \
            else Level.INFO
        start = m.start(11) - 1
        return Parsed(ts, level, None, "access", line[start:], line[:start])  # type: ignore[arg-type]

    def fields(self, line: str) -> dict[str, str]:
        m = self.LINE.match(line)
        return {k: v for k, v in zip(self.NAMES, m.groups(), strict=True) if v is not None} \
            if m else {}


class ApacheError(Parser):
    """Apache 2.2/2.4 error logs and Nginx error logs."""

    format = Format.APACHE_ERROR
    APACHE = re.compile(
        r"\[(?:[A-Z][a-z]{2}) ([A-Z][a-z]{2}) ([ \d]\d) (\d\d):(\d\d):(\d\d)(?:\.(\d+))? (\d{4})\]"
        r" \[(?:([^\]:]+):)?(\w+)\](?: \[pid (\d+)(?::tid \d+)?\])?(?: \[client ([^\]]+)\])? ?")
    NGINX = re.compile(r"(\d{4})/(\d\d)/(\d\d) (\d\d):(\d\d):(\d\d) \[(\w+)\] (\d+)#\d+: "
                       r"(?:\*\d+ )?")

    def parse(self, line: str) -> Parsed | None:
        if line.startswith("["):
            m = self.APACHE.match(line)
            if m is None:
                return None
            base = self.clock.wall(int(m.group(7)), MONTHS.get(m.group(1), 1),
                                   int(m.group(2)), int(m.group(3)), int(m.group(4)),
                                   int(m.group(5)))
            frac = int((m.group(6) + "000000")[:6]) if m.group(6) else 0
            level = parse_level(m.group(9))
            return Parsed(None if base is None else base + frac,
                          Level.UNKNOWN if level is None else level, None,
                          m.group(8) or "httpd", line[m.end():], line[:m.end()])
        m = self.NGINX.match(line)
        if m is None:
            return None
        y, mo, d, h, mi, s = (int(g) for g in m.group(1, 2, 3, 4, 5, 6))
        level = parse_level(m.group(7))
        return Parsed(self.clock.wall(y, mo, d, h, mi, s),
                      Level.UNKNOWN if level is None else level, None, "nginx",
                      line[m.end():], line[:m.end()])

    def fields(self, line: str) -> dict[str, str]:
        if (m := self.APACHE.match(line)) is not None:
            names = ("month", "day", "hour", "minute", "second", "fraction", "year", "module",
                     "level", "pid", "client")
            return {k: v for k, v in zip(names, m.groups(), strict=True) if v}
        if (m := self.NGINX.match(line)) is not None:
            return {"level": m.group(7), "pid": m.group(8)}
        return {}


_PY_LEVELS = r"(CRITICAL|FATAL|ERROR|WARNING|WARN|INFO|DEBUG|NOTSET)"
_PY_TS = r"(\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[,.]\d{1,6})?)"


class PythonLogging(Parser):
    """Python `logging`: '%(asctime)s - %(name)s - %(levelname)s - %(message)s',
    '%(asctime)s %(levelname)s %(name)s: %(message)s' and the like, and the basicConfig
    default '%(levelname)s:%(name)s:%(message)s' (no time: the previous entry's)."""

    format = Format.PYTHON
    PATTERNS = (
        re.compile(_PY_TS + r" - ([\w.\-]+) - " + _PY_LEVELS + r" - "),
        re.compile(_PY_TS + r" ?-? \[?" + _PY_LEVELS + r"\]? +(?:\[?([\w.\-]+)\]?:? +)?"),
        re.compile(_PY_TS + r" +([\w.\-]+) +" + _PY_LEVELS + r":? +"),
    )
    BASIC = re.compile(_PY_LEVELS + r":([^:\s]*):")

    def parse(self, line: str) -> Parsed | None:
        for i, pattern in enumerate(self.PATTERNS):
            m = pattern.match(line)
            if m is not None:
                stamp = m.group(1)
                name, level = (m.group(2), m.group(3)) if i != 1 else (m.group(3), m.group(2))
                return Parsed(self.clock.iso(stamp), parse_level(level) or Level.INFO, None,
                              name or "", line[m.end():], line[:m.end()])
        m = self.BASIC.match(line)
        if m is not None:
            return Parsed(None, parse_level(m.group(1)) or Level.INFO, None, m.group(2),
                          line[m.end():], line[:m.end()])
        return None


class Generic(Parser):
    """Any line: a timestamp found anywhere and a level word found anywhere."""

    format = Format.GENERIC
    STAMP = re.compile(
        r"(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?)"
        r"|([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d)"
        r"|(\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d(?: [+-]\d{4})?)"
        r"|(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d)")
    LEVEL = re.compile(r"(?i)(?<![\w-])(emerg|alert|crit(?:ical)?|fatal|err(?:or)?|"
                       r"warn(?:ing)?|notice|info|debug|trace)(?![\w-])")

    def parse(self, line: str) -> Parsed | None:
        m = self.STAMP.search(line)
        ts = None
        if m is not None:
            iso, bsd, access, slash = m.groups()
            if iso:
                ts = self.clock.iso(iso.replace(",", "."))
            elif bsd:
                ts = self.clock.bsd(bsd)
            elif access:
                ts = self.clock.wall(int(access[7:11]), MONTHS.get(access[3:6], 1),
                                     int(access[:2]), int(access[12:14]), int(access[15:17]),
                                     int(access[18:20]),
                                     _offset(access[21:]) if len(access) > 20 else False)
            else:
                ts = self.clock.wall(int(slash[:4]), int(slash[5:7]), int(slash[8:10]),
                                     int(slash[11:13]), int(slash[14:16]), int(slash[17:19]))
        lm = self.LEVEL.search(line)
        if ts is None and lm is None:
            return None
        level = parse_level(lm.group(1)) if lm else None
        return Parsed(ts, Level.INFO if level is None else level, None, "", line, "")


PARSERS: dict[Format, Callable[..., Parser]] = {
    Format.JSONL: JsonLines, Format.SYSLOG: Syslog, Format.APACHE_ACCESS: ApacheAccess,
    Format.APACHE_ERROR: ApacheError, Format.PYTHON: PythonLogging, Format.GENERIC: Generic,
}
# Formats whose entries can go on over several lines (stack traces and the like).
MULTILINE = {Format.SYSLOG, Format.APACHE_ERROR, Format.PYTHON, Format.GENERIC}


def make_parser(fmt: Format, zone: tzinfo | None, reference: datetime,
                host: str | None = None) -> Parser:
    return PARSERS[fmt](Clock(zone, reference), host)
