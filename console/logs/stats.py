"""Counts and histograms from the rollups kept at ingest: milliseconds over any range,
never a scan of the entries."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlmodel import Session, select

from console.contract import service
from console.logs import store
from console.logs.common import SPANS, fts_of, month_bounds, table_of, ts_us
from console.logs.query import LogFilter, Page, _Plan, fetch
from console.logs.text import fts5_query, tsquery
from console.masking import sees_pii
from console.permissions import Permission
from console.principal import Principal
from models.logs import LogRollup


def _span_for(seconds: float, bars: int) -> int:
    width = seconds / max(bars, 1)
    usable = [s for s in SPANS if s <= width]
    return usable[-1] if usable else SPANS[0]


def _rollup_rows(db: Session, flt: LogFilter, span: int, start: int,
                 end: int) -> list[tuple[int, int, int]]:
    query = select(LogRollup.bucket, LogRollup.level, LogRollup.count).where(
        LogRollup.span == span, LogRollup.bucket >= start - start % span,
        LogRollup.bucket < end)
    if flt.levels is not None:
        query = query.where(LogRollup.level.in_(sorted(flt.levels)))  # type: ignore[attr-defined]
    if flt.sources is not None:
        query = query.where(LogRollup.source.in_(sorted(flt.sources)))  # type: ignore[attr-defined]
    return [(int(b), int(lv), int(n)) for b, lv, n in db.exec(query).all()]


def _range_seconds(db: Session, flt: LogFilter) -> tuple[int, int] | None:
    start = ts_us(flt.since) // 1_000_000 if flt.since else None
    end = ts_us(flt.until) // 1_000_000 if flt.until else None
    if start is None or end is None:
        _rows, oldest, newest = store.volume(db)  # the id index's two ends: no scan
        if oldest is None or newest is None:
            return None
        start = int(oldest.timestamp()) if start is None else start
        end = int(newest.timestamp()) + 1 if end is None else end
    return (start, end) if end > start else None


@dataclass
class Histogram:
    start: int  # Unix seconds
    width: int  # seconds per bar
    bars: list[dict[int, int]]  # per bar: level -> entries
    exact: bool  # False when text, regex or host filters are not reflected

    @property
    def totals(self) -> list[int]:
        return [sum(b.values()) for b in self.bars]


@service("logs.read")
def histogram(db: Session, actor: Principal, flt: LogFilter, *, bars: int = 60) -> Histogram:
    """Entries per time bar and level over the filter's range (or everything stored),
    from the rollups: milliseconds whatever the range. Needs logs.read."""
    actor.require(Permission.LOGS_READ)
    return _histogram_over(db, flt, bars, _range_seconds(db, flt))


def _histogram_over(db: Session, flt: LogFilter, bars: int,
                    rng: tuple[int, int] | None) -> Histogram:
    bars = max(1, min(bars, 1000))
    exact = not (flt.text or flt.regex or flt.hosts is not None)
    if rng is None:
        return Histogram(0, 300, [{} for _ in range(bars)], exact)
    start, end = rng
    span = _span_for(end - start, bars)
    start -= start % span
    width = max(span, -(-(end - start) // bars // span) * span)
    result: list[dict[int, int]] = [{} for _ in range(bars)]
    for bucket, level, n in _rollup_rows(db, flt, span, start, end):
        i = (bucket - start) // width
        if 0 <= i < bars:
            result[i][level] = result[i].get(level, 0) + n
    return Histogram(start, width, result, exact)


TEXT_COUNT_CAP = 100_000


@service("logs.read")
def approximate_count(db: Session, actor: Principal, flt: LogFilter) -> int:
    """How many entries match, without a scan: the level, source and time filters from the
    rollups (edge buckets count whole); with words, also at most TEXT_COUNT_CAP hits from
    the full-text index (an upper bound when other filters apply too). Regex and host
    filters are not applied. Needs logs.read."""
    actor.require(Permission.LOGS_READ)
    return _count_over(db, actor, flt, _range_seconds(db, flt))


def _count_over(db: Session, actor: Principal, flt: LogFilter,
                rng: tuple[int, int] | None) -> int:
    if rng is None:
        return 0
    start, end = rng
    span = _span_for(end - start, 200)
    total = sum(n for _b, _lv, n in _rollup_rows(db, flt, span, start, end))
    if flt.text and total:
        total = min(total, _text_hits(db, _Plan(db, actor, flt), TEXT_COUNT_CAP))
    return total


@dataclass
class Overview:
    total: int  # approximate_count
    histogram: Histogram
    masked: bool  # personal data in messages is masked for this principal


@service("logs.read")
def overview(db: Session, actor: Principal, flt: LogFilter, *, bars: int = 60) -> Overview:
    """The approximate count and the histogram of `flt` together: what the log browser
    shows above and below its rows after a new filter, read in one session so that the
    two arrive (and are painted) at once; with whether messages come masked. Needs
    logs.read."""
    actor = actor.checked()  # one live check for the questions below
    actor.require(Permission.LOGS_READ)
    rng = _range_seconds(db, flt)  # the store's ends: once for both
    return Overview(_count_over(db, actor, flt, rng), _histogram_over(db, flt, bars, rng),
                    masked=not sees_pii(actor))


@dataclass
class FirstLook:
    page: Page
    overview: Overview


@service("logs.read")
def first_look(db: Session, actor: Principal, flt: LogFilter, *, limit: int = 100,
               bars: int = 60) -> FirstLook:
    """The newest page of `flt` and its overview in one call: for a filter without words
    the overview costs a few milliseconds of rollups, and the browser paints rows, count
    and sparkline in one frame instead of two. Needs logs.read."""
    actor = actor.checked()
    return FirstLook(fetch(db, actor, flt, limit=limit), overview(db, actor, flt, bars=bars))


def _text_hits(db: Session, plan: _Plan, cap: int) -> int:
    """Index entries holding the words, newest months first, stopping at `cap`."""
    found = 0
    for key in reversed(plan.keys):
        m_lo, m_hi = month_bounds(key)
        lo, hi = max(plan.lo, m_lo), min(plan.hi, m_hi)
        if lo >= hi:
            continue
        if plan.pg:
            sql = (f"SELECT count(*) FROM (SELECT 1 FROM {table_of(key)} WHERE "
                   f"{store.PG_WORDS} @@ to_tsquery('simple', :q) AND id >= :lo AND "
                   f"id < :hi LIMIT :cap) AS hits")
            query = tsquery(plan.terms)
        else:
            fts = fts_of(key)
            sql = (f"SELECT count(*) FROM (SELECT rowid FROM {fts} WHERE {fts} MATCH :q AND "
                   "rowid >= :lo AND rowid < :hi LIMIT :cap)")
            query = fts5_query(plan.terms)
        found += int(db.execute(text(sql), {"q": query, "lo": lo, "hi": hi,
                                            "cap": cap - found}).scalar() or 0)
        if found >= cap:
            break
    return found
