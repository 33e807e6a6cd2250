"""Processing logs: ingest, search, tail, export, and the months kept."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from console.commands.base import CliState, fail, print_table

FORMATS = ["auto", "jsonl", "syslog", "apache-access", "apache-error", "python", "generic"]


@click.group()
def logs() -> None:
    """Processing logs: ingest the servers' log files, search and follow them."""


def filter_options(fn):
    for option in reversed((
        click.option("--level", "levels", metavar="LEVELS",
                     help="e.g. error,warn or warn+ (that level and worse)."),
        click.option("--source", "sources", multiple=True, help="Source system (repeatable)."),
        click.option("--host", "hosts", multiple=True, help="Host (repeatable)."),
        click.option("--since", metavar="WHEN", help="15m, 1h, 2d (ago), 2026-11-22 14:00, ..."),
        click.option("--until", metavar="WHEN", help="Same forms as --since."),
        click.option("--text", default="", help='Words that must appear ("a phrase", '
                     "word*, -word)."),
        click.option("--regex", default="", help="Python regular expression on the message."),
    )):
        fn = option(fn)
    return fn


def build_filter(state: CliState, levels: str | None, sources: tuple[str, ...],
                 hosts: tuple[str, ...], since: str | None, until: str | None, text: str,
                 regex: str):
    from console import clock
    from console.display import zone
    from console.errors import ValidationError
    from console.logs.common import parse_levels, parse_when
    from console.logs.query import LogFilter

    tz = zone(state.settings().ui.timezone)
    now = clock.now()
    try:
        return LogFilter(
            levels=parse_levels(levels) if levels else None,
            sources=frozenset(sources) or None, hosts=frozenset(hosts) or None,
            since=parse_when(since, now, tz) if since else None,
            until=parse_when(until, now, tz) if until else None, text=text, regex=regex)
    except ValueError as exc:
        raise ValidationError("filter", str(exc)) from None


class _Escaping:
    """Standard output through `escape`: JSON Lines always get C1 and BIDI characters as
    \\u escapes (the same JSON); CSV on a terminal gets every control shown, not obeyed."""

    def __init__(self, out: Any, escape: Callable[[str], str]) -> None:
        self.out, self.escape = out, escape

    def write(self, text: str) -> int:
        return self.out.write(self.escape(text))


def _print(entries, fmt: str, tz: str) -> None:
    from console.display import json_safe, local_time, printable
    from console.logs.export import write_entries

    if fmt in ("jsonl", "csv"):
        out: Any = sys.stdout
        if fmt == "jsonl":
            out = _Escaping(sys.stdout, json_safe)
        elif sys.stdout.isatty():
            out = _Escaping(sys.stdout, lambda text: "\r\n".join(
                printable(part) for part in text.split("\r\n")))
        write_entries(iter(entries), out, fmt)
        sys.stdout.flush()
        return
    for e in entries:
        click.echo(f"{local_time(e.ts, tz, '%Y-%m-%d %H:%M:%S')} {e.level.label:<7} "
                   f"{printable(e.source)} {printable(e.host)} "
                   f"{printable(e.program) + ': ' if e.program else ''}"
                   f"{printable(e.message, max_len=2000)}")


