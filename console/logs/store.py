"""The entry store: one table per month on SQLite (with its own FTS5 index), native range
partitions of `log_entries` on PostgreSQL (with a GIN full-text index). Both are keyed by
the time-ordered id (console.logs.common), so a month is an id range and dropping a month
is dropping one table.

Full text: SQLite FTS5 (external content, detail=none: only which entries hold a word)
and PostgreSQL tsvector over the message split into alphanumeric words, so both backends
agree on what a word is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from itertools import repeat
from typing import Any, NamedTuple

from sqlalchemy import text
from sqlmodel import Session, select

from console import clock
from console.db import backend_of
from console.logs.common import (
    INDEXED_MAX_LEVEL,
    fts_of,
    month_bounds,
    month_key,
    month_label,
    table_of,
    time_of,
)
from models.logs import LogOrigin, LogPartition

COLUMNS = "id, level, origin, message, prefix, extra, file_id, line"

# PostgreSQL text cannot hold NUL, and a log line may (binary junk, C strings). There NUL is
# stored as U+E001 and the escape U+E000 doubles itself (U+E000 U+E000, U+E000 U+E001), so
# every line reads back exactly as it was written. SQLite stores NUL as it is.
_PG_ESC, _PG_NUL = "\ue000", "\ue001"
_PG_SPECIAL = re.compile("[\x00\ue000\ue001]")
_PG_ESCAPED = re.compile("\ue000(.)|\ue001", re.S)


def to_pg(value: str | None) -> str | None:
    """Text as PostgreSQL stores it (see above); unchanged unless it holds NUL, U+E000
    or U+E001."""
    if value is None or not _PG_SPECIAL.search(value):
        return value
    return _PG_SPECIAL.sub(lambda m: _PG_NUL if m.group() == "\x00" else _PG_ESC + m.group(),
                           value)


def from_pg(value: str | None) -> str | None:
    """The inverse of to_pg."""
    if value is None or (_PG_ESC not in value and _PG_NUL not in value):
        return value
    return _PG_ESCAPED.sub(lambda m: m.group(1) if m.group(1) is not None else "\x00", value)


PG_WORDS = "to_tsvector('simple'::regconfig, regexp_replace(message, '[^[:alnum:]]+', ' ', 'g'))"
FTS_HASHSIZE = 64 << 20  # bytes of pending index kept in memory: fewer, larger segments
_PG_PARTITION_LOCK = 0x46500004  # advisory lock id serializing partition creation
_PG_INGEST_LOCK = 0x46500005  # advisory lock id serializing the storing of chunks


def raw(db: Session) -> Any:
    """The DBAPI connection under the session's current transaction."""
    return db.connection().connection.dbapi_connection


def is_pg(db: Session) -> bool:
    return backend_of(db) == "postgresql"


# -- partitions -------------------------------------------------------------------------


def ensure_partition(db: Session, key: str, known: set[str] | None = None) -> str:
    """Create month `key`'s table (and index) if needed; inside the caller's write
    transaction. Returns the table name."""
    table = table_of(key)
    if known is not None and key in known:
        return table
    if is_pg(db):  # two ingesters must not create the same partition at once
        db.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_PARTITION_LOCK})
    if db.get(LogPartition, month_label(key)) is None:
        if is_pg(db):
            _pg_partition(db, key)
        else:
            _sqlite_partition(db, key)
        db.add(LogPartition(month=month_label(key), table_name=table, rows=0,
                            created_at=clock.now()))
        db.flush()
    if known is not None:
        known.add(key)
    return table


