"""One batch of a retention run: a window of the plan's key ranges, changed in one short
transaction together with the run's checkpoint.

Every batch re-evaluates the rule (`Rule.due`: not held, not restricted, not referenced,
old enough) on the rows it touches, so a hold placed during a run protects its rows from
the next batch on, and a row that left the plan's selection is skipped, not changed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, not_, or_, select
from sqlmodel import Session

from console import audit
from console.anonymize import anonymize_rows, pk_column, table_of
from console.db import backend_of
from console.keys import KeyStore
from console.retention.selection import Clause, Rule, dependents
from models.audit import AuditCheckpoint, AuditEvent

MAX_TERMS = 64  # key ranges per batch (one execution of the cached statement each)
MIN_BATCH, MAX_BATCH = 20, 200_000
CACHE_KIB = 32_768  # SQLite page cache of a retention run's connection


@dataclass(frozen=True)
class Window:
    terms: list[tuple[Any, Any]]
    planned: int
    next_cursor: tuple[int, Any] | None  # None: the plan's ranges are exhausted


def start_cursor(ranges: list[list[Any]]) -> tuple[int, Any] | None:
    return (0, ranges[0][0]) if ranges else None


def next_window(ranges: list[list[Any]], cursor: tuple[int, Any], size: int) -> Window:
    """The next `size` planned keys from `cursor` (at most MAX_TERMS ranges)."""
    index, key = cursor
    terms: list[tuple[Any, Any]] = []
    planned = 0
    while index < len(ranges) and planned < size and len(terms) < MAX_TERMS:
        lo, hi = ranges[index]
        start = max(key, lo) if isinstance(lo, int) else lo
        if isinstance(lo, int):
            end = min(hi, start + (size - planned) - 1)
            terms.append((start, end))
            planned += end - start + 1
            if end < hi:
                return Window(terms, planned, (index, end + 1))
        else:
            terms.append((lo, hi))
            planned += 1
        index += 1
        if index < len(ranges):
            key = ranges[index][0]
    return Window(terms, planned, (index, key) if index < len(ranges) else None)


def window_clause(rule: Rule, terms: list[tuple[Any, Any]]) -> Clause:
    pk = pk_column(rule.category)
    singles = [lo for lo, hi in terms if lo == hi]
    spans = [pk.between(lo, hi) for lo, hi in terms if lo != hi]
    parts = spans + ([pk.in_(singles)] if singles else [])
    return or_(*parts)


class DeleteStatements:
    """The DELETE statements of one rule, built once (per job step) with the key span as
    bound parameters: every batch reuses SQLAlchemy's compiled form instead of building and
    compiling the whole rule inside the write lock."""

    def __init__(self, rule: Rule, going: dict[str, Clause]) -> None:
        cat = rule.category
        table, pk = table_of(cat), pk_column(cat)
        where = and_(pk.between(bindparam("lo"), bindparam("hi")),
                     rule.due(going, windowed=True))
        self.children = [delete(child).where(column.in_(select(pk).where(where)))
                         for child, column in dependents(cat)]
        self.main = delete(table).where(where)

    def run(self, db: Session, terms: list[tuple[Any, Any]]) -> int:
        """Delete the rows of these key spans that are still due; returns how many."""
        conn = db.connection()
        deleted = 0
        for lo, hi in terms:
            values = {"lo": lo, "hi": hi}
            for child in self.children:
                conn.execute(child, values)
            deleted += int(conn.execute(self.main, values).rowcount or 0)
        return deleted


def delete_batch(db: Session, rule: Rule, going: dict[str, Clause], window: Window) -> int:
    """Delete the window's rows that are still due (and rows of tables that belong to
    them); returns the rows deleted."""
    return DeleteStatements(rule, going).run(db, window.terms)


def anonymize_batch(db: Session, rule: Rule, going: dict[str, Clause], window: Window,
                    key: bytes) -> int:
    cat = rule.category
    pk = pk_column(cat)
    where = and_(window_clause(rule, window.terms), rule.due(going, windowed=True))
    keys = [r[0] for r in db.connection().execute(select(pk).where(where).order_by(pk))]
    return anonymize_rows(db, cat, keys, key=key)


@dataclass(frozen=True)
class PrefixResult:
    deleted: int
    stopped_at: int | None  # the first event that must be kept, when the window reached it


def audit_prefix_batch(db: Session, rule: Rule, going: dict[str, Clause], window: Window,
                       keys: KeyStore, run_id: int) -> PrefixResult:
    """Delete audit events from the start of the chain up to the window's end, stopping
    before the first one that must be kept, and move the signed anchor past them."""
    lo, hi = window.terms[0]
    conn = db.connection()
    kept = conn.execute(select(func.min(AuditEvent.id)).where(
        AuditEvent.id.between(lo, hi), not_(rule.due(going, windowed=True)))).scalar()  # type: ignore[union-attr]
    if kept is not None:
        hi = kept - 1
    if hi < lo:
        return PrefixResult(0, kept)
    last = conn.execute(select(AuditEvent.id, AuditEvent.hash).where(
        AuditEvent.id <= hi).order_by(AuditEvent.id.desc()).limit(1)).first()  # type: ignore[union-attr]
    if last is None:
        return PrefixResult(0, kept)
    conn.execute(delete(AuditCheckpoint).where(AuditCheckpoint.last_event_id <= last[0]))
    deleted = int(conn.execute(delete(AuditEvent).where(
        AuditEvent.id <= last[0])).rowcount or 0)  # type: ignore[operator]
    audit.advance_anchor(db, keys, last_id=int(last[0]), last_hash=str(last[1]),
                         purged=deleted, retention_run_id=run_id)
    return PrefixResult(deleted, kept)


class Pace:
    """Adapts the batch size so each batch holds the write lock about `target_ms`.

    The speed (rows per ms of lock) is a moving average. A batch far slower than the
    target is most often not its size's fault: a commit stalls for tens of ms while another
    connection checkpoints the WAL, whatever the batch size. One such batch is left out of
    the average; a second one in a row counts, and over the 25 ms budget it halves the size.
    """

    BUDGET_MS = 25.0

    def __init__(self, rows: int, target_ms: float) -> None:
        self.rows = max(MIN_BATCH, min(MAX_BATCH, rows))
        self.target_ms = target_ms
        self.first = True
        self.last_ms = 0.0  # the last batch's lock hold, saved with the next batch
        self.speed: float | None = None  # rows per ms, averaged
        self.slow_before = False

    def update(self, planned: int, hold_ms: float) -> None:
        self.first = False
        self.last_ms = hold_ms
        if planned <= 0:
            return
        slow = hold_ms > 2 * self.target_ms
        if slow and not self.slow_before and self.speed is not None:
            self.slow_before = True
            return
        self.slow_before = slow
        speed = planned / max(hold_ms, 0.05)
        self.speed = speed if self.speed is None else 0.7 * self.speed + 0.3 * speed
        wanted = int(self.speed * self.target_ms)
        if hold_ms > self.BUDGET_MS:
            wanted = min(wanted, self.rows // 2)
        wanted = min(wanted, self.rows * 2)  # grow at most twofold per batch
        self.rows = max(MIN_BATCH, min(MAX_BATCH, wanted))


@contextlib.contextmanager
def sqlite_tuned(db: Session) -> Iterator[None]:
    """For the batches of one step on SQLite: a larger page cache (the indexes of big
    tables; kept on the connection, so the next step starts warm), and the WAL checkpoint
    after the step instead of inside a batch's commit, so that a batch's lock hold is its
    own work."""
    if backend_of(db) != "sqlite":
        yield
        return
    conn = db.connection()
    conn.exec_driver_sql(f"PRAGMA cache_size={-CACHE_KIB}")
    conn.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
    db.commit()
    try:
        yield
    finally:
        if db.in_transaction():
            db.rollback()
        conn = db.connection()
        conn.exec_driver_sql("PRAGMA wal_autocheckpoint=1000")
        conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        db.commit()
