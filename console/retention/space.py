"""Giving the space a run freed back, without a long exclusive lock.

SQLite (created with `auto_vacuum=INCREMENTAL`): `PRAGMA incremental_vacuum(N)` in steps,
N adapted so that each step holds the write lock about `[retention] batch_target_ms`, with
the same pause between steps as between batches; the run records pages and bytes freed and
the file size before and after. A database made without incremental auto-vacuum cannot
shrink this way: the run says so. PostgreSQL: `VACUUM (ANALYZE)` on each table the run
changed, one per step (space becomes reusable; PostgreSQL keeps the files' size).
"""

from __future__ import annotations

import json
import os
import time

from sqlalchemy import update
from sqlmodel import col

from console.catalog import category
from console.db import backend_of, writing
from console.jobs import JobContext
from console.retention.runs import run_items
from models.retention import RetentionRun

FIRST_PAGES = 256
MAX_PAGES = 100_000


def _disk_bytes(ctx: JobContext) -> int | None:
    path = ctx.db.get_bind().url.database
    if not path or path == ":memory:":
        return None
    total = 0
    for suffix in ("", "-wal"):
        try:
            total += os.path.getsize(path + suffix)
        except OSError:
            pass
    return total


def _set(ctx: JobContext, run: RetentionRun, **values: object) -> None:
    # Plain UPDATEs: `run` itself is never modified, so nothing is flushed outside the
    # write transaction.
    with writing(ctx.db):
        ctx.db.execute(update(RetentionRun).where(col(RetentionRun.id) == run.id)
                       .values(**values))


def _done(ctx: JobContext, run: RetentionRun, note: str = "") -> bool:
    drift = json.loads(run.drift or "{}")
    if note:
        drift["space_note"] = note
    _set(ctx, run, file_bytes_after=_disk_bytes(ctx), drift=json.dumps(drift))
    return True


def vacuum_step(ctx: JobContext, run: RetentionRun, pages: list[int]) -> bool:
    """One step; True when there is nothing more to give back. `pages` holds the step size
    between calls (adapted to the lock-hold target)."""
    if backend_of(ctx.db) == "postgresql":
        return _postgres_step(ctx, run)
    if run.file_bytes_before is None:
        _set(ctx, run, file_bytes_before=_disk_bytes(ctx))
    if not pages:
        pages.append(FIRST_PAGES)
    elif ctx.settings.retention.pause_ms:
        time.sleep(ctx.settings.retention.pause_ms / 1000)
    with ctx.autocommit() as conn:
        mode = int(conn.exec_driver_sql("PRAGMA auto_vacuum").scalar() or 0)
        size = int(conn.exec_driver_sql("PRAGMA page_size").scalar() or 4096)
        before = int(conn.exec_driver_sql("PRAGMA freelist_count").scalar() or 0)
        if before == 0:
            return _done(ctx, run)
        if mode != 2:
            return _done(ctx, run, f"{before * size:,} bytes are free inside the database "
                         "file, which was not created with incremental auto-vacuum; run "
                         "VACUUM in a maintenance window to give them back")
        started = time.perf_counter()
        # The pragma frees one page per row stepped; executescript steps it to the end.
        conn.connection.driver_connection.executescript(
            f"PRAGMA incremental_vacuum({int(pages[0])});")
        took_ms = (time.perf_counter() - started) * 1000
        after = int(conn.exec_driver_sql("PRAGMA freelist_count").scalar() or 0)
    freed = max(0, before - after)
    total = run.pages_freed + freed
    _set(ctx, run, pages_freed=total, bytes_freed=total * size)
    ctx.message(f"gave back {total * size:,} bytes ({after:,} free pages left)")
    target = ctx.settings.retention.batch_target_ms
    wanted = int(pages[0] * target / took_ms) if took_ms > 0.05 else pages[0] * 2
    pages[0] = max(16, min(MAX_PAGES, min(wanted, pages[0] * 2)))
    if after == 0 or freed == 0:
        return _done(ctx, run)
    return False


def _postgres_step(ctx: JobContext, run: RetentionRun) -> bool:
    drift = json.loads(run.drift or "{}")
    todo = drift.get("vacuum_todo")
    if todo is None:
        todo = [category(i.category).table for i in run_items(ctx.db, run.id or 0)
                if i.deleted or i.anonymized]
    if not todo:
        drift.pop("vacuum_todo", None)
        drift["space_note"] = ("PostgreSQL: VACUUM made the freed space reusable; the files "
                               "keep their size")
        _set(ctx, run, drift=json.dumps(drift))
        return True
    table = todo.pop(0)
    ctx.db.rollback()
    with ctx.autocommit() as conn:
        conn.exec_driver_sql(f'VACUUM (ANALYZE) "{table}"')
    drift["vacuum_todo"] = todo
    _set(ctx, run, drift=json.dumps(drift))
    ctx.message(f"vacuumed {table}")
    return False