def _sqlite_partition(db: Session, key: str) -> None:
    table, fts = table_of(key), fts_of(key)
    for sql in (
        f"CREATE TABLE IF NOT EXISTS {table} (id INTEGER PRIMARY KEY, level INTEGER NOT NULL,"
        " origin INTEGER NOT NULL, message TEXT NOT NULL, prefix TEXT NOT NULL, extra TEXT,"
        " file_id INTEGER, line INTEGER)",
        f"CREATE INDEX IF NOT EXISTS {table}_level ON {table} (level, id) "
        f"WHERE level <= {int(INDEXED_MAX_LEVEL)}",
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {fts} USING fts5(message, content='{table}', "
        "content_rowid='id', detail=none, columnsize=0)",
        f"INSERT INTO {fts}({fts}, rank) VALUES ('hashsize', {FTS_HASHSIZE})",
        # Merging segments while loading costs more than it saves: a crisis merge still
        # bounds their number, and `optimize_partition` merges after an ingest.
        f"INSERT INTO {fts}({fts}, rank) VALUES ('automerge', 0)",
    ):
        db.execute(text(sql))


def _pg_partition(db: Session, key: str) -> None:
    lo, hi = month_bounds(key)
    db.execute(text(
        "CREATE TABLE IF NOT EXISTS log_entries (id bigint NOT NULL, level smallint NOT NULL,"
        " origin integer NOT NULL, message text NOT NULL, prefix text NOT NULL, extra text,"
        " file_id integer, line bigint, PRIMARY KEY (id)) PARTITION BY RANGE (id)"))
    db.execute(text("CREATE INDEX IF NOT EXISTS log_entries_level ON log_entries (level, id) "
                    f"WHERE level <= {int(INDEXED_MAX_LEVEL)}"))
    db.execute(text(f"CREATE INDEX IF NOT EXISTS log_entries_words ON log_entries "
                    f"USING gin ({PG_WORDS})"))
    db.execute(text(f"CREATE TABLE IF NOT EXISTS {table_of(key)} PARTITION OF log_entries "
                    f"FOR VALUES FROM ({lo}) TO ({hi})"))


def partitions(db: Session) -> list[LogPartition]:
    """Every month, oldest first."""
    return list(db.exec(select(LogPartition).order_by(LogPartition.month)).all())


def month_keys(db: Session) -> list[str]:
    """'YYYYMM' of every stored month, oldest first (plain SQL: on every page fetch)."""
    return [m.replace("-", "") for m in
            db.execute(text("SELECT month FROM log_partitions ORDER BY month")).scalars()]


def optimize_partition(db: Session, key: str, pages: int = 2000) -> None:
    """Merge some FTS segments of month `key` (SQLite; PostgreSQL merges GIN itself)."""
    if not is_pg(db):
        fts = fts_of(key)
        db.execute(text(f"INSERT INTO {fts}({fts}, rank) VALUES ('merge', :n)"), {"n": pages})


def drop_partition(db: Session, key: str) -> int:
    """Drop month `key` whole (inside the caller's write transaction); returns its rows."""
    part = db.get(LogPartition, month_label(key))
    rows = part.rows if part else 0
    if is_pg(db):
        db.execute(text(f"DROP TABLE IF EXISTS {table_of(key)}"))
    else:
        # secure_delete (compiled on here) would zero every freed page: seconds per
        # million rows. The pages go to the freelist and are reused by new entries.
        conn = raw(db)
        previous = int(conn.execute("PRAGMA secure_delete").fetchone()[0])
        conn.execute("PRAGMA secure_delete=FAST")
        try:
            db.execute(text(f"DROP TABLE IF EXISTS {fts_of(key)}"))
            db.execute(text(f"DROP TABLE IF EXISTS {table_of(key)}"))
        finally:
            conn.execute(f"PRAGMA secure_delete={previous}")
    if part is not None:
        db.delete(part)
    db.flush()
    return rows


def trim_partition(db: Session, key: str, before_id: int) -> int:
    """Delete the entries of month `key` with id < before_id (and their index entries)."""
    table = table_of(key)
    if not is_pg(db):
        fts = fts_of(key)
        db.execute(text(f"INSERT INTO {fts}({fts}, rowid, message) "
                        f"SELECT 'delete', id, message FROM {table} WHERE id < :b"),
                   {"b": before_id})
    result = db.execute(text(f"DELETE FROM {table} WHERE id < :b"), {"b": before_id})
    deleted = int(result.rowcount or 0)
    part = db.get(LogPartition, month_label(key))
    if part is not None:
        part.rows = max(0, part.rows - deleted)
        db.add(part)
    db.flush()
    return deleted


# -- writing ----------------------------------------------------------------------------

# SQLite page cache while storing chunks (KiB): a chunk's new table, index and FTS pages
# stay in memory until its commit instead of spilling into the WAL mid-transaction (about
# a third less time per row, measured). Allocated only as pages are used.
BULK_CACHE_KIB = 64 << 10


def bulk_cache(db: Session) -> int | None:
    """Enlarge the page cache of the session's SQLite connection for a bulk load (inside
    the caller's transaction); returns the size to restore (None on PostgreSQL)."""
    if is_pg(db):
        return None
    conn = raw(db)
    previous = int(conn.execute("PRAGMA cache_size").fetchone()[0])
    if previous != -BULK_CACHE_KIB:
        conn.execute(f"PRAGMA cache_size=-{BULK_CACHE_KIB}")
    return previous


def restore_cache(db: Session, previous: int) -> None:
    """Give the memory of `bulk_cache` back (the connection goes back to its pool)."""
    raw(db).execute(f"PRAGMA cache_size={int(previous)}")


def lock_for_ingest(db: Session) -> None:
    """Serialize the storing of chunks (inside the caller's write transaction) so that the
    ids an ingester finds free stay free until it commits. SQLite's write transaction
    (BEGIN IMMEDIATE) already does; PostgreSQL takes an advisory lock."""
    if is_pg(db):
        db.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_INGEST_LOCK})