@logs.command("ingest")
@click.argument("paths", nargs=-1, required=True,
                type=click.Path(path_type=Path, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="auto", show_default=True)
@click.option("--source", help="Source system name (default: from the file name).")
@click.option("--follow", is_flag=True, help="Keep reading as the files grow (Ctrl-C stops).")
@click.pass_obj
def logs_ingest(state: CliState, paths: tuple[Path, ...], fmt: str, source: str | None,
                follow: bool) -> None:
    """Read what is new in log files (plain or .gz) into the store."""
    from console.logs.common import Format
    from console.logs.ingest import FollowAudit, IngestReport, flush_follow_audit, ingest

    db = state.session()
    actor = state.principal(db)
    settings = state.settings()
    zone_name = settings.logs.timezone

    def run(progress=None, final=None, follow=None) -> IngestReport:
        return ingest(db, actor, list(paths), fmt=Format(fmt), source=source,
                      zone_name=zone_name, progress=progress, final=final, follow=follow)

    def summary(report: IngestReport, quiet_unchanged: bool = False) -> None:
        for f in report.files:
            if quiet_unchanged and not f.lines:
                continue
            click.echo(f"{f.path}: {f.format or '-'} source={f.source or '-'} "
                       f"lines={f.lines} entries={f.entries} unparsed={f.unparsed}"
                       f"{f' appended={f.appended}' if f.appended else ''} ({f.note})")

    total = sum(p.stat().st_size for p in paths if p.is_file())
    if sys.stderr.isatty() and not follow:
        with click.progressbar(length=max(total, 1), label="ingesting", file=sys.stderr,
                               show_eta=True) as bar:
            report = run(progress=lambda n, _p: bar.update(n))
    else:
        report = run()
    summary(report)
    click.echo(f"{report.lines} lines, {report.entries} entries ({report.unparsed} unparsed) "
               f"in {report.seconds:.2f}s: {report.lines_per_second:,.0f} lines/s")
    if not follow:
        return
    click.echo("following; Ctrl-C stops", err=True)
    follow_audit = FollowAudit(every=300, last={str(p): time.monotonic() for p in paths})
    try:
        while True:
            time.sleep(settings.logs.follow_poll_seconds)
            summary(run(final=False, follow=follow_audit), quiet_unchanged=True)
    except KeyboardInterrupt:
        flush_follow_audit(db, actor, follow_audit)
        click.echo("stopped", err=True)


@logs.command("search")
@filter_options
@click.option("--limit", type=click.IntRange(1, 1_000_000), default=100, show_default=True,
              help="The newest N matches (printed oldest first).")
@click.option("--format", "fmt", type=click.Choice(["table", "jsonl", "csv"]), default="table",
              show_default=True)
@click.pass_obj
def logs_search(state: CliState, levels, sources, hosts, since, until, text, regex,
                limit: int, fmt: str) -> None:
    """Print the newest entries matching the filters (masked without pii.read)."""
    from console.logs.export import iter_entries
    from console.logs.query import record_search

    db = state.session()
    actor = state.principal(db)
    flt = build_filter(state, levels, sources, hosts, since, until, text, regex)
    record_search(db, actor, flt, where="cli")
    entries = list(iter_entries(db, actor, flt, newest_first=True, limit=limit))
    entries.reverse()
    _print(entries, fmt, state.settings().ui.timezone)


@logs.command("tail")
@filter_options
@click.option("-n", "--lines", "count", type=click.IntRange(1, 10_000), default=20,
              show_default=True)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new entries (Ctrl-C stops).")
@click.option("--format", "fmt", type=click.Choice(["table", "jsonl", "csv"]), default="table",
              show_default=True)
@click.pass_obj
def logs_tail(state: CliState, levels, sources, hosts, since, until, text, regex, count: int,
              follow: bool, fmt: str) -> None:
    """The newest entries; with -f, new ones as they arrive."""
    from console.logs.query import fetch, record_search

    db = state.session()
    actor = state.principal(db)
    flt = build_filter(state, levels, sources, hosts, since, until, text, regex)
    record_search(db, actor, flt, where="cli")
    page = fetch(db, actor, flt, limit=count)
    tz = state.settings().ui.timezone
    _print(page.entries, fmt, tz)
    if not follow:
        return
    last = page.entries[-1].id if page.entries else None
    if last is None:
        newest = fetch(db, actor, flt.__class__(), limit=1).entries
        last = newest[-1].id if newest else 0
    try:
        while True:
            time.sleep(state.settings().logs.follow_poll_seconds)
            db.rollback()
            new = fetch(db, actor, flt, anchor=last, direction="newer", limit=1000)
            if new.entries:
                _print(new.entries, fmt, tz)
                last = new.entries[-1].id
            elif new.cursor > last:
                last = new.cursor
    except KeyboardInterrupt:
        pass


@logs.command("export")
@filter_options
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl",
              show_default=True)
@click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False),
              help="File to write (default: standard output).")
@click.pass_obj
def logs_export(state: CliState, levels, sources, hosts, since, until, text, regex, fmt: str,
                output: Path | None) -> None:
    """Export every entry matching the filters, oldest first (masked without pii.read)."""
    from console.logs.export import export

    db = state.session()
    actor = state.principal(db)
    flt = build_filter(state, levels, sources, hosts, since, until, text, regex)
    if output is None:
        export(db, actor, flt, sys.stdout, fmt=fmt, where="cli")
        return
    with open(output, "w", encoding="utf-8", newline="") as out:
        count = export(db, actor, flt, out, fmt=fmt, where=str(output))
    click.echo(f"wrote {count} entries to {output}", err=True)


@logs.command("months")
@click.pass_obj
def logs_months(state: CliState) -> None:
    """The months of logs kept, with their entry counts."""
    from console.logs.retention import list_months

    db = state.session()
    months = list_months(db, state.principal(db))
    print_table(("month", "entries"), [(m.month, f"{m.rows:,}") for m in months])


@logs.command("drop-month")
@click.argument("month")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def logs_drop_month(state: CliState, month: str, yes: bool) -> None:
    """Delete one month of logs whole (MONTH as YYYY-MM)."""
    from console.logs.retention import drop_month

    if not yes and not click.confirm(f"Delete every log entry of {month}?"):
        fail("nothing deleted", 1)
    db = state.session()
    started = time.perf_counter()
    rows = drop_month(db, state.principal(db), month)
    click.echo(f"dropped {month}: {rows:,} entries in {time.perf_counter() - started:.3f}s")
