"""Retention purge budget: delete 1M rows of a 5M-row table on SQLite while a reader and an
application writer run. Budgets: >= 400k rows/s, no batch holding the write lock > 25 ms,
the writer's p99 wait < 20 ms; the space given back with `PRAGMA incremental_vacuum` in
steps. Reference, in the same run on a copy of the same database: one plain
`DELETE ... WHERE` in the `sqlite3` CLI with the same writer running.

Prints one figure per line next to its reference and budget.

    .venv/bin/python bench/retention.py [--rows 5000000] [--old 1000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CONFIG = """[storage]
data_dir = "{data}"
[security]
argon2_time_cost = 1
argon2_memory_kib = 8192
argon2_parallelism = 1
[retention.policies.sales]
keep = "7 years"
action = "delete"
"""


def _years_back(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # February 29th
        return day.replace(year=day.year - years, day=28)


def seed(db_path: Path, rows: int, old: int, today: date) -> str:
    """`rows` sales, the `old` oldest of them older than 7 years; returns the cutoff."""
    cutoff = _years_back(today, 7)
    old_start = datetime.combine(_years_back(today, 9), datetime.min.time())
    new_start = datetime.combine(cutoff + timedelta(days=1), datetime.min.time())
    old_step = (datetime.combine(cutoff, datetime.min.time()) - old_start).total_seconds() / old
    new_step = (datetime.combine(today, datetime.min.time()) - new_start).total_seconds() \
        / max(1, rows - old)
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-500000")
    # Filling the table first and indexing it after is several times faster; the indexes
    # come back with the same names and definitions.
    indexes = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND "
                           "tbl_name = 'sales_transactions' AND sql IS NOT NULL").fetchall()
    for name, _sql in indexes:
        conn.execute(f"DROP INDEX {name}")
    conn.execute("BEGIN")
    conn.execute("""WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200)
        INSERT INTO employees (id, employee_no, department, hired_on, restricted, updated_at)
        SELECT i, 'E' || i, 'Retail', '2010-01-01', 0, '2020-01-01 00:00:00.000000' FROM n""")
    conn.execute("""WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n
        WHERE i < 10000)
        INSERT INTO customers (id, customer_no, name, restricted, created_at)
        SELECT i, 'C' || i, 'Customer ' || i, 0, '2015-01-01 00:00:00.000000' FROM n""")
    conn.execute(f"""WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n
        WHERE i < {rows - 1})
        INSERT INTO sales_transactions (occurred_at, store, total_cents, payment_method,
                                        card_last4, customer_id, cashier_id)
        SELECT strftime('%Y-%m-%d %H:%M:%S', CASE WHEN i < {old}
                   THEN datetime('{old_start.isoformat(sep=' ')}',
                                 '+' || CAST(i * {old_step} AS INTEGER) || ' seconds')
                   ELSE datetime('{new_start.isoformat(sep=' ')}',
                                 '+' || CAST((i - {old}) * {new_step} AS INTEGER) || ' seconds')
                   END) || '.000000',
               'Store ' || (i % 5), 150 + (i * 7919) % 45000,
               CASE WHEN i % 4 = 0 THEN 'cash' ELSE 'card' END,
               CASE WHEN i % 4 = 0 THEN NULL ELSE printf('%04d', i % 10000) END,
               CASE WHEN i % 5 < 3 THEN 1 + (i * 7919) % 10000 END, 1 + i % 200
        FROM n""")
    for _name, sql in indexes:
        conn.execute(sql)
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return datetime.combine(cutoff, datetime.min.time()).isoformat(sep=" ") + ".000000"


def writer(db_path: str, stop: mp.Event, out: mp.Queue, interval: float = 0.005) -> None:
    """An application writer: one sale per transaction (BEGIN IMMEDIATE, the busy timeout
    the console uses), every `interval` s; reports how long each waited for the lock."""
    conn = sqlite3.connect(db_path, isolation_level=None, timeout=5.0)
    conn.execute("PRAGMA busy_timeout=5000")
    waits = []
    while not stop.is_set():
        start = time.perf_counter()
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError:  # busy beyond the timeout: keep waiting
                if stop.is_set():
                    out.put(("writer", waits + [(time.perf_counter() - start) * 1000]))
                    return
        waited = time.perf_counter() - start
        conn.execute("INSERT INTO sales_transactions (occurred_at, store, total_cents, "
                     "payment_method, card_last4, customer_id, cashier_id) VALUES "
                     "(?, 'Web', 999, 'card', '1234', NULL, 1)",
                     (datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f"),))
        conn.execute("COMMIT")
        waits.append(waited * 1000)
        time.sleep(interval)
    out.put(("writer", waits))


def reader(db_path: str, stop: mp.Event, out: mp.Queue) -> None:
    """A reader paging through the table (keyset, 100 rows): reports each page's latency."""
    conn = sqlite3.connect(db_path, isolation_level=None, timeout=5.0)
    latencies = []
    after = 0
    while not stop.is_set():
        start = time.perf_counter()
        rows = conn.execute("SELECT id, occurred_at, total_cents FROM sales_transactions "
                            "WHERE id > ? ORDER BY id LIMIT 100", (after,)).fetchall()
        latencies.append((time.perf_counter() - start) * 1000)
        after = rows[-1][0] if rows else 0
    out.put(("reader", latencies))