Columns = tuple[Sequence[int], Sequence[int], Sequence[int], Sequence[str], Sequence[str],
                Sequence[str | None] | None, Sequence[int]]  # id, level, origin, message,
# prefix, extra (None: all NULL), line


def insert_entries(db: Session, key: str, file_id: int | None, columns: Columns, start: int,
                   end: int, *, fresh: bool) -> None:
    """Insert entries [start, end) of `columns` (ascending ids, all in month `key`) and
    index them. `fresh`: nothing is stored between their first and last id, so the
    full-text index takes them in one statement read back from the table."""
    ids, levels, origins, messages, prefixes, extras, lines = columns
    part = slice(start, end)
    table = table_of(key)
    conn = raw(db)
    file_sql = "NULL" if file_id is None else str(int(file_id))
    if is_pg(db):
        rows = zip(ids[part], levels[part], origins[part], messages[part], prefixes[part],
                   extras[part] if extras is not None else repeat(None), repeat(file_id),
                   lines[part])
        with conn.cursor() as cur, cur.copy(f"COPY {table} ({COLUMNS}) FROM STDIN") as copy:
            write, special = copy.write_row, _PG_SPECIAL.search
            for row in rows:
                if special(row[3]) or special(row[4]) or (row[5] and special(row[5])):
                    row = (*row[:3], to_pg(row[3]), to_pg(row[4]), to_pg(row[5]), *row[6:])
                write(row)
        return
    if extras is None:  # fewer parameters to bind: a quarter less time per row
        conn.executemany(
            f"INSERT INTO {table} ({COLUMNS}) VALUES (?,?,?,?,?,NULL,{file_sql},?)",
            zip(ids[part], levels[part], origins[part], messages[part], prefixes[part],
                lines[part], strict=True))
    else:
        conn.executemany(
            f"INSERT INTO {table} ({COLUMNS}) VALUES (?,?,?,?,?,?,{file_sql},?)",
            zip(ids[part], levels[part], origins[part], messages[part], prefixes[part],
                extras[part], lines[part], strict=True))
    fts = fts_of(key)
    if fresh:  # tokenized in C, from the pages just written
        conn.execute(f"INSERT INTO {fts} (rowid, message) SELECT id, message FROM {table} "
                     "WHERE id >= ? AND id <= ?", (ids[start], ids[end - 1]))
    else:
        conn.executemany(f"INSERT INTO {fts} (rowid, message) VALUES (?, ?)",
                         zip(ids[part], messages[part], strict=True))


