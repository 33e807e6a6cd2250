"""The log store on SQLite and PostgreSQL: incremental ingest with rotation and
truncation, keyset paging, filters, masking, histogram, retention."""

from __future__ import annotations

import gzip
import os
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from console.errors import AccessDenied, NotFound, ValidationError
from console.logs.common import Format, Level
from console.logs.export import export, iter_entries
from console.logs.ingest import ingest
from console.logs.query import LogFilter, detail, fetch
from console.logs.retention import drop_month, list_months, purge_before
from console.logs.stats import approximate_count, first_look, histogram, overview
from console.principal import Principal, PrincipalKind
from models.audit import AuditEvent

T0 = datetime(2026, 10, 30, 23, 0, tzinfo=UTC)


def syslog_lines(start: datetime, n: int, step: float = 7.0, host: str = "srv01") -> str:
    out = []
    for i in range(n):
        t = start + timedelta(seconds=i * step)
        level = "error: disk full on /var" if i % 10 == 3 else f"job {i} done"
        out.append(f"{t:%b} {t.day:2d} {t:%H:%M:%S} {host} cron[{100 + i}]: {level} #{i}")
    return "\n".join(out) + "\n"


def write(path: Path, text: str, *, mtime: datetime | None = None) -> Path:
    path.write_text(text, encoding="utf-8")
    stamp = (mtime or datetime(2026, 11, 22, tzinfo=UTC)).timestamp()
    os.utime(path, (stamp, stamp))
    return path


def run(db, root, *paths: Path, **kw):
    return ingest(db, root, list(paths), zone_name="UTC", final=True, **kw)


def all_ids(db, actor, flt=LogFilter()) -> list[int]:
    return [e.id for e in iter_entries(db, actor, flt)]


def test_incremental_rotation_truncation_gzip(db, root, tmp_path: Path) -> None:
    log = write(tmp_path / "syslog", syslog_lines(T0, 30))
    first = run(db, root, log)
    assert first.entries == 30 and first.files[0].note == "new"
    assert run(db, root, log).entries == 0  # nothing new
    with open(log, "a") as fh:  # grows
        fh.write(syslog_lines(T0 + timedelta(minutes=10), 5))
    assert run(db, root, log).entries == 5
    # rename rotation: syslog -> syslog.1 (then gzip'd), a new syslog appears; lines written
    # to the old file after the last read are picked up from the rotated copy, once
    with open(log, "a") as fh:
        fh.write(syslog_lines(T0 + timedelta(minutes=20), 3))
    rotated = tmp_path / "syslog.1.gz"
    with open(log, "rb") as src, gzip.open(rotated, "wb") as dst:
        shutil.copyfileobj(src, dst)
    log.unlink()
    write(log, syslog_lines(T0 + timedelta(minutes=30), 4, host="srv02"))
    report = run(db, root, rotated, log)
    assert [f.entries for f in report.files] == [3, 4]
    assert report.files[0].note.startswith("rotated: continues")
    # copytruncate: the same inode truncated and rewritten
    write(log, syslog_lines(T0 + timedelta(minutes=40), 2, host="srv03"))
    again = run(db, root, log)
    assert again.entries == 2 and again.files[0].note.startswith(("truncated", "rotated"))
    ids = all_ids(db, root)
    assert len(ids) == len(set(ids)) == 30 + 5 + 3 + 4 + 2
    assert ids == sorted(ids)


def test_continuation_across_runs_appends(db, root, tmp_path: Path) -> None:
    log = write(tmp_path / "app.log", "2026-11-01 10:00:00,000 - app - ERROR - boom\n"
                                      "Traceback (most recent call last):\n")
    run(db, root, log, fmt=Format.PYTHON)
    with open(log, "a") as fh:
        fh.write('  File "x.py", line 1\nValueError: bad\n'
                 "2026-11-01 10:00:01,000 - app - INFO - next\n")
    report = run(db, root, log)
    assert report.files[0].appended == 2 and report.entries == 1
    found = fetch(db, root, LogFilter(levels=frozenset({Level.ERROR}))).entries
    assert found[0].message.endswith("ValueError: bad")
    hits = fetch(db, root, LogFilter(text="ValueError")).entries
    assert [e.id for e in hits] == [found[0].id]  # the appended text is searchable


