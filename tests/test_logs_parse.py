"""Log formats parsed from real-looking samples: continuation lines, RFC 5424 structured
data, IPv6, invalid UTF-8, gzip, year inference, auto detection."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from console.logs.common import Format, Level, from_us, parse_levels, parse_when
from console.logs.formats import make_parser
from console.logs.reader import Assembler, Chunk, detect, read_chunks, sample

REF = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def parse(fmt: Format, line: str, ref: datetime = REF):
    return make_parser(fmt, UTC, ref, "here").parse(line)


def entries(fmt: Format, text: str | bytes, ref: datetime = REF) -> SimpleNamespace:
    """Every chunk's entries as (ts, level, host, program, message, prefix, extra, source,
    line) tuples, with the unparsed count and leading continuation lines."""
    import io

    data = text.encode() if isinstance(text, str) else text
    assembler = Assembler(make_parser(fmt, UTC, ref, "here"), fmt, 0)
    chunks: list[Chunk] = list(read_chunks(io.BytesIO(data), assembler, offset=0, line_no=0,
                                           final=True))
    merged = SimpleNamespace(entries=[], unparsed=0, leading=[])
    for c in chunks:
        merged.entries += c.entries
        merged.unparsed += c.unparsed
        merged.leading += c.leading
    return merged


def test_syslog_3164_with_ipv6_and_level_words() -> None:
    p = parse(Format.SYSLOG, "Nov 22 01:02:03 srv01 sshd[4242]: Failed password for root from "
                             "2001:db8::1 port 22 ssh2")
    assert from_us(p[0]) == datetime(2026, 11, 22, 1, 2, 3, tzinfo=UTC)
    assert (p[1], p[2], p[3]) == (Level.WARNING, "srv01", "sshd")
    assert p[4].startswith("Failed password") and "2001:db8::1" in p[4]
    assert p[5] + p[4] == ("Nov 22 01:02:03 srv01 sshd[4242]: Failed password for root from "
                           "2001:db8::1 port 22 ssh2")
    pri = parse(Format.SYSLOG, "<11>Nov 22 01:02:03 srv01 app: all fine")
    assert pri[1] == Level.ERROR  # severity from PRI wins over the words


def test_rfc3164_year_never_in_the_future() -> None:
    jan = datetime(2027, 1, 5, 12, tzinfo=UTC)
    assert from_us(parse(Format.SYSLOG, "Dec 31 23:59:59 h p: x", jan)[0]).year == 2026
    assert from_us(parse(Format.SYSLOG, "Jan  4 10:00:00 h p: x", jan)[0]).year == 2027
    assert from_us(parse(Format.SYSLOG, "Jan  9 10:00:00 h p: x", jan)[0]).year == 2026


def test_rfc5424_structured_data() -> None:
    line = ('<165>1 2026-11-22T01:02:03.123Z mymachine.example.com evntslog 42 ID47 '
            '[exampleSDID@32473 iut="3" eventSource="Appl\\"ication" eventID="1011"]'
            '[examplePriority@32473 class="high"] \ufeffAn application event log entry')
    p = parse(Format.SYSLOG, line)
    assert p[1] == Level.NOTICE and p[2] == "mymachine.example.com" and p[3] == "evntslog"
    assert p[4] == "An application event log entry"
    import orjson

    extra = orjson.loads(p[6])
    assert extra["sd"]["exampleSDID@32473"]["eventSource"] == 'Appl"ication'
    assert extra["sd"]["examplePriority@32473"] == {"class": "high"}
    assert extra["procid"] == "42" and extra["msgid"] == "ID47" and extra["facility"] == 20
    assert from_us(p[0]) == datetime(2026, 11, 22, 1, 2, 3, 123000, tzinfo=UTC)


def test_apache_access_common_and_combined_ipv6() -> None:
    combined = ('2001:db8::5 - frank [22/Nov/2026:01:02:03 +0100] "GET /api/orders?id=7 '
                'HTTP/1.1" 503 2326 "https://shop.example/" "Mozilla/5.0 (X11)"')
    p = parse(Format.APACHE_ACCESS, combined)
    assert from_us(p[0]) == datetime(2026, 11, 22, 0, 2, 3, tzinfo=UTC)
    assert p[1] == Level.ERROR and p[4].startswith('"GET /api/orders')
    common = parse(Format.APACHE_ACCESS,
                   '10.0.0.1 - - [22/Nov/2026:01:02:03 -0000] "GET / HTTP/1.0" 404 -')
    assert common[1] == Level.WARNING


def test_apache_and_nginx_error() -> None:
    p = parse(Format.APACHE_ERROR, "[Sun Nov 22 01:02:03.123456 2026] [proxy:error] [pid 12:tid"
                                   " 34] [client 10.0.0.1:5555] AH00957: connect to backend")
    assert p[1] == Level.ERROR and p[3] == "proxy" and p[4] == "AH00957: connect to backend"
    n = parse(Format.APACHE_ERROR, "2026/11/22 01:02:03 [warn] 1234#0: *5 upstream slow")
    assert n[1] == Level.WARNING and n[4] == "upstream slow"


def test_python_logging_with_traceback_continuation() -> None:
    text = ("2026-11-22 01:02:03,123 - payroll.run - ERROR - run failed\n"
            "Traceback (most recent call last):\n"
            '  File "run.py", line 3, in <module>\n'
            "    1 / 0\n"
            "ZeroDivisionError: division by zero\n"
            "2026-11-22 01:02:04,000 - payroll.run - INFO - retrying\n"
            "WARNING:root:basic format\n")
    chunk = entries(Format.PYTHON, text)
    assert [e[1] for e in chunk.entries] == [Level.ERROR, Level.INFO, Level.WARNING]
    first = chunk.entries[0]
    assert first[4].endswith("ZeroDivisionError: division by zero")
    assert first[4].count("\n") == 4 and first[3] == "payroll.run"
    assert chunk.entries[2][0] == chunk.entries[1][0]  # no time in the line: the previous one


def test_unparsed_lines_kept_and_counted_invalid_utf8_replaced() -> None:
    data = (b"Nov 22 01:02:03 h p: ok\n"
            b"garbage \xff\xfe line\n"
            b"Nov 22 01:02:04 h p: caf\xc3\xa9 \xe9t\xe9\n")
    chunk = entries(Format.SYSLOG, data)
    assert len(chunk.entries) == 3 and chunk.unparsed == 1
    assert chunk.entries[1][1] == Level.UNKNOWN and "\ufffd" in chunk.entries[1][4]
    assert chunk.entries[2][4] == "café \ufffdt\ufffd"


def test_jsonl_fields_and_extra() -> None:
    p = parse(Format.JSONL, '{"ts":"2026-11-22T01:02:03.5+01:00","level":"warning","system":'
                            '"pos","host":"pos-gw","logger":"pos.sync","message":"slow",'
                            '"user":"ann","request_id":"r-1","ms":12}')
    assert from_us(p[0]) == datetime(2026, 11, 22, 0, 2, 3, 500000, tzinfo=UTC)
    assert (p[1], p[2], p[3], p[4], p[7]) == (Level.WARNING, "pos-gw", "pos.sync", "slow", "pos")
    assert '"request_id":"r-1"' in p[6] and '"ms":12' in p[6]
    assert parse(Format.JSONL, "{not json") is None


def test_generic_finds_time_and_level_anywhere() -> None:
    p = parse(Format.GENERIC, "[worker-3] at 2026-11-22T01:02:03Z job=7 FATAL out of memory")
    assert from_us(p[0]) == datetime(2026, 11, 22, 1, 2, 3, tzinfo=UTC)
    assert p[1] == Level.CRITICAL


@pytest.mark.parametrize(("text", "expected"), [
    ('{"ts": "2026-11-22T01:02:03Z", "message": "x"}\n' * 5, Format.JSONL),
    ("Nov 22 01:02:03 h sshd[1]: x\n" * 5, Format.SYSLOG),
    ('1.2.3.4 - - [22/Nov/2026:01:02:03 +0000] "GET / HTTP/1.1" 200 5\n' * 5,
     Format.APACHE_ACCESS),
    ("[Sun Nov 22 01:02:03 2026] [error] [client 1.2.3.4] x\n" * 5, Format.APACHE_ERROR),
    ("2026-11-22 01:02:03,001 INFO app: x\n" * 5, Format.PYTHON),
    ("something at 2026-11-22 01:02:03 happened\n" * 5, Format.GENERIC),
])
def test_auto_detection(tmp_path: Path, text: str, expected: Format) -> None:
    path = tmp_path / "x.log.gz"
    with gzip.open(path, "wt") as fh:  # detection reads through gzip too
        fh.write(text)
    parsers = {f: make_parser(f, UTC, REF) for f in Format if f != Format.AUTO}
    assert detect(sample(path), parsers) == expected


def test_user_input_parsing() -> None:
    now = datetime(2026, 11, 22, 12, tzinfo=UTC)
    assert parse_when("last 1h", now) == datetime(2026, 11, 22, 11, tzinfo=UTC)
    assert parse_when("2026-11-22 10:00", now, UTC) == datetime(2026, 11, 22, 10, tzinfo=UTC)
    with pytest.raises(ValueError, match="not a time"):
        parse_when("tomorrowish", now)
    assert parse_levels("warn+") == {0, 1, 2, 3, 4}
    with pytest.raises(ValueError, match="unknown level"):
        parse_levels("loud")


def test_times_on_daylight_saving_days_follow_the_zone() -> None:
    # Times are worked out per day and cached: the days the offset changes take the
    # exact path, so each time gets the offset in force at that moment.
    from zoneinfo import ZoneInfo

    berlin = ZoneInfo("Europe/Berlin")
    syslog = make_parser(Format.SYSLOG, berlin, REF, "here")
    python = make_parser(Format.PYTHON, berlin, REF, "here")
    for month, day, hour, minute in ((3, 29, 1, 59), (3, 29, 3, 0), (3, 29, 23, 59),
                                     (3, 30, 0, 0), (10, 25, 1, 30), (10, 25, 3, 30),
                                     (6, 1, 12, 0), (1, 1, 0, 0)):
        wall = datetime(2026, month, day, hour, minute, 7, tzinfo=berlin)
        line = f"{wall:%b} {wall.day:2d} {wall:%H:%M:%S} h p: x"
        assert from_us(syslog.parse(line)[0]) == wall, line
        line = f"{wall:%Y-%m-%d %H:%M:%S},250 - app - INFO - x"
        assert from_us(python.parse(line)[0]) == wall.replace(microsecond=250000), line
    assert syslog.parse("Nov 22 24:00:00 h p: x") is None  # no such time: not an entry
    assert syslog.parse("Nov 31 10:00:00 h p: x") is None


def test_rollups_count_the_same_for_sparse_and_dense_times() -> None:
    """Dense times are counted per 5-minute slice, sparse ones entry by entry: both give
    every (bucket, level, source) its exact count."""
    parser = make_parser(Format.SYSLOG, UTC, datetime(2026, 11, 22, tzinfo=UTC), "here")
    base = 1_790_000_000 * 1_000_000
    for gap_s in (1, 3600):  # dense: 300 entries per bucket; sparse: one per hour
        assembler = Assembler(parser, Format.SYSLOG, 0, source="app")
        assembler.origin_keys = [("app", "h1", ""), ("db", "h2", "")]
        ts = tuple(base + i * gap_s * 1_000_000 for i in range(900))
        levels = tuple(3 if i % 7 == 0 else 6 for i in range(900))
        origins = [i % 2 for i in range(900)]
        expected: dict = {}
        for t, lv, o in zip(ts, levels, origins, strict=True):
            key = (t // 300_000_000, lv, ("app", "db")[o])
            expected[key] = expected.get(key, 0) + 1
        assert dict(assembler._rollups(ts, levels, origins, in_order=True)) == expected
        assert dict(assembler._rollups(ts, levels, origins, in_order=False)) == expected
