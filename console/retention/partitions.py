"""Retention of categories stored in month partitions (processing logs, issue 4): whole
months before the cutoff are dropped as tables; the month holding the cutoff, and any
month a legal hold reaches into, is trimmed by id windows in short transactions.

Log entry ids encode their time (`console.logs.common.id_floor`), so the cutoff and each
hold's time range are id ranges, and a plan's selection is, per month, the id bound it
goes up to and how many rows that is.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import text
from sqlmodel import Session

from console.catalog import Category
from console.logs import store
from console.logs.common import fts_of, id_floor, month_bounds, month_label, time_of
from console.logs.common import table_of as month_table
from console.logs.retention import forget_rollups
from models.logs import LogPartition
from models.retention import LegalHold

Span = tuple[int, int]  # [lo, hi) ids


@dataclass(frozen=True)
class HoldSpan:
    hold_id: int
    name: str
    lo: int
    hi: int


def _day_id(day: date) -> int:
    return id_floor(datetime.combine(day, time(0), UTC))


def hold_spans(holds: list[LegalHold], cat: Category) -> list[HoldSpan]:
    """The id ranges of `cat` each hold covers. A hold naming a data subject covers no log
    entry (entries are not linked to subjects); one naming no range covers every entry."""
    spans = []
    for hold in holds:
        if hold.category and hold.category != cat.name.value:
            continue
        if hold.subject_kind:
            continue
        lo = _day_id(hold.range_from) if hold.range_from else 0
        hi = _day_id(hold.range_to + timedelta(days=1)) if hold.range_to else 1 << 62
        spans.append(HoldSpan(hold.id or 0, hold.name, lo, hi))
    return spans


def _not_held(spans: list[HoldSpan]) -> tuple[str, dict[str, int]]:
    if not spans:
        return "", {}
    parts, params = [], {}
    for i, span in enumerate(spans):
        parts.append(f"(id >= :hl{i} AND id < :hh{i})")
        params[f"hl{i}"], params[f"hh{i}"] = span.lo, span.hi
    return " AND NOT (" + " OR ".join(parts) + ")", params


def _count(db: Session, key: str, lo: int, hi: int, extra: str = "",
           params: dict[str, int] | None = None) -> int:
    sql = f"SELECT count(*) FROM {month_table(key)} WHERE id >= :lo AND id < :hi{extra}"
    return int(db.execute(text(sql), {"lo": lo, "hi": hi, **(params or {})}).scalar() or 0)


@dataclass
class MonthPlan:
    month: str  # YYYYMM
    upto: int  # entries with id < upto (and not held) go
    rows: int  # how many that is now
    whole: bool  # the whole month goes: dropped as a table


def analyze(db: Session, cat: Category, cutoff: date | None, holds: list[LegalHold]
            ) -> dict[str, Any]:
    """Counts and selection of `cat` as `console.retention.plans.Analysis` fields."""
    cut = _day_id(cutoff) if cutoff is not None else 1 << 62
    spans = hold_spans(holds, cat)
    extra, params = _not_held(spans)
    months: list[MonthPlan] = []
    candidates = held = 0
    per_hold = {s.hold_id: 0 for s in spans}
    for part in store.partitions(db):
        key = part.month.replace("-", "")
        lo, hi = month_bounds(key)
        if lo >= cut:
            break
        upto = min(hi, cut)
        total = int(part.rows) if upto == hi else _count(db, key, lo, upto)
        candidates += total
        kept = 0
        for span in spans:
            if span.lo < upto and span.hi > lo:
                per_hold[span.hold_id] += _count(db, key, max(lo, span.lo), min(upto, span.hi))
        if any(s.lo < upto and s.hi > lo for s in spans):
            kept = total - _count(db, key, lo, upto, extra, params)
        held += kept
        if total - kept:
            months.append(MonthPlan(key, upto, total - kept, upto == hi and not kept))
    digest = hashlib.sha256()
    for month in months:
        digest.update(f"{month.month}:{month.upto}:{month.rows}\n".encode())
    due = sum(m.rows for m in months)
    oldest = newest = ""
    if months:
        first, last = months[0], months[-1]
        oldest = time_of(month_bounds(first.month)[0]).isoformat()
        newest = (time_of(min(last.upto, month_bounds(last.month)[1]) - 1)).isoformat()
        oldest = _edge(db, first.month, "min", last.upto) or oldest
        newest = _edge(db, last.month, "max", last.upto) or newest
    return {"candidates": candidates, "due": due, "held": held,
            "holds": [{"id": s.hold_id, "name": s.name, "rows": per_hold[s.hold_id]}
                      for s in spans],
            "ranges": [[m.month, m.upto, m.rows, m.whole] for m in months],
            "selection_hash": digest.hexdigest() if months else hashlib.sha256().hexdigest(),
            "oldest": oldest, "newest": newest}


def _edge(db: Session, key: str, fn: str, upto: int) -> str:
    value = db.execute(text(f"SELECT {fn}(id) FROM {month_table(key)} WHERE id < :u"),
                       {"u": upto}).scalar()
    return time_of(int(value)).isoformat() if value is not None else ""


def drift(planned: list[list[Any]], now: list[list[Any]]) -> tuple[int, int, int]:
    """(planned rows, no longer due, newly due), compared month by month."""
    before = {m[0]: int(m[2]) for m in planned}
    after = {m[0]: int(m[2]) for m in now if m[0] in before or not planned
             or m[0] <= max(before)}
    total = sum(before.values())
    gone = sum(max(0, rows - after.get(month, 0)) for month, rows in before.items())
    new = sum(max(0, rows - before.get(month, 0)) for month, rows in after.items())
    return total, gone, new


def start_cursor(ranges: list[list[Any]]) -> list[Any] | None:
    return [0, month_bounds(ranges[0][0])[0]] if ranges else None


@dataclass(frozen=True)
class Step:
    deleted: int
    cursor: list[Any] | None  # [range index, next id]; None: done
    dropped: str = ""  # the month dropped whole, if any


def apply_step(db: Session, cat: Category, holds: list[LegalHold], ranges: list[list[Any]],
               cursor: list[Any], rows: int) -> Step:
    """One step inside the caller's write transaction: drop a whole month, or delete up to
    `rows` planned entries of one month by id window. Holds are re-read at every step, so
    a hold placed during a run protects its entries from the next step on."""
    index, next_id = int(cursor[0]), int(cursor[1])
    if index >= len(ranges):
        return Step(0, None)
    key, upto = str(ranges[index][0]), int(ranges[index][1])
    lo, hi = month_bounds(key)
    spans = [s for s in hold_spans(holds, cat) if s.lo < upto and s.hi > lo]
    following = [index + 1, month_bounds(ranges[index + 1][0])[0]] \
        if index + 1 < len(ranges) else None
    if db.get(LogPartition, month_label(key)) is None:
        return Step(0, following)  # dropped meanwhile (logs drop-month)
    if upto == hi and not spans and next_id <= lo:
        deleted = store.drop_partition(db, key)
        forget_rollups(db, time_of(lo), time_of(hi))
        return Step(deleted, following, month_label(key))
    # A window of ids holding about `rows` entries: estimated from the month's density.
    part = db.get(LogPartition, month_label(key))
    density = max(1, int(part.rows if part else 1)) / max(1, hi - lo)
    end = min(upto, next_id + max(1, int(rows / density)))
    extra, params = _not_held(spans)
    where = f"id >= :a AND id < :b{extra}"
    values = {"a": next_id, "b": end, **params}
    table = month_table(key)
    if not store.is_pg(db):
        fts = fts_of(key)
        db.execute(text(f"INSERT INTO {fts}({fts}, rowid, message) "
                        f"SELECT 'delete', id, message FROM {table} WHERE {where}"), values)
    deleted = int(db.execute(text(f"DELETE FROM {table} WHERE {where}"), values).rowcount or 0)
    if part is not None and deleted:
        part.rows = max(0, part.rows - deleted)
        db.add(part)
        db.flush()
    if end < upto:
        return Step(deleted, [index, end])
    if not spans:
        forget_rollups(db, time_of(lo), time_of(upto))
    return Step(deleted, following)