def test_keyset_paging_forward_and_back_sees_every_row_once(db, root, tmp_path: Path) -> None:
    # Two months, many entries sharing a second, ingested out of time order.
    late = write(tmp_path / "b.log", syslog_lines(T0 + timedelta(hours=26), 150, step=0.3))
    early = write(tmp_path / "a.log", syslog_lines(T0, 120, step=0.25, host="srv09"))
    run(db, root, late)
    run(db, root, early)
    expected = 270
    seen_older: list[int] = []
    anchor = None
    while True:
        page = fetch(db, root, LogFilter(), anchor=anchor, direction="older", limit=17)
        seen_older = [e.id for e in page.entries] + seen_older
        anchor = page.cursor
        if page.exhausted:
            break
    seen_newer: list[int] = []
    anchor = None
    while True:
        page = fetch(db, root, LogFilter(), anchor=anchor, direction="newer", limit=23)
        seen_newer += [e.id for e in page.entries]
        anchor = page.cursor
        if page.exhausted:
            break
    assert len(seen_older) == len(set(seen_older)) == expected
    assert seen_older == seen_newer == sorted(seen_newer)
    assert len(list_months(db, root)) == 2
    # level filter, from the partial index, paged both ways
    errors = [e.id for e in iter_entries(db, root, LogFilter(levels=frozenset({3})))]
    assert len(errors) == 12 + 15
    back = [e.id for e in iter_entries(db, root, LogFilter(levels=frozenset({3})),
                                       newest_first=True)]
    assert back == errors[::-1]


def test_filters_text_regex_time_hosts(db, root, tmp_path: Path) -> None:
    run(db, root, write(tmp_path / "a.log", syslog_lines(T0, 40, host="alpha")),
        write(tmp_path / "b.log", syslog_lines(T0, 40, host="beta")))
    assert len(all_ids(db, root, LogFilter(hosts=frozenset({"beta"})))) == 40
    assert len(all_ids(db, root, LogFilter(text="disk full"))) == 8
    assert len(all_ids(db, root, LogFilter(text='"full disk"'))) == 0  # phrase order
    assert len(all_ids(db, root, LogFilter(text="disk -alpha"))) == 8
    assert len(all_ids(db, root, LogFilter(text="dis*", hosts=frozenset({"alpha"})))) == 4
    assert len(all_ids(db, root, LogFilter(regex=r"#1\d$"))) == 20
    since = T0 + timedelta(seconds=7 * 10)
    window = LogFilter(since=since, until=since + timedelta(seconds=7 * 5))
    assert len(all_ids(db, root, window)) == 10
    # approximate count and histogram come from the rollups
    assert approximate_count(db, root, LogFilter()) == 80
    assert approximate_count(db, root, LogFilter(levels=frozenset({3}))) == 8
    assert approximate_count(db, root, LogFilter(text="disk")) == 8  # from the index
    hist = histogram(db, root, LogFilter(), bars=10)
    assert sum(hist.totals) == 80 and any(3 in b for b in hist.bars)
    with pytest.raises(ValidationError, match="regex"):
        fetch(db, root, LogFilter(regex="("))


def test_escapes_and_markup_are_kept_literally(db, root, tmp_path: Path) -> None:
    hostile = "[bold red]boom[/] \x1b[31mred\x1b[0m \x1b]52;c;ZXZpbA==\x07 \u202eevil"
    run(db, root, write(tmp_path / "h.log", f"Nov  1 10:00:00 h app: {hostile}\n"))
    entry = fetch(db, root, LogFilter()).entries[0]
    assert entry.message == hostile  # stored exactly; shown through display.literal


def vendor(admin: Principal) -> Principal:
    from console.permissions import Permission

    return Principal(name="fp-jane", kind=PrincipalKind.USER,
                     permissions=frozenset({Permission.LOGS_READ}), account_kind="vendor")


def test_masking_for_principals_without_pii_read(db, root, admin, tmp_path: Path) -> None:
    import io

    line = ('{"ts":"2026-11-01T10:00:00Z","level":"error","system":"payroll","message":'
            '"payslip to jane.doe@example.com failed, call +1-555-123-4567","user":'
            '"jane.doe@example.com"}\n')
    run(db, root, write(tmp_path / "p.jsonl", line))
    jane = vendor(admin)
    seen = fetch(db, jane, LogFilter()).entries[0]
    assert "jane.doe@example.com" not in seen.message and "555-123-4567" not in seen.message
    assert seen.masked and "example.com" in seen.message
    assert "jane.doe" not in str(seen.extra) and "jane.doe" not in seen.prefix
    full = detail(db, jane, seen.id)
    assert "jane.doe" not in str(full.fields) + full.raw
    # searching for the hidden parts finds nothing, or is refused outright
    assert fetch(db, jane, LogFilter(text="jane")).entries == []
    with pytest.raises(ValidationError, match="pii.read"):
        fetch(db, jane, LogFilter(text="jane.doe@example.com"))
    assert fetch(db, jane, LogFilter(regex="jane")).entries == []
    out = io.StringIO()
    assert export(db, jane, LogFilter(), out, fmt="csv") == 1
    assert "jane.doe" not in out.getvalue() and "555-123" not in out.getvalue()
    assert "jane.doe@example.com" in fetch(db, root, LogFilter()).entries[0].message
    db.rollback()
    events = db.exec(select(AuditEvent.action, AuditEvent.actor)).all()
    assert ("logs.export", "fp-jane") in events


