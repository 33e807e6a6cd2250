"""Keeping processing logs only as long as policy says, cheaply: whole months are dropped
as tables (partitions), and only the month holding the cutoff is trimmed row by row.
For the retention engine (issue 7) and `flowpro-console logs months / drop-month`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import text
from sqlmodel import Session

from console import audit
from console.contract import service
from console.db import writing
from console.errors import NotFound, ValidationError
from console.logs import store
from console.logs.common import id_floor, month_bounds, month_label, month_of_label, time_of
from console.permissions import Permission
from console.principal import Principal


@dataclass(frozen=True)
class MonthInfo:
    month: str  # YYYY-MM
    rows: int  # kept at ingest: no count(*) over the month
    first: datetime  # the month's start (UTC)
    end: datetime  # the next month's start


@service("logs.months")
def list_months(db: Session, actor: Principal) -> list[MonthInfo]:
    """Every stored month with its row count, oldest first. Needs retention.read or
    logs.read."""
    if not actor.has(Permission.RETENTION_READ):
        actor.require(Permission.LOGS_READ)
    result = []
    for part in store.partitions(db):
        lo, hi = month_bounds(part.month.replace("-", ""))
        result.append(MonthInfo(part.month, int(part.rows), time_of(lo), time_of(hi)))
    return result


def forget_rollups(db: Session, start: datetime, end: datetime) -> None:
    """Rollups for [start, end): the histogram must not show what is gone. Coarse buckets
    that straddle a cut keep their counts (they only feed approximate figures). Inside the
    caller's write transaction (also used by the retention engine)."""
    lo, hi = int(start.timestamp()), int(end.timestamp())
    db.execute(text("DELETE FROM log_rollups WHERE bucket >= :lo AND bucket + span <= :hi"),
               {"lo": lo, "hi": hi})


@service("logs.drop_month")
def drop_month(db: Session, actor: Principal, month: str) -> int:
    """Drop one month of processing logs whole ('2026-11'); returns the rows dropped.
    Needs retention.manage. Raises ValidationError for a malformed month, NotFound when
    it is not stored. Audited with the row count."""
    actor.require(Permission.RETENTION_MANAGE)
    try:
        key = month_of_label(month)
    except ValueError as exc:
        raise ValidationError("month", str(exc)) from None
    with writing(db):
        if key not in store.month_keys(db):
            raise NotFound(f"no processing logs stored for {month_label(key)}")
        rows = store.drop_partition(db, key)
        lo, hi = month_bounds(key)
        forget_rollups(db, time_of(lo), time_of(hi))
        audit.record(db, actor, "logs.drop_month", target=month_label(key),
                     details={"rows": rows})
    return rows


@dataclass(frozen=True)
class PurgeResult:
    months_dropped: list[str]
    rows_dropped: int
    rows_trimmed: int


@service("logs.purge")
def purge_before(db: Session, actor: Principal, cutoff: datetime) -> PurgeResult:
    """Remove every entry older than `cutoff`: months entirely before it are dropped as
    tables, the month holding it is trimmed. Needs retention.manage. One audit event."""
    actor.require(Permission.RETENTION_MANAGE)
    if cutoff.tzinfo is None:
        raise ValidationError("cutoff", "must carry a time zone")
    cut_id = id_floor(cutoff.astimezone(UTC))
    dropped, dropped_rows, trimmed = [], 0, 0
    with writing(db):
        for key in store.month_keys(db):
            lo, hi = month_bounds(key)
            if hi <= cut_id:
                dropped_rows += store.drop_partition(db, key)
                dropped.append(month_label(key))
            elif lo < cut_id:
                trimmed += store.trim_partition(db, key, cut_id)
        forget_rollups(db, datetime(1970, 1, 1, tzinfo=UTC), cutoff)
        audit.record(db, actor, "logs.purge", target=cutoff.isoformat(),
                     details={"months_dropped": dropped, "rows_dropped": dropped_rows,
                              "rows_trimmed": trimmed})
    return PurgeResult(dropped, dropped_rows, trimmed)
