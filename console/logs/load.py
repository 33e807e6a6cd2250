"""Storing one parsed chunk (console.logs.reader.Chunk) in bulk, inside the caller's
write transaction: entry ids, origins, month tables and their full-text index, rollups.

Ids: the reader proposes time-ordered ids as if its file were all there is. When they
increase and start above every id stored in their month (a file read in order: the usual
case) they are taken as they are, with no work per entry here. Otherwise (the time went
back, or the range is shared with entries stored before) IdAllocator gives each entry the
smallest free id at or after its time, and the entries go in sorted by id.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Sequence

from sqlalchemy import text
from sqlmodel import Session

from console.logs import store
from console.logs.common import SPANS, Level, month_bounds, month_key, month_label
from console.logs.ids import fit_ids
from console.logs.reader import BUCKET_US, Chunk


class ChunkLoader:
    """Stores the chunks of one file (the origins it names are resolved once)."""

    def __init__(self, db: Session, file_id: int) -> None:
        self.db = db
        self.file_id = file_id
        self.origin_ids: list[int] = []  # origin index in the file -> log_origins.id
        self.known_months: set[str] = set()
        self.cache: dict[tuple[str, str, str], int] = {}
        self.cache_size: int | None = None  # the connection's page cache before the load

    def finish(self) -> None:
        """Give back the page cache enlarged for the load (after the last chunk)."""
        if self.cache_size is not None and self.cache_size != -store.BULK_CACHE_KIB:
            store.restore_cache(self.db, self.cache_size)

    def store(self, chunk: Chunk) -> int | None:
        """Store the chunk's entries; returns the id of its last entry (in file order)."""
        if not len(chunk):
            return None
        db = self.db
        store.lock_for_ingest(db)
        previous = store.bulk_cache(db)
        if self.cache_size is None:
            self.cache_size = previous
        keys = chunk.origin_keys
        if len(keys) > len(self.origin_ids):
            store.origin_ids(db, keys[len(self.origin_ids):], self.cache)
            self.origin_ids.extend(self.cache[k] for k in keys[len(self.origin_ids):])
        origins = list(map(self.origin_ids.__getitem__, chunk.origins))
        columns: store.Columns = (chunk.ids, chunk.levels, origins, chunk.messages,
                                  chunk.prefixes, chunk.extras, chunk.line_nos)
        slices = self._taken_as_proposed(chunk) if chunk.ordered else None
        last = chunk.ids[-1] if slices is not None else None
        if slices is None:  # fit them among the stored ones, in time order
            ts = chunk.ts
            order = None if chunk.ordered else sorted(range(len(ts)), key=ts.__getitem__)
            ids = fit_ids(db, ts if order is None else [ts[i] for i in order])
            if order is None:
                last = ids[-1]
            else:
                last = ids[order.index(len(ts) - 1)]
                columns = (ids, *_reordered(columns[1:], order))  # type: ignore[assignment]
            columns = (ids, *columns[1:])  # type: ignore[assignment]
            slices = [(key, a, b, None) for key, a, b in _months(ids)]
        for key, start, end, fresh in slices:
            store.ensure_partition(db, key, self.known_months)
            if fresh is None:
                ids = columns[0]
                fresh = not store.stored_between(db, key, ids[start], ids[end - 1])
            store.insert_entries(db, key, self.file_id, columns, start, end, fresh=fresh)
            db.execute(text("UPDATE log_partitions SET rows = rows + :n WHERE month = :m"),
                       {"n": end - start, "m": month_label(key)})
        add_rollups(db, chunk.rollups)
        return last

    def _taken_as_proposed(self, chunk: Chunk) -> list[tuple[str, int, int, bool | None]] | None:
        """Month slices of the proposed ids when each starts above what its month holds;
        None when they cannot be taken as they are."""
        slices: list[tuple[str, int, int, bool | None]] = []
        for key, start, end in _months(chunk.ids):
            newest = store.max_id(self.db, key)
            if newest is not None and chunk.ids[start] <= newest:
                return None
            slices.append((key, start, end, True))
        return slices


def _months(ids: Sequence[int]) -> list[tuple[str, int, int]]:
    """(month key, start, end) of the runs of ascending `ids` in each month."""
    runs = []
    start = 0
    while start < len(ids):
        key = month_key(ids[start])
        end = bisect_left(ids, month_bounds(key)[1], start)
        runs.append((key, start, end))
        start = end
    return runs


def _reordered(columns: tuple, order: list[int]) -> tuple:
    return tuple(None if c is None else [c[i] for i in order] for c in columns)


_ROLLUP_SQL = ("INSERT INTO log_rollups (span, bucket, level, source, count) VALUES ({}) "
               "ON CONFLICT (span, bucket, level, source) "
               "DO UPDATE SET count = log_rollups.count + excluded.count")
_ROLLUP_SQLITE = _ROLLUP_SQL.format("?, ?, ?, ?, ?")
_ROLLUP_PG = _ROLLUP_SQL.format("%s, %s, %s, %s, %s")


def add_rollups(db: Session, counts: dict[tuple[int, int, str], int]) -> None:
    """Add 5-minute (bucket index, level, source) counts to every rollup resolution."""
    merged: Counter[tuple[int, int, int, str]] = Counter()
    for (bucket5, level, source), n in counts.items():
        start = bucket5 * (BUCKET_US // 1_000_000)
        for span in SPANS:
            merged[(span, start - start % span, level, source[:64])] += n
    if not merged:
        return
    # Straight to the driver with tuples: sparse logs (a few lines per 5 minutes over
    # days, as in the demo) give thousands of rollup rows per chunk, and building a
    # parameter dict per row through SQLAlchemy cost more than storing the entries.
    sql = _ROLLUP_PG if store.is_pg(db) else _ROLLUP_SQLITE
    rows = [(s, b, int(lv), src, n) for (s, b, lv, src), n in merged.items()]
    conn = store.raw(db)
    if store.is_pg(db):
        with conn.cursor() as cur:
            cur.executemany(sql, rows)
    else:
        conn.executemany(sql, rows)


def with_orphans(chunk: Chunk, source: str, host: str) -> Chunk:
    """The chunk with its leading continuation lines as entries of their own (level
    unknown, the chunk's last time, the file's source): there was no stored entry to
    continue."""
    lines = chunk.leading
    first = chunk.end_line - chunk.lines + 1
    ts = chunk.last_ts or 0
    keys = list(chunk.origin_keys)
    key = (source[:64], host[:255], "")
    if key not in keys:
        keys.append(key)
    index = keys.index(key)
    n = len(lines)
    extras = chunk.extras
    rollups = Counter(chunk.rollups)
    rollups[(ts // BUCKET_US, int(Level.UNKNOWN), key[0])] += n
    return Chunk(
        start_offset=chunk.start_offset, end_offset=chunk.end_offset,
        end_line=chunk.end_line, lines=chunk.lines, unparsed=chunk.unparsed + n,
        last_ts=chunk.last_ts, leading=[], ts=(ts,) * n + tuple(chunk.ts),
        levels=(int(Level.UNKNOWN),) * n + tuple(chunk.levels),
        origins=[index] * n + list(chunk.origins), messages=tuple(lines) + tuple(chunk.messages),
        prefixes=("",) * n + tuple(chunk.prefixes),
        extras=None if extras is None else (None,) * n + tuple(extras),
        line_nos=list(range(first, first + n)) + list(chunk.line_nos), origin_keys=keys,
        ids=[], ordered=False, rollups=rollups)