def test_permissions(db, root, tmp_path: Path) -> None:
    nobody = Principal(name="nobody", kind=PrincipalKind.USER)
    with pytest.raises(AccessDenied):
        fetch(db, nobody, LogFilter())
    with pytest.raises(AccessDenied):
        ingest(db, nobody, [tmp_path])
    with pytest.raises(ValidationError, match="does not exist"):
        run(db, root, tmp_path / "missing.log")


def test_first_look_is_the_first_page_and_the_overview_with_one_live_check(
        db, root, tmp_path: Path) -> None:
    """What the browser loads after a new filter: the same page and overview as the
    separate calls, the permissions checked once, and refused once they are gone."""
    from dataclasses import replace

    from console.permissions import Permission

    run(db, root, write(tmp_path / "a.log", syslog_lines(T0, 40)))
    errors = LogFilter(levels=frozenset({3}))
    checks: list[str] = []
    granted = {Permission.LOGS_READ}

    def authorizer(_p: Principal) -> frozenset[Permission]:
        checks.append("check")
        return frozenset(granted)

    reader = Principal(name="reader", kind=PrincipalKind.USER, authorizer=authorizer)
    look = first_look(db, reader, errors, limit=100, bars=10)
    assert len(checks) == 1
    assert [e.id for e in look.page.entries] == [e.id for e in fetch(db, root, errors).entries]
    assert len(look.page.entries) == look.overview.total == 4
    assert look.overview.histogram.totals == histogram(db, root, errors, bars=10).totals
    assert look.overview.masked  # no pii.read
    assert not overview(db, root, errors).masked
    checked = reader.checked()
    assert checked.authorizer is None and checked.permissions == {Permission.LOGS_READ}
    assert replace(checked, name="x").checked().permissions == checked.permissions
    granted.clear()  # the role was taken away: the next call is refused
    with pytest.raises(AccessDenied):
        first_look(db, reader, errors)


def test_retention_drops_months_and_trims_the_boundary(db, root, tmp_path: Path) -> None:
    t1 = datetime(2026, 10, 31, 23, 0, tzinfo=UTC)
    run(db, root, write(tmp_path / "a.log", syslog_lines(t1 - timedelta(days=40), 10)),
        write(tmp_path / "b.log", syslog_lines(t1, 20, step=600)))
    months = {m.month: m.rows for m in list_months(db, root)}
    assert months == {"2026-09": 10, "2026-10": 6, "2026-11": 14}
    assert drop_month(db, root, "2026-09") == 10
    with pytest.raises(NotFound):
        drop_month(db, root, "2026-09")
    with pytest.raises(ValidationError):
        drop_month(db, root, "September")
    result = purge_before(db, root, t1 + timedelta(hours=2))
    assert result.months_dropped == ["2026-10"] and result.rows_trimmed == 6
    left = list(iter_entries(db, root, LogFilter()))
    assert len(left) == 8 and all(e.ts >= t1 + timedelta(hours=2) for e in left)
    assert fetch(db, root, LogFilter(text="disk")).entries  # the index still agrees
    assert approximate_count(db, root, LogFilter()) <= 14
    db.rollback()
    actions = list(db.exec(select(AuditEvent.action)).all())
    assert "logs.drop_month" in actions and "logs.purge" in actions


def test_follow_sees_appended_lines(db, root, tmp_path: Path) -> None:
    log = write(tmp_path / "live.log", syslog_lines(T0, 3))
    run(db, root, log)
    last = fetch(db, root, LogFilter()).entries[-1].id
    with open(log, "a") as fh:
        fh.write(syslog_lines(T0 + timedelta(minutes=1), 2))
    ingest(db, root, [log], zone_name="UTC", final=False)
    new = fetch(db, root, LogFilter(), anchor=last, direction="newer").entries
    assert len(new) == 2
    time.sleep(0)  # (no timing assertions)


@pytest.mark.parametrize("forked", [True, False], ids=["forked", "spawned"])
def test_parsing_in_a_second_process_gives_the_same_entries(db, root, tmp_path: Path,
                                                             monkeypatch, forked: bool) -> None:
    import console.logs.ingest as ingest_module
    import console.logs.reader as reader_module
    import console.logs.worker as worker_module

    text = syslog_lines(T0, 3000, step=0.5)
    one = write(tmp_path / "one.log", text)
    two = write(tmp_path / "two.log", "Oct 30 22:59:59 srv01 cron[1]: head\n" + text)
    monkeypatch.setattr(ingest_module, "PARALLEL_BYTES", 1 << 60)
    sequential = run(db, root, one)
    monkeypatch.setattr(ingest_module, "PARALLEL_BYTES", 1)
    monkeypatch.setattr(ingest_module, "_spare_core", lambda: True)
    # a process with threads starts `python -m console.logs.worker`; else it forks
    monkeypatch.setattr(worker_module, "can_fork", lambda: forked)
    monkeypatch.setattr(reader_module, "CHUNK_LINES", 700)  # several chunks through the pipe
    parallel = run(db, root, two)
    assert parallel.entries == sequential.entries + 1 == 3001
    rows = list(iter_entries(db, root, LogFilter()))
    by_file: dict[int | None, list[str]] = {}
    for entry in rows:
        by_file.setdefault(entry.file_id, []).append(entry.message)
    first, second = sorted(by_file.values(), key=len)
    assert second[1:] == first and second[0] == "head"


