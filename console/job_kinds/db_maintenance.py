"""`db-maintenance`: keep the console's database small and its query plans good.

SQLite: optional `PRAGMA quick_check`; `PRAGMA incremental_vacuum` in steps of
`pages_per_step` pages until the free list is empty (the database is created with
auto_vacuum=INCREMENTAL, so space freed by retention goes back to the file system without a
full VACUUM that would lock the database for minutes); `PRAGMA optimize`; and a
`wal_checkpoint(TRUNCATE)` that folds the write-ahead log back and truncates it.

PostgreSQL: `VACUUM (ANALYZE)` one table per step.

Every step is idempotent (repeating one after a crash changes nothing), so the kind runs
outside the framework's step transaction.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import Field
from sqlalchemy import inspect

from console.db import backend_of
from console.jobs import Checkpoint, JobContext, JobFailed, JobKind, Params, job_kind
from console.permissions import Permission

CHECKPOINT_WAIT_MS = 200  # how long the WAL checkpoint may hold up writers


class MaintenanceParams(Params):
    pages_per_step: int = Field(default=2000, ge=1, le=1_000_000,
                                description="SQLite: free pages returned to the OS per step")
    quick_check: bool = Field(default=False,
                              description="SQLite: run PRAGMA quick_check first; fail if "
                                          "it finds corruption")
    analyze: bool = Field(default=True, description="Refresh the query planner's statistics")


class MaintenanceCheckpoint(Checkpoint):
    phase: int = 0
    backend: str = ""
    pages_freed: int = 0
    quick_check: str | None = None
    optimized: bool = False
    wal: dict[str, int] | None = None
    file_bytes_before: int | None = None
    file_bytes_after: int | None = None
    tables: list[str] = Field(default_factory=list)
    vacuumed: int = 0


def _file_bytes(ctx: JobContext, suffix: str = "") -> int | None:
    path = ctx.db.get_bind().url.database
    if not path or path == ":memory:":
        return None
    try:
        return os.path.getsize(path + suffix)
    except OSError:
        return None


def _disk_bytes(ctx: JobContext) -> int | None:
    """The database file plus its write-ahead log: what the database takes on disk."""
    main = _file_bytes(ctx)
    return None if main is None else main + (_file_bytes(ctx, "-wal") or 0)


def _sqlite_phases(params: MaintenanceParams) -> list[str]:
    phases = ["quick_check"] if params.quick_check else []
    phases.append("vacuum")
    if params.analyze:
        phases.append("optimize")
    phases.append("wal")
    return phases


@job_kind
class DbMaintenance(JobKind[MaintenanceParams, MaintenanceCheckpoint]):
    name = "db-maintenance"
    title = "Database maintenance"
    description = ("Return free space to the file system, refresh planner statistics and "
                   "truncate the write-ahead log (SQLite); VACUUM ANALYZE each table "
                   "(PostgreSQL)")
    permission = Permission.JOBS_RUN
    transactional = False

    def estimate(self, ctx: JobContext, params: MaintenanceParams,
                 checkpoint: MaintenanceCheckpoint) -> int:
        if backend_of(ctx.db) == "sqlite":
            free = ctx.db.connection().exec_driver_sql("PRAGMA freelist_count").scalar() or 0
            return int(free) + len(_sqlite_phases(params)) - 1
        return len(self._tables(ctx))

    def step(self, ctx: JobContext, params: MaintenanceParams,
             checkpoint: MaintenanceCheckpoint) -> MaintenanceCheckpoint | None:
        checkpoint.backend = backend_of(ctx.db)
        if checkpoint.backend == "sqlite":
            return self._sqlite_step(ctx, params, checkpoint)
        return self._postgres_step(ctx, params, checkpoint)

    def result(self, ctx: JobContext, params: MaintenanceParams,
               checkpoint: MaintenanceCheckpoint) -> dict[str, Any]:
        if checkpoint.backend == "postgresql":
            return {"backend": "postgresql", "tables_vacuumed": checkpoint.vacuumed,
                    "analyzed": params.analyze}
        return {"backend": "sqlite", "pages_freed": checkpoint.pages_freed,
                "quick_check": checkpoint.quick_check, "optimized": checkpoint.optimized,
                "wal": checkpoint.wal, "file_bytes_before": checkpoint.file_bytes_before,
                "file_bytes_after": checkpoint.file_bytes_after}

    # -- SQLite ------------------------------------------------------------------------

    def _sqlite_step(self, ctx: JobContext, params: MaintenanceParams,
                     cp: MaintenanceCheckpoint) -> MaintenanceCheckpoint | None:
        phases = _sqlite_phases(params)
        if cp.phase >= len(phases):
            return None
        if cp.file_bytes_before is None:
            cp.file_bytes_before = _disk_bytes(ctx)
        phase = phases[cp.phase]
        if phase == "quick_check":
            with ctx.autocommit() as conn:
                rows = [str(r[0]) for r in conn.exec_driver_sql("PRAGMA quick_check").all()]
            if rows != ["ok"]:
                raise JobFailed(f"PRAGMA quick_check found {len(rows)} problem(s), first: "
                                f"{rows[0][:200]}; restore the database from a backup")
            cp.quick_check = "ok"
            ctx.advance(1, "quick_check: ok")
            cp.phase += 1
        elif phase == "vacuum":
            with ctx.autocommit() as conn:
                before = int(conn.exec_driver_sql("PRAGMA freelist_count").scalar() or 0)
                # The pragma frees one page per row stepped, and pysqlite steps a statement
                # without result columns only once: executescript steps it to the end.
                # BEGIN IMMEDIATE: in an implicit (deferred) transaction the read-then-write
                # fails at once with "database is locked" when another process committed
                # in between, whatever the busy timeout; IMMEDIATE waits for the lock.
                conn.connection.driver_connection.executescript(
                    "BEGIN IMMEDIATE; "
                    f"PRAGMA incremental_vacuum({int(params.pages_per_step)}); COMMIT;")
                after = int(conn.exec_driver_sql("PRAGMA freelist_count").scalar() or 0)
            freed = max(0, before - after)
            cp.pages_freed += freed
            ctx.advance(freed, f"freed {cp.pages_freed:,} pages, {after:,} left")
            if after == 0 or freed == 0:
                cp.phase += 1
        elif phase == "optimize":
            with ctx.autocommit() as conn:
                # It may run ANALYZE (a write): take the write lock first, as above.
                conn.connection.driver_connection.executescript(
                    "BEGIN IMMEDIATE; PRAGMA optimize; COMMIT;")
            cp.optimized = True
            ctx.advance(1, "statistics refreshed")
            cp.phase += 1
        else:
            wal_before = _file_bytes(ctx, "-wal")
            with ctx.autocommit() as conn:
                # A TRUNCATE checkpoint holds the write lock while it waits for readers,
                # for as long as the busy timeout: every writer would wait behind it, and
                # under steady reads time out ('database is locked'). So it may wait only
                # briefly; when readers are in the way it checkpoints what it can (busy=1).
                raw = conn.connection.driver_connection
                raw.execute(f"PRAGMA busy_timeout={CHECKPOINT_WAIT_MS}")
                try:
                    busy = raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
                finally:
                    raw.execute("PRAGMA busy_timeout="
                                f"{int(ctx.settings.database.busy_timeout_ms)}")
            cp.wal = {"busy": int(busy), "bytes_before": wal_before or 0,
                      "bytes_after": _file_bytes(ctx, "-wal") or 0}
            cp.file_bytes_after = _disk_bytes(ctx)
            ctx.advance(1, "write-ahead log checkpointed and truncated" if not busy
                        else "write-ahead log busy (readers open); checkpointed what it could")
            cp.phase += 1
        return cp

    # -- PostgreSQL --------------------------------------------------------------------

    def _tables(self, ctx: JobContext) -> list[str]:
        with ctx.autocommit() as conn:
            return sorted(inspect(conn).get_table_names())

    def _postgres_step(self, ctx: JobContext, params: MaintenanceParams,
                       cp: MaintenanceCheckpoint) -> MaintenanceCheckpoint | None:
        if cp.phase == 0:
            cp.tables, cp.phase = self._tables(ctx), 1
            ctx.set_total(len(cp.tables))
        if cp.vacuumed >= len(cp.tables):
            return None
        table = cp.tables[cp.vacuumed]
        with ctx.autocommit() as conn:
            quoted = conn.dialect.identifier_preparer.quote(table)
            if table in inspect(conn).get_table_names():
                conn.exec_driver_sql(f"VACUUM {'(ANALYZE) ' if params.analyze else ''}{quoted}")
        cp.vacuumed += 1
        ctx.advance(1, f"vacuumed {table}")
        return cp
