"""Benchmark of the processing-log store: ingest and queries, each figure next to a
reference run on the same machine in the same run (lnav, the sqlite3 CLI).

    .venv/bin/python bench/logs.py [--lines 1000000] [--keep DIR]

Prints one figure per line: `name: value  (reference: value)`.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HOSTS = [f"srv{i:02d}" for i in range(8)]
PROGRAMS = ["sshd", "CRON", "kernel", "systemd", "payroll", "nginx", "postfix/smtpd"]
MESSAGES = [  # (weight, template): about 1 % errors and 5 % warnings, as on a real server
    (30, "pam_unix(cron:session): session opened for user root by (uid=0)"),
    (25, "Started Session {p} of user deploy."),
    (20, "Accepted publickey for deploy from 10.0.{a}.{b} port {p} ssh2"),
    (15, "payroll batch {p} committed in {a} ms"),
    (4, "Failed password for invalid user admin from 203.0.113.{a} port {p} ssh2"),
    (1, "warning: hostname unknown does not resolve to address 198.51.100.{a}"),
    (1, "error: connect to 10.1.{a}.{b}:5432 failed: Connection refused"),
]


def generate(path: Path, n: int, start: datetime) -> None:
    rng = random.Random(1)
    weights = [w for w, _ in MESSAGES]
    templates = [t for _, t in MESSAGES]
    t = start.timestamp()
    with open(path, "w", encoding="utf-8") as out:
        buf = []
        for _ in range(n):
            t += rng.random() * 2.5
            stamp = datetime.fromtimestamp(int(t), UTC)
            msg = rng.choices(templates, weights)[0].format(
                a=rng.randint(0, 255), b=rng.randint(0, 255), p=rng.randint(1000, 65000))
            buf.append(f"{stamp:%b} {stamp.day:2d} {stamp:%H:%M:%S} {rng.choice(HOSTS)} "
                       f"{rng.choice(PROGRAMS)}[{rng.randint(100, 30000)}]: {msg}\n")
            if len(buf) >= 20000:
                out.write("".join(buf))
                buf = []
        out.write("".join(buf))
    os.utime(path, (t, t))


def timed(fn, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def sqlite_cli(db: Path, sql: str, repeat: int = 200) -> float:
    """The same SQL typed into the sqlite3 CLI: seconds per run, from one CLI process
    running it `repeat` times, less the same process running `SELECT 1` as often."""

    def run(statement: str) -> float:
        script = f".output /dev/null\n{(statement.rstrip(';') + ';' + chr(10)) * repeat}"
        started = time.perf_counter()
        subprocess.run(["sqlite3", "-readonly", str(db)], input=script, text=True,
                       capture_output=True, check=False)
        return time.perf_counter() - started

    base = min(run("SELECT 1") for _ in range(3))
    return max(min(run(sql) for _ in range(3)) - base, 0.0) / repeat


async def tui_keystrokes(settings, password: str) -> list[tuple[str, float]]:
    """Keystroke to repaint in the real app (headless, 80x24): press, then wait until the
    view has its rows and the frame is drawn."""
    from console.app import ConsoleApp
    from console.logs.query import LogFilter
    from console.runtime import open_runtime

    runtime = open_runtime(settings)
    app = ConsoleApp(runtime, host="bench")
    figures: list[tuple[str, float]] = []
    async with app.run_test(size=(80, 24)) as pilot:
        async def idle(view) -> None:
            for _ in range(2000):
                await app.workers.wait_for_complete()
                await pilot.pause()
                if view.pending is None:
                    return

        while type(app.screen).__name__ != "LoginScreen":
            await pilot.pause(0.05)
        app.screen.query_one("#username").value = "admin"
        app.screen.query_one("#password").value = password
        app.screen.query_one("#password").focus()
        await pilot.press("enter")
        while type(app.screen).__name__ != "DashboardScreen":
            await pilot.pause(0.05)
        await pilot.press("4")
        while type(app.screen).__name__ != "LogsScreen":
            await pilot.pause(0.05)
        view = app.screen.query_one("LogView")
        await idle(view)
        await pilot.pause(0.5)
        await idle(view)
        # Time from the key event reaching the app to the last frame produced for it
        # (compositor update turned into terminal output), so Pilot's waiting is not
        # counted. Headless, Textual skips the output step: do it here.
        import asyncio

        from textual import events
        from textual._compositor import CompositorUpdate

        driver = app._driver  # noqa: SLF001
        writes: list[float] = []
        original = app._display  # noqa: SLF001

        def display(screen, renderable) -> None:
            if isinstance(renderable, CompositorUpdate):
                renderable.render_segments(app.console)
                writes.append(time.perf_counter())
            original(screen, renderable)

        app._display = display  # type: ignore[method-assign]  # noqa: SLF001

        async def keystroke(key: str) -> float:
            await pilot.pause(0.3)
            writes.clear()
            started = time.perf_counter()
            driver.send_message(events.Key(key, None))
            quiet_since = time.perf_counter()
            count = 0
            while time.perf_counter() - quiet_since < 0.25:
                await asyncio.sleep(0.005)
                if len(writes) != count or view.pending is not None:
                    count = len(writes)
                    quiet_since = time.perf_counter()
            return (writes[-1] - started) if writes else float("nan")

        for label, key, times in (("down (in the window)", "down", 5),
                                  ("page up (pages in older rows)", "pageup", 10),
                                  ("g (first entry)", "g", 3), ("G (last entry)", "G", 3)):
            runs = [await keystroke(key) for _ in range(times)]
            figures.append((label, max(runs)))
        screen = app.screen
        writes.clear()
        shown: list[float] = []
        received: list[float] = []
        started = time.perf_counter()
        screen.apply_filter(LogFilter(levels=frozenset({3})))
        quiet_since, count = time.perf_counter(), 0
        while time.perf_counter() - quiet_since < 0.25:
            await asyncio.sleep(0.002)
            if not received and view.entries and all(e.level == 3 for e in view.entries):
                received.append(time.perf_counter())
            if received and not shown:
                shown.extend(w for w in writes if w >= received[0])
            if len(writes) != count or view.pending is not None:
                count, quiet_since = len(writes), time.perf_counter()
        figures.append(("level filter: its rows painted", (shown or writes)[0] - started))
        figures.append(("level filter: count and sparkline too", writes[-1] - started))
    runtime.close()
    return figures


def ingest_figures(args, work: Path, data: Path, settings, root):
    """Generate the file, run the references and our ingest; returns the open runtime."""
    from console.install import initialize
    from console.principal import system_principal
    from console.runtime import open_runtime

    if data.exists():
        shutil.rmtree(data)
    initialize(settings, admin="admin", password="Bench-Horse-Battery-77",
               actor=system_principal("bench"))
    log = work / "syslog.log"
    start = datetime(2026, 10, 1, tzinfo=UTC)
    if not log.exists() or sum(1 for _ in open(log, "rb")) != args.lines:
        generate(log, args.lines, start)
    n = args.lines
    print(f"lines: {n:,} ({log.stat().st_size / 1e6:.0f} MB syslog, "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores)")

    # -- references: lnav indexing the file, sqlite3 .import of the same rows pre-split
    import resource

    def cpu_seconds(who: int) -> float:
        usage = resource.getrusage(who)
        return usage.ru_utime + usage.ru_stime

    # CPU seconds next to wall seconds: on a shared machine the wall time mostly says how
    # busy the others were; lines per CPU second compare the work itself.
    if shutil.which("lnav"):
        started = time.perf_counter()
        cpu = cpu_seconds(resource.RUSAGE_CHILDREN)
        subprocess.run(["lnav", "-n", "-c", ";SELECT count(*) FROM all_logs", str(log)],
                       capture_output=True, check=False)
        lnav_s = time.perf_counter() - started
        lnav_cpu = cpu_seconds(resource.RUSAGE_CHILDREN) - cpu
        lnav_ref = (f"lnav -n: {n / lnav_s:,.0f} lines/s ({lnav_s:.2f} s, "
                    f"{n / lnav_cpu:,.0f} lines per CPU second, not persisted)")
    else:
        lnav_ref = "lnav not installed"
    tsv = work / "rows.tsv"
    with open(log, encoding="utf-8") as src, open(tsv, "w", encoding="utf-8") as dst:
        for i, line in enumerate(src):
            head, _, message = line.rstrip("\n").partition(": ")
            dst.write(f"{i}\t{head}\t{message}\n")
    imp = work / "import.db"
    imp.unlink(missing_ok=True)
    started = time.perf_counter()
    subprocess.run(["sqlite3", str(imp)], input="PRAGMA journal_mode=WAL;\nCREATE TABLE t(id "
                   "INTEGER PRIMARY KEY, head TEXT, message TEXT);\n.mode tabs\n"
                   f".import {tsv} t\n", text=True, capture_output=True, check=True)
    import_s = time.perf_counter() - started
    imp_ref = f"sqlite3 .import: {n / import_s:,.0f} rows/s (no parsing, no index)"

    # -- our ingest, end to end (parse, ids, month tables, FTS5, rollups, commit)
    runtime = open_runtime(settings)
    from console.logs.ingest import ingest

    with runtime.database.scope() as db:
        cpu = cpu_seconds(resource.RUSAGE_SELF)
        worker = cpu_seconds(resource.RUSAGE_CHILDREN)
        report = ingest(db, root, [log], zone_name="UTC", final=True)
        cpu = cpu_seconds(resource.RUSAGE_SELF) - cpu
        worker = cpu_seconds(resource.RUSAGE_CHILDREN) - worker
    # With a second process parsing, the two overlap when the wall time is near the
    # larger of the two CPU times rather than their sum.
    print(f"ingest: {report.lines_per_second:,.0f} lines/s wall ({report.seconds:.2f} s; "
          f"CPU: storing process {cpu:.2f} s, parsing process {worker:.2f} s = "
          f"{n / (cpu + worker):,.0f} lines per CPU second)  (reference: {lnav_ref}; "
          f"{imp_ref}) [budget >= 250,000; load average after: {os.getloadavg()[0]:.2f}]")
    return runtime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--keep", type=Path, help="Work directory to keep (default: a temp dir).")
    ap.add_argument("--queries-only", action="store_true",
                    help="Reuse the store kept in --keep from an earlier run: skip the ingest.")
    ap.add_argument("--ingest-only", action="store_true",
                    help="Stop after the ingest figures (no queries, TUI or month drop).")
    args = ap.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="flowpro-bench-logs-"))
    work.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from console.config import parse_settings
    from console.principal import os_principal
    from console.runtime import open_runtime

    data = work / "data"
    doc = {"storage": {"data_dir": str(data)},
           "security": {"argon2_time_cost": 1, "argon2_memory_kib": 8192,
                        "argon2_parallelism": 1}}
    settings = parse_settings(doc, env={})
    root = os_principal("bench")
    if args.queries_only:
        if not args.keep or not data.exists():
            raise SystemExit("--queries-only needs --keep DIR holding an earlier run's store")
        print(f"store: {data} (kept from an earlier run; load average "
              f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores)")
        runtime = open_runtime(settings)
    else:
        runtime = ingest_figures(args, work, data, settings, root)
        if args.ingest_only:
            runtime.close()
            if not args.keep:
                shutil.rmtree(work, ignore_errors=True)
            return
    from console.logs.store import volume

    with runtime.database.scope() as db:
        rows, oldest, newest = volume(db)
    if not rows or oldest is None or newest is None:
        raise SystemExit(f"the store in {data} holds no entries: run without --queries-only "
                         "to ingest again")
    print(f"store: {rows:,} entries from {oldest:%Y-%m-%d} to {newest:%Y-%m-%d}")

    # -- queries in the service, each next to the same SQL in the sqlite3 CLI
    from console.logs.common import Level, id_floor, table_of
    from console.logs.query import LogFilter, fetch
    from console.logs.stats import histogram

    dbfile = data / "console.db"
    with runtime.database.scope() as db:
        newest = fetch(db, root, LogFilter(), limit=100)
        month = table_of(f"{newest.entries[-1].ts:%Y%m}")
        cases = [
            ("first page", lambda: fetch(db, root, LogFilter(), limit=100),
             f"SELECT * FROM {month} ORDER BY id DESC LIMIT 100"),
            ("next page", lambda: fetch(db, root, LogFilter(), anchor=newest.cursor, limit=100),
             f"SELECT * FROM {month} WHERE id < {newest.cursor} ORDER BY id DESC LIMIT 100"),
        ]
        since = newest.entries[-1].ts - timedelta(days=2)
        level_filter = LogFilter(levels=frozenset({Level.ERROR}), since=since)
        cases.append(("level+time filter", lambda: fetch(db, root, level_filter, limit=100),
                      f"SELECT * FROM {month} WHERE level <= 4 AND level = 3 AND id >= "
                      f"{id_floor(since)} ORDER BY id DESC LIMIT 100"))
        fts = month.replace("log_entries_", "log_fts_")
        cases.append(("FTS newest matches", lambda: fetch(db, root, LogFilter(text="refused"),
                                                           limit=100),
                      f"SELECT e.* FROM {fts} f JOIN {month} e ON e.id = f.rowid WHERE {fts} "
                      "MATCH 'refused' ORDER BY f.rowid DESC LIMIT 100"))
        cases.append(("histogram (whole range)", lambda: histogram(db, root, LogFilter(),
                                                                    bars=78),
                      f"SELECT id >> 10 / 1000000 / 3600, level, count(*) FROM {month} "
                      "GROUP BY 1, 2"))
        for name, fn, sql in cases:
            ours = timed(fn) * 1000
            ref = sqlite_cli(dbfile, sql, repeat=1 if name.startswith("histogram") else 200)
            budget = 20 if name.startswith("histogram") else 10
            print(f"{name}: {ours:.2f} ms in the service  (reference: the same SQL in the "
                  f"sqlite3 CLI {ref * 1000:.2f} ms{', a full scan' if budget == 20 else ''})"
                  f" [budget < {budget} ms]")
    # -- the TUI: keystroke to repaint
    import asyncio

    for label, seconds in asyncio.run(tui_keystrokes(settings, "Bench-Horse-Battery-77")):
        print(f"TUI {label}: {seconds * 1000:.0f} ms keystroke to repaint, worst of a few  (reference: "
              "Toolong's first paint 80 ms at 1M lines) [budget < 100 ms]")
    # -- dropping a month (of a copy when the store is kept, so --queries-only can run again)
    from console.logs.retention import drop_month, list_months

    if args.keep:
        runtime.close()
        copy = work / "drop-copy"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(data, copy)
        runtime = open_runtime(parse_settings({**doc, "storage": {"data_dir": str(copy)}},
                                              env={}))
    with runtime.database.scope() as db:
        months = list_months(db, root)
        biggest = max(months, key=lambda m: m.rows)
        started = time.perf_counter()
        drop_month(db, root, biggest.month)
        dropped = time.perf_counter() - started
    print(f"drop a month: {dropped * 1000:.0f} ms for {biggest.rows:,} entries  (reference: "
          "the issue's 39 ms month file; 8.7 s deleting 1M rows through FTS triggers) "
          "[budget < 1000 ms]")
    runtime.close()
    if args.keep:
        shutil.rmtree(work / "drop-copy", ignore_errors=True)
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