def test_ids_stay_unique_when_thousands_share_a_second(db, root, tmp_path: Path) -> None:
    stamp = "Nov  5 10:00:00"
    burst = "".join(f"{stamp} h app: burst {i}\n" for i in range(2500))  # > 1024 per µs
    run(db, root, write(tmp_path / "a.log", burst))
    # another file in the very same second, and one a little earlier: out of order
    run(db, root, write(tmp_path / "b.log", "".join(f"{stamp} g app: more {i}\n"
                                                    for i in range(1500))))
    run(db, root, write(tmp_path / "c.log", "Nov  5 09:59:59 g app: before\n"
                                            f"{stamp} g app: late\n"))
    entries = list(iter_entries(db, root, LogFilter()))
    ids = [e.id for e in entries]
    assert len(ids) == len(set(ids)) == 2500 + 1500 + 2
    assert entries[0].message == "before"
    assert [e.message for e in entries[1:2501]] == [f"burst {i}" for i in range(2500)]
    assert all(e.ts.second == 0 and e.ts.microsecond < 10 for e in entries[1:])


def test_a_follower_sees_rows_arriving_in_the_current_month(db, root, tmp_path: Path) -> None:
    log = write(tmp_path / "live.log", syslog_lines(T0 + timedelta(days=2), 10))
    run(db, root, log)
    errors = LogFilter(levels=frozenset({Level.ERROR}))
    page = fetch(db, root, errors, direction="newer")
    assert page.exhausted and len(page.entries) == 1
    cursor = page.cursor  # as `logs tail -f` keeps it
    assert fetch(db, root, errors, anchor=cursor, direction="newer").entries == []
    with open(log, "a") as fh:
        fh.write(syslog_lines(T0 + timedelta(days=2, minutes=5), 5))  # one more error
    run(db, root, log)
    later = fetch(db, root, errors, anchor=cursor, direction="newer")
    assert len(later.entries) == 1 and later.entries[0].message.endswith("#3")


def test_times_going_back_and_files_sharing_seconds_keep_ids_unique_and_in_time(
        db, root, tmp_path: Path) -> None:
    # a file whose time goes back (two writers), then one whose seconds all repeat the
    # first file's: their ids are fitted among the stored ones, each at its own time
    shuffled = syslog_lines(T0 + timedelta(seconds=60), 20, step=1) + \
        syslog_lines(T0, 20, step=1, host="early")
    run(db, root, write(tmp_path / "a.log", shuffled))
    run(db, root, write(tmp_path / "b.log", syslog_lines(T0, 80, step=1, host="other")))
    entries = list(iter_entries(db, root, LogFilter()))
    ids = [e.id for e in entries]
    assert len(ids) == len(set(ids)) == 120 and ids == sorted(ids)
    for e in entries:  # each entry keeps the second its line says
        number = int(e.message.rsplit("#", 1)[1])
        offset = 60 if e.host == "srv01" else 0
        assert e.ts.replace(microsecond=0) == T0 + timedelta(seconds=offset + number)
    for host in ("srv01", "early", "other"):  # and, within a second, the file's order
        numbers = [int(e.message.rsplit("#", 1)[1]) for e in entries if e.host == host]
        assert numbers == sorted(numbers)
    assert approximate_count(db, root, LogFilter()) == 120
    assert len(all_ids(db, root, LogFilter(text="disk"))) == 2 + 2 + 8


def test_continuation_lines_with_nothing_to_continue_are_kept(db, root, tmp_path: Path) -> None:
    log = write(tmp_path / "app.log", "  at the top, indented\n"
                                      "Traceback (most recent call last):\n"
                                      "Nov  1 10:00:00 h app: first entry\n")
    report = run(db, root, log)
    assert report.entries == 3 and report.unparsed == 2
    entries = list(iter_entries(db, root, LogFilter()))
    assert [e.message for e in entries[:2]] == ["  at the top, indented",
                                                "Traceback (most recent call last):"]
    assert [e.level for e in entries] == [Level.UNKNOWN, Level.UNKNOWN, Level.INFO]
    assert fetch(db, root, LogFilter(text="indented")).entries