class Load:
    """The reader and the writer, each in its own process."""

    def __init__(self, db_path: Path) -> None:
        ctx = mp.get_context("spawn")
        self.stop, self.queue = ctx.Event(), ctx.Queue()
        self.procs = [ctx.Process(target=writer, args=(str(db_path), self.stop, self.queue)),
                      ctx.Process(target=reader, args=(str(db_path), self.stop, self.queue))]
        for proc in self.procs:
            proc.start()
        time.sleep(1.0)

    def finish(self) -> tuple[list[float], list[float]]:
        self.stop.set()
        results = dict(self.queue.get(timeout=60) for _ in self.procs)
        for proc in self.procs:
            proc.join(30)
        return results["writer"], results["reader"]


def pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def run_retention(config: Path) -> dict:
    from console import jobs
    from console.config import load_settings
    from console.principal import os_principal
    from console.retention.preview import preview
    from console.runtime import open_runtime

    settings = load_settings(config, env={})
    runtime = open_runtime(settings)
    actor = os_principal("bench")
    marks: list[tuple[float, int]] = []
    try:
        with runtime.database.scope() as db:
            start = time.perf_counter()
            plan = preview(db, actor, settings.retention, category_name="sales")
            preview_s = time.perf_counter() - start
            started = jobs.start_run(db, actor, "retention", {"plan": plan.id},
                                     where=jobs.Where.HERE)
        begun = time.perf_counter()
        final = jobs.execute(runtime, started.claim, actor,
                             on_progress=lambda p: marks.append((time.perf_counter(), p.done)))
        total_s = time.perf_counter() - begun
    finally:
        runtime.close()
    import json

    result = json.loads(final.result or "{}")
    sales = result.get("categories", {}).get("sales", {})
    deleted = sales.get("deleted", 0)
    purge_start = max((t for t, done in marks if done == 0), default=begun)
    purge_end = min((t for t, done in marks if done >= deleted and deleted), default=purge_start)
    return {"state": final.state, "error": final.error, "planned": plan.total_due,
            "deleted": deleted, "preview_s": preview_s, "total_s": total_s,
            "purge_s": max(purge_end - purge_start, 1e-9), "batches": sales.get("batches", 0),
            "max_batch_ms": sales.get("max_batch_ms", 0.0),
            "bytes_freed": result.get("bytes_freed", 0),
            "before": result.get("file_bytes_before"), "after": result.get("file_bytes_after")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--old", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="keep the databases in this directory")
    args = parser.parse_args()
    from console.config import load_settings
    from console.install import initialize
    from console.principal import system_principal

    tmp = Path(args.keep or tempfile.mkdtemp(prefix="retention-bench-"))
    data = tmp / "data"
    data.mkdir(parents=True, exist_ok=True)
    config = tmp / "config.toml"
    config.write_text(CONFIG.format(data=data), encoding="utf-8")
    initialize(load_settings(config, env={}), admin="admin", password="Bench-Horse-Battery-77",
               actor=system_principal("bench"))
    db_path = data / "console.db"
    start = time.perf_counter()
    cutoff = seed(db_path, args.rows, args.old, datetime.now(UTC).date())
    print(f"seeded {args.rows:,} sales rows ({args.old:,} older than 7 years) in "
          f"{time.perf_counter() - start:.1f} s; database {db_path.stat().st_size / 1e6:,.0f} MB",
          flush=True)
    copy = tmp / "reference.db"
    shutil.copyfile(db_path, copy)

    # -- the reference: one plain DELETE in the sqlite3 CLI, the same writer running --------
    load = Load(copy)
    start = time.perf_counter()
    out = subprocess.run(["sqlite3", str(copy), "PRAGMA busy_timeout=5000;",
                          "PRAGMA synchronous=NORMAL;",
                          f"DELETE FROM sales_transactions WHERE occurred_at < '{cutoff}';",
                          "SELECT changes();"], capture_output=True, text=True, check=True)
    ref_s = time.perf_counter() - start
    ref_writes, ref_reads = load.finish()
    ref_rows = int(out.stdout.split()[-1])  # after the pragmas' own output
    copy.unlink()

    # -- the console's retention run -----------------------------------------------------
    load = Load(db_path)
    result = run_retention(config)
    writes, reads = load.finish()
    if result["state"] != "succeeded":
        print(f"retention run {result['state']}: {result['error']}")
        sys.exit(1)

    rate = result["deleted"] / result["purge_s"]
    ref_rate = ref_rows / ref_s
    lines = [
        ("rows deleted", f"{result['deleted']:,}", f"{ref_rows:,} (plain DELETE)", ""),
        ("purge rate", f"{rate:,.0f} rows/s", f"{ref_rate:,.0f} rows/s", ">= 400,000 rows/s"),
        ("longest write-lock hold (one batch)", f"{result['max_batch_ms']:.1f} ms",
         f"{ref_s * 1000:,.0f} ms (the whole DELETE)", "<= 25 ms"),
        ("writer p99 wait", f"{pct(writes, 99):.1f} ms", f"{pct(ref_writes, 99):,.1f} ms",
         "< 20 ms"),
        ("writer max wait", f"{max(writes, default=0):.1f} ms",
         f"{max(ref_writes, default=0):,.1f} ms", ""),
        ("writes during the purge", f"{len(writes):,}", f"{len(ref_writes):,}", ""),
        ("reader pages during the purge", f"{len(reads):,} (max "
         f"{max(reads, default=0):.1f} ms)", f"{len(ref_reads):,} (max "
         f"{max(ref_reads, default=0):.1f} ms)", "keeps reading"),
        ("batches", f"{result['batches']:,}", "1", ""),
        ("preview (plan) time", f"{result['preview_s']:.2f} s", "", ""),
        ("whole run (check, purge, vacuum)", f"{result['total_s']:.2f} s", f"{ref_s:.2f} s", ""),
        ("space given back (incremental_vacuum)", f"{result['bytes_freed'] / 1e6:,.1f} MB",
         "0 MB (a plain DELETE keeps the pages)", ""),
    ]
    for name, value, ref, budget in lines:
        print(f"{name}: {value}  | reference: {ref}" + (f"  | budget: {budget}" if budget
                                                          else ""))
    misses = []
    if rate < 400_000:
        misses.append(f"purge rate {rate:,.0f} rows/s < 400,000")
    if result["max_batch_ms"] > 25:
        misses.append(f"longest batch {result['max_batch_ms']:.1f} ms > 25")
    if pct(writes, 99) >= 20:
        misses.append(f"writer p99 wait {pct(writes, 99):.1f} ms >= 20")
    print("budgets: " + ("all met" if not misses else "MISSED: " + "; ".join(misses)))
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
