"""Reading the store: filtered pages (keyset, forward and backward from any time), the
approximate count and the volume histogram (from rollups, no scan), one entry in full.

Indexed filters narrow first (time -> id range; full text -> FTS5 / GIN; warning and worse
-> a partial (level, id) index; sources and hosts -> origin ids); the regex and, for a
principal without pii.read, the words searched for are then checked against the text as
that principal sees it (masked), so a search can never reveal hidden personal data.
Every scan stops after `scan_budget` rows and hands back a cursor to go on from.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

import orjson
from sqlalchemy import text
from sqlmodel import Session

from console import audit
from console.contract import service
from console.errors import NotFound, ValidationError
from console.logs import store
from console.logs.common import (
    INDEXED_MAX_LEVEL,
    Entry,
    Level,
    fts_of,
    id_floor,
    month_bounds,
    month_key,
    table_of,
)
from console.logs.text import checker, fts5_query, parse_text, tsquery
from console.masking import mask_text, sees_pii
from console.permissions import Permission
from console.principal import Principal
from models.logs import LogFile

Direction = Literal["older", "newer"]
MAX_ID = (1 << 63) - 1


@dataclass(frozen=True)
class LogFilter:
    levels: frozenset[int] | None = None  # None: every level
    sources: frozenset[str] | None = None
    hosts: frozenset[str] | None = None
    since: datetime | None = None
    until: datetime | None = None
    text: str = ""
    regex: str = ""

    def id_range(self) -> tuple[int, int]:
        lo = id_floor(self.since) if self.since else 0
        hi = id_floor(self.until) if self.until else MAX_ID
        return lo, hi

    def describe(self) -> dict[str, object]:
        return {k: sorted(v) if isinstance(v, frozenset) else
                v.isoformat() if isinstance(v, datetime) else v
                for k, v in self.__dict__.items() if v not in (None, "")}


@dataclass
class Page:
    entries: list[Entry] = field(default_factory=list)  # oldest first
    cursor: int = 0  # go on from here (exclusive) in the same direction
    exhausted: bool = False  # nothing more in that direction
    scanned: int = 0


class _Plan:
    """A filter made ready for one principal and one database."""

    def __init__(self, db: Session, actor: Principal, flt: LogFilter) -> None:
        self.db, self.flt = db, flt
        self.pg = store.is_pg(db)
        self.masked = not sees_pii(actor)
        self.terms = parse_text(flt.text)
        if self.masked and flt.text and mask_text(flt.text) != flt.text:
            raise ValidationError("text", "searching for personal data (emails, phone, card "
                                          "or id numbers) needs the pii.read permission")
        try:
            self.regex = re.compile(flt.regex) if flt.regex else None
        except re.error as exc:
            raise ValidationError("regex", f"not a valid regular expression: {exc}") from None
        self.check = checker(self.terms) if (self.masked or any(
            len(t.words) > 1 or t.negate for t in self.terms)) else None
        self.origins = store.origins(db)
        self.origin_ids: list[int] | None = None
        if flt.sources is not None or flt.hosts is not None:
            self.origin_ids = sorted(
                i for i, o in self.origins.items()
                if (flt.sources is None or o.source in flt.sources)
                and (flt.hosts is None or o.host in flt.hosts))
        self.levels = sorted(flt.levels) if flt.levels is not None else None
        self.lo, self.hi = flt.id_range()
        self.keys = store.month_keys(db)

    def entry(self, row: tuple) -> Entry:
        origin = self.origins.get(row[2])
        if origin is None:
            self.origins = store.origins(self.db)
            origin = self.origins.get(row[2])
        message, prefix, extra = row[3], row[4], row[5]
        if self.pg:
            message, prefix, extra = store.from_pg(message), store.from_pg(prefix), \
                store.from_pg(extra)
        extra_doc = orjson.loads(extra) if extra else None
        if self.masked:
            message, prefix = mask_text(message), mask_text(prefix)
            extra_doc = _mask_doc(extra_doc) if extra_doc else extra_doc
        return Entry(row[0], Level(row[1]) if 0 <= row[1] <= 9 else Level.UNKNOWN,
                     origin.source if origin else "?", origin.host if origin else "?",
                     origin.program if origin else "", message, prefix, extra_doc,
                     row[6], row[7], self.masked)

    def keep(self, entry: Entry) -> bool:
        if self.check is not None and not self.check.search(entry.message):
            return False
        return not (self.regex is not None and not self.regex.search(entry.message))

    # -- candidate rows, one month at a time ------------------------------------------

    def _where(self, alias_levels: bool = True) -> tuple[str, dict[str, object]]:
        clauses, params = [], {}
        if self.levels is not None and alias_levels:
            clauses.append(f"level IN ({','.join(str(int(x)) for x in self.levels)})")
        if self.origin_ids is not None:
            clauses.append(f"origin IN ({','.join(str(i) for i in self.origin_ids) or 'NULL'})")
        return "".join(f" AND {c}" for c in clauses), params

    def rows(self, key: str, lo: int, hi: int, newest_first: bool,
             batch: int) -> Iterator[tuple]:
        """Rows of month `key` with lo <= id < hi that pass the indexed filters."""
        order = "DESC" if newest_first else "ASC"
        table = table_of(key)
        where, _ = self._where()
        if self.terms:
            yield from self._text_rows(key, lo, hi, newest_first, batch)
            return
        if self.levels is not None and self.levels and max(self.levels) <= INDEXED_MAX_LEVEL:
            streams = [self._scan(f"SELECT {store.COLUMNS} FROM {table} WHERE level <= "
                                  f"{int(INDEXED_MAX_LEVEL)} AND level = {int(level)}"
                                  f"{self._where(False)[0]}", lo, hi, order, batch)
                       for level in self.levels]
            yield from heapq.merge(*streams, key=lambda r: -r[0] if newest_first else r[0])
            return
        if self.origin_ids == [] or self.levels == []:
            return
        yield from self._scan(f"SELECT {store.COLUMNS} FROM {table} WHERE 1=1{where}",
                              lo, hi, order, batch)

    def _scan(self, sql: str, lo: int, hi: int, order: str, batch: int,
              params: dict[str, object] | None = None) -> Iterator[tuple]:
        while lo < hi:
            rows = self.db.execute(text(f"{sql} AND id >= :lo AND id < :hi "
                                        f"ORDER BY id {order} LIMIT {int(batch)}"),
                                   {**(params or {}), "lo": lo, "hi": hi}).all()
            yield from (tuple(r) for r in rows)
            if len(rows) < batch:
                return
            if order == "DESC":
                hi = rows[-1][0]
            else:
                lo = rows[-1][0] + 1

    def _text_rows(self, key: str, lo: int, hi: int, newest_first: bool,
                   batch: int) -> Iterator[tuple]:
        order = "DESC" if newest_first else "ASC"
        where, _ = self._where()
        table = table_of(key)
        if self.pg:
            yield from self._scan(
                f"SELECT {store.COLUMNS} FROM {table} WHERE {store.PG_WORDS} @@ "
                f"to_tsquery('simple', :tsq){where}", lo, hi, order, batch,
                {"tsq": tsquery(self.terms)})
            return
        fts = fts_of(key)
        match = fts5_query(self.terms)
        while lo < hi:
            ids = self.db.execute(text(
                f"SELECT rowid FROM {fts} WHERE {fts} MATCH :q AND rowid >= :lo AND "
                f"rowid < :hi ORDER BY rowid {order} LIMIT {int(batch)}"),
                {"q": match, "lo": lo, "hi": hi}).scalars().all()
            if not ids:
                return
            found = self.db.execute(text(
                f"SELECT {store.COLUMNS} FROM {table} WHERE id IN "
                f"({','.join(str(int(i)) for i in ids)}){where} ORDER BY id {order}")).all()
            yield from (tuple(r) for r in found)
            if len(ids) < batch:
                return
            if newest_first:
                hi = ids[-1]
            else:
                lo = ids[-1] + 1


def _mask_doc(doc: object) -> object:
    if isinstance(doc, dict):
        return {k: _mask_doc(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_mask_doc(v) for v in doc]
    return mask_text(doc) if isinstance(doc, str) else doc


def scan(db: Session, plan: _Plan, *, anchor: int | None, direction: Direction,
         limit: int, scan_budget: int) -> Page:
    newest_first = direction == "older"
    lo, hi = plan.lo, plan.hi
    if anchor is not None:
        if newest_first:
            hi = min(hi, anchor)
        else:
            lo = max(lo, anchor + 1)
    keys = [k for k in plan.keys if month_bounds(k)[1] > lo and month_bounds(k)[0] < hi]
    if newest_first:
        keys.reverse()
    page = Page(cursor=hi if newest_first else lo - 1)
    batch = max(limit * 2, 64)
    for key in keys:
        m_lo, m_hi = month_bounds(key)
        for row in plan.rows(key, max(lo, m_lo), min(hi, m_hi), newest_first, batch):
            page.scanned += 1
            page.cursor = row[0]
            entry = plan.entry(row)
            if plan.keep(entry):
                page.entries.append(entry)
                if len(page.entries) >= limit:
                    break
            if page.scanned >= scan_budget:
                break
        else:
            if newest_first:
                page.cursor = m_lo  # the whole month is behind us
            # Going newer, the cursor stays on the last row scanned: the newest month is
            # still growing, and a follower must see the rows that arrive in it.
            continue
        break
    else:
        page.exhausted = True
    if newest_first:
        page.entries.reverse()
    return page


@service("logs.read")
def fetch(db: Session, actor: Principal, flt: LogFilter, *, anchor: int | None = None,
          direction: Direction = "older", limit: int = 100,
          scan_budget: int = 50_000) -> Page:
    """A page of entries matching `flt`, going `direction` from `anchor` (an entry id,
    exclusive; None: from the newest, or the oldest going newer). Keyset paging: pass
    `page.cursor` back as the anchor to go on. Stops after `scan_budget` candidate rows
    (then `exhausted` is False and few or no entries may come back). Needs logs.read;
    raises ValidationError for a bad regex or (without pii.read) a search for personal
    data."""
    actor = actor.checked()  # the plan asks again (pii.read)
    actor.require(Permission.LOGS_READ)
    plan = _Plan(db, actor, flt)
    if anchor is None and direction == "newer":
        anchor = plan.lo - 1
    return scan(db, plan, anchor=anchor, direction=direction, limit=min(limit, 5000),
                scan_budget=scan_budget)


def at_time(when: datetime) -> int:
    """The anchor that makes a 'newer' page start at `when`."""
    return id_floor(when) - 1


def check_filter(flt: LogFilter) -> None:
    """Raise ValidationError for a bad regex or search text (no database needed)."""
    parse_text(flt.text)
    if flt.regex:
        try:
            re.compile(flt.regex)
        except re.error as exc:
            raise ValidationError("regex", f"not a valid regular expression: {exc}") from None


@service("logs.search")
def record_search(db: Session, actor: Principal, flt: LogFilter, *, where: str) -> None:
    """Audit that `actor` looked at the logs through `flt` (`where`: tui, cli, export).
    Needs logs.read."""
    actor = actor.checked()  # asked three times below
    actor.require(Permission.LOGS_READ)
    _Plan(db, actor, flt)  # the same validation the reads will do
    audit.record_alone(db, actor, "logs.search", target=where,
                       details={"filter": flt.describe(), "masked": not sees_pii(actor)})


# -- pickers and detail ----------------------------------------------------------------


@service("logs.read")
def sources_and_hosts(db: Session, actor: Principal) -> tuple[list[str], list[str]]:
    """The known source systems and hosts (for pickers). Needs logs.read."""
    actor.require(Permission.LOGS_READ)
    origins = store.origins(db).values()
    return sorted({o.source for o in origins}), sorted({o.host for o in origins})


@dataclass
class Detail:
    entry: Entry
    fields: dict[str, object]
    raw: str
    file: str | None
    format: str | None


@service("logs.read")
def detail(db: Session, actor: Principal, entry_id: int) -> Detail:
    """One entry in full: every field (parsed again from its raw line), the raw text and
    where it came from; masked for principals without pii.read. Needs logs.read; raises
    NotFound when the entry is gone (dropped by retention)."""
    actor.require(Permission.LOGS_READ)
    plan = _Plan(db, actor, LogFilter())
    key = month_key(entry_id)
    row = None
    if key in plan.keys:
        row = db.execute(text(f"SELECT {store.COLUMNS} FROM {table_of(key)} WHERE id = :i"),
                         {"i": entry_id}).first()
    if row is None:
        raise NotFound(f"log entry {entry_id} does not exist (any more)")
    entry = plan.entry(tuple(row))
    file = db.get(LogFile, entry.file_id) if entry.file_id else None
    fmt = file.format if file else None
    first = entry.prefix if fmt == "jsonl" else entry.prefix + entry.message.split("\n")[0]
    raw = entry.prefix if fmt == "jsonl" else entry.prefix + entry.message
    fields: dict[str, object] = {
        "id": entry.id, "time": entry.ts.isoformat(), "level": entry.level.label,
        "source": entry.source, "host": entry.host, "program": entry.program,
        "file": file.path if file else None, "line": entry.line}
    if fmt:
        from datetime import UTC

        from console.logs.common import Format
        from console.logs.formats import make_parser

        parser = make_parser(Format(fmt), UTC, entry.ts, entry.host)
        parsed = parser.fields(first)
        if parsed:
            fields["parsed"] = {k: (mask_text(v) if plan.masked and isinstance(v, str) else v)
                                for k, v in parsed.items()} if isinstance(parsed, dict) else parsed
    if entry.extra:
        fields["extra"] = entry.extra
    return Detail(entry, fields, raw, file.path if file else None, fmt)


def replace_filter(flt: LogFilter, **changes: object) -> LogFilter:
    return replace(flt, **changes)  # type: ignore[arg-type]


__all__ = ["Detail", "LogFilter", "Page", "at_time", "detail", "fetch", "record_search",
           "replace_filter", "sources_and_hosts"]