def stored_between(db: Session, key: str, lo: int, hi: int) -> bool:
    """Whether month `key` holds an id in [lo, hi]."""
    return db.execute(text(f"SELECT 1 FROM {table_of(key)} WHERE id >= :lo AND id <= :hi "
                           "LIMIT 1"), {"lo": lo, "hi": hi}).first() is not None


def append_message(db: Session, entry_id: int, addition: str) -> bool:
    """Add continuation text to a stored entry (and re-index it). False if it is gone."""
    key = month_key(entry_id)
    table = table_of(key)
    if db.get(LogPartition, month_label(key)) is None:
        return False
    old = db.execute(text(f"SELECT message FROM {table} WHERE id = :i"),
                     {"i": entry_id}).scalar()
    if old is None:
        return False
    pg = is_pg(db)
    new = old + (to_pg(addition) if pg else addition)
    if not pg:
        fts = fts_of(key)
        db.execute(text(f"INSERT INTO {fts}({fts}, rowid, message) VALUES ('delete', :i, :m)"),
                   {"i": entry_id, "m": old})
        db.execute(text(f"INSERT INTO {fts}(rowid, message) VALUES (:i, :m)"),
                   {"i": entry_id, "m": new})
    db.execute(text(f"UPDATE {table} SET message = :m WHERE id = :i"),
               {"i": entry_id, "m": new})
    return True


def stored_ids(db: Session, lo: int, hi: int) -> set[int]:
    """Ids stored in [lo, hi], whatever months that range covers."""
    found: set[int] = set()
    for key in month_keys(db):
        first, end = month_bounds(key)
        if first > hi or end <= lo:
            continue
        found.update(db.execute(text(f"SELECT id FROM {table_of(key)} "
                                     "WHERE id >= :lo AND id <= :hi"),
                                {"lo": lo, "hi": hi}).scalars())
    return found


def max_id(db: Session, key: str) -> int | None:
    if db.get(LogPartition, month_label(key)) is None:
        return None
    return db.execute(text(f"SELECT max(id) FROM {table_of(key)}")).scalar()


# -- origins -------------------------------------------------------------------------------


def origin_ids(db: Session, keys: Iterable[tuple[str, str, str]],
               cache: dict[tuple[str, str, str], int]) -> None:
    """Fill `cache` with the ids of (source, host, program) triples, creating missing
    ones (inside the caller's write transaction)."""
    pg = is_pg(db)
    for key in keys:
        if key in cache:
            continue
        source, host, program = key
        if pg:
            source, host, program = to_pg(source), to_pg(host), to_pg(program)
        row = db.exec(select(LogOrigin).where(LogOrigin.source == source,
                                              LogOrigin.host == host,
                                              LogOrigin.program == program)).first()
        if row is None:
            row = LogOrigin(source=source, host=host, program=program)
            db.add(row)
            db.flush()
        cache[key] = row.id  # type: ignore[assignment]


class Origin(NamedTuple):
    id: int
    source: str
    host: str
    program: str


def origins(db: Session) -> dict[int, Origin]:
    """Every origin by id (plain SQL: read on every page fetch)."""
    rows = db.execute(text("SELECT id, source, host, program FROM log_origins")).all()
    if is_pg(db):
        return {r[0]: Origin(r[0], from_pg(r[1]), from_pg(r[2]), from_pg(r[3])) for r in rows}
    return {r[0]: Origin(*r) for r in rows}


def volume(db: Session) -> tuple[int, Any, Any]:
    """(entries, oldest time, newest time) without scanning: row counts kept per month,
    the extremes from each end of the id index."""
    parts = partitions(db)
    rows = sum(int(p.rows) for p in parts)
    oldest = newest = None
    for part in parts:
        found = db.execute(text(f"SELECT min(id) FROM {part.table_name}")).scalar()
        if found is not None:
            oldest = time_of(found)
            break
    for part in reversed(parts):
        found = db.execute(text(f"SELECT max(id) FROM {part.table_name}")).scalar()
        if found is not None:
            newest = time_of(found)
            break
    return rows, oldest, newest
