"""The rows of one category as JSON Lines and CSV, a batch at a time (keyset pagination
by the table's primary key, whatever its type and however many columns: the cursor is the
last key written, as a list of its column values, JSON-able for the export checkpoint).

The fast path lets the database write both lines: SQLite's `json_object` and
PostgreSQL's `row_to_json` for JSON Lines, one `printf` (SQLite) or a concatenation
(PostgreSQL) for the CSV, with dates
as ISO 8601 (UTC, `Z`) on both backends; Python only joins the lines. Rows for someone
without pii.read take the masked path: the same values, masked in Python
(`console.masking`), then written with orjson and the same CSV rules.

CSV: RFC 4180, comma-separated, CRLF line ends, a header row; every text value is quoted
and numbers and booleans are not, so an empty quoted value ("") is an empty string and an
empty unquoted one is a missing value (NULL).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Boolean, Date, DateTime, Integer, LargeBinary
from sqlalchemy.sql.schema import Column as SAColumn
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session

from console.catalog import Category, LinkMatch, SubjectKind
from console.db import backend_of
from console.masking import mask_text, mask_value

FETCH = 10_000  # rows per query: bounds memory whatever the step size

# Where a part goes on from: None from the start. A table part's is the last primary key
# written, a list of its column values (ints and floats as they are, anything else as
# text); a log part's is a log entry id. Kept in the export job's checkpoint (JSON).
Cursor = Any


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    type: str  # integer | string | datetime | date | boolean | json
    pii: bool = False
    withheld: bool = False  # another person's data: always empty in this export
    masked: bool = False

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type}
        for flag in ("pii", "withheld", "masked"):
            if getattr(self, flag):
                out[flag] = True
        return out


@dataclass
class Batch:
    count: int
    last: Cursor  # continue after this key
    done: bool
    jsonl: bytes = b""
    csv: bytes = b""


class Part:
    """One data file pair of a bundle (`data/<name>.jsonl` and `.csv`)."""

    name: str
    title: str
    columns: list[ColumnInfo]
    notes: list[str]

    def fetch(self, db: Session, after: Cursor, limit: int) -> Batch:
        raise NotImplementedError

    def count(self, db: Session) -> int | None:
        return None

    def csv_header(self) -> bytes:
        return (",".join(csv_field(c.name, "string") for c in self.columns) + "\r\n").encode()


def csv_field(value: object, kind: str) -> str:
    """One CSV field by the rules above (the masked path and headers)."""
    if value is None:
        return ""
    if isinstance(value, bool) or kind == "boolean":
        return "true" if value else "false"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return '"' + text.replace('"', '""') + '"'


def column_kind(column: SAColumn[Any]) -> str:
    kind = column.type
    if isinstance(kind, TypeDecorator):
        kind = kind.impl_instance
    if isinstance(kind, DateTime):
        return "datetime"
    if isinstance(kind, Date):
        return "date"
    if isinstance(kind, Boolean):
        return "boolean"
    if isinstance(kind, Integer):
        return "integer"
    if isinstance(kind, LargeBinary):
        return "binary"
    return "string"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _key_value(value: object) -> object:
    """A primary-key value as the cursor keeps it: JSON-able, and read back by the
    database as the same key (PostgreSQL casts it to the column's type)."""
    if value is None or isinstance(value, int | float | str):
        return value
    return str(value)


class TablePart(Part):
    """A catalog category's table, whole or narrowed to one data subject."""

    def __init__(self, category: Category, *, masked: bool = False,
                 subject: tuple[SubjectKind, int] | None = None,
                 formats: tuple[str, ...] = ("jsonl", "csv")) -> None:
        self.category = category
        self.formats = formats  # bench/export.py times each format alone
        self.name = category.name.value
        self.title = category.title
        self.masked = masked
        self.notes: list[str] = []
        self.where = ""
        self.params: dict[str, object] = {}
        withheld: set[str] = set()
        if subject is not None:
            kind, subject_id = subject
            clauses = []
            for i, link in enumerate(category.all_links_to(kind)):
                if link.match is LinkMatch.ID:
                    clauses.append(f"{_quote(link.column)} = :s{i}")
                    self.params[f"s{i}"] = subject_id
                elif link.match is LinkMatch.FORMAT:
                    clauses.append(f"{_quote(link.column)} = :s{i}")
                    self.params[f"s{i}"] = link.form.format(id=subject_id)
            self.where = " AND (" + (" OR ".join(clauses) or "1 = 0") + ")"
            own = {link.column for link in category.all_links_to(kind)}
            withheld = {link.column for link in category.subject_links
                        if link.column not in own and link.match is LinkMatch.ID}
            withheld |= {p.name for p in category.pii if p.of is not None and p.of != kind}
            if withheld:
                self.notes.append("withheld (another person's data): "
                                  + ", ".join(sorted(withheld)))
        self.table = category.table
        table = category.model.__table__  # type: ignore[attr-defined]
        columns = [c for c in table.columns if column_kind(c) != "binary"]
        keys = list(table.primary_key.columns)
        if not keys:
            raise TypeError(f"{self.table} has no primary key to page the export by")
        pii = {p.name for p in category.pii}
        self.kinds = [column_kind(c) for c in columns]
        self.nullable = [bool(c.nullable) for c in columns]
        self.columns = [
            ColumnInfo(c.name, "string" if masked and c.name in pii and k != "boolean" else k,
                       pii=c.name in pii, withheld=c.name in withheld,
                       masked=masked and c.name in pii)
            for c, k in zip(columns, self.kinds, strict=True)]
        # The key columns the cursor pages by, and where each is read from in a result row:
        # the exported value itself when that is the raw key (integers and text), else an
        # extra column "_k<i>" after the exported ones (a date key, say, is exported as
        # formatted text but compared as a date).
        self.keys = keys
        self.extra_keys: list[int] = []
        self.key_refs: list[str] = []
        plain = {c.name: i for i, (c, k) in enumerate(zip(self.columns, self.kinds, strict=True))
                 if k in ("integer", "string") and not c.withheld}
        for i, key in enumerate(keys):
            if key.name in plain:
                self.key_refs.append(_quote(key.name))
            else:
                self.extra_keys.append(i)
                self.key_refs.append(_quote(f"_k{i}"))
        self._sql: dict[str, str] = {}

    # -- SQL -----------------------------------------------------------------------------

    def _value(self, info: ColumnInfo, kind: str, pg: bool) -> str:
        name = _quote(info.name)
        if info.withheld:
            return f"CAST(NULL AS TEXT) AS {name}"
        if kind == "datetime":
            expr = (f"to_char({name}, 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')" if pg
                    else f"replace({name}, ' ', 'T') || 'Z'")
        elif kind == "date":
            expr = f"to_char({name}, 'YYYY-MM-DD')" if pg else name
        else:
            expr = name
        return f"{expr} AS {name}"

    def _csv(self, info: ColumnInfo, kind: str) -> str:
        name = "x." + _quote(info.name)
        if info.withheld:
            return "''"
        if kind == "integer":
            return f"COALESCE(CAST({name} AS TEXT), '')"
        if kind == "boolean":
            return f"CASE WHEN {name} IS NULL THEN '' WHEN {name} THEN 'true' ELSE 'false' END"
        return f"""COALESCE('"' || replace({name}, '"', '""') || '"', '')"""

    def _csv_sqlite(self) -> str:
        """The CSV line as one SQLite `printf`: `%w` doubles the quotes inside a quoted
        field, `%s` writes NULL as nothing. Twice as fast as concatenating `replace`
        calls; the same bytes (tests/test_export.py compares both)."""
        if len(self.columns) > 100:  # printf takes at most 127 arguments
            return self._csv_concat()
        fmt: list[str] = []
        args: list[str] = []
        for info, kind, nullable in zip(self.columns, self.kinds, self.nullable, strict=True):
            name = "x." + _quote(info.name)
            if info.withheld:
                fmt.append("")
            elif kind == "integer":
                fmt.append("%s")
                args.append(name)
            elif kind == "boolean":
                fmt.append("%s")
                args.append(self._csv(info, kind))
            elif nullable:
                fmt.append("%s")
                args.append(f"""CASE WHEN {name} IS NULL THEN '' ELSE printf('"%w"', {name}) END""")
            else:
                fmt.append('"%w"')
                args.append(name)
        return f"printf('{','.join(fmt)}'" + "".join(f", {a}" for a in args) + ")"

    def _csv_concat(self) -> str:
        return " || ',' || ".join(self._csv(c, k) for c, k in zip(
            self.columns, self.kinds, strict=True))

    def _json_sqlite(self, info: ColumnInfo, kind: str) -> str:
        name = "x." + _quote(info.name)
        value = name
        if kind == "boolean" and not info.withheld:
            value = (f"CASE WHEN {name} IS NULL THEN NULL WHEN {name} THEN json('true') "
                     "ELSE json('false') END")
        return f"'{info.name}', {value}"

    def _after(self, pg: bool) -> str:
        """Rows after the cursor's key (a row-value comparison for a composite key: the
        same order as ORDER BY, and served by the primary key's index on both backends).
        PostgreSQL casts each value to the column's type, so a key kept as text (a
        timestamp, say) compares as what it is."""
        from sqlalchemy.dialects import postgresql

        table = _quote(self.table)
        names = [f"{table}.{_quote(k.name)}" for k in self.keys]
        params = [f"CAST(:k{i} AS {k.type.compile(dialect=postgresql.dialect())})" if pg
                  else f":k{i}" for i, k in enumerate(self.keys)]
        if len(names) == 1:
            return f"{names[0]} > {params[0]}"
        return f"({', '.join(names)}) > ({', '.join(params)})"

    def sql(self, backend: str, *, fast: bool, first: bool = False) -> str:
        key = f"{backend}:{fast}:{first}"
        if key not in self._sql:
            pg = backend == "postgresql"
            table = _quote(self.table)
            inner = ", ".join(
                [self._value(c, k, pg) for c, k in zip(self.columns, self.kinds, strict=True)]
                + [f"{table}.{_quote(self.keys[i].name)} AS {_quote(f'_k{i}')}"
                   for i in self.extra_keys])
            order = ", ".join(f"{table}.{_quote(k.name)}" for k in self.keys)
            after = "1 = 1" if first else self._after(pg)
            sub = (f"SELECT {inner} FROM {table} WHERE {after}{self.where} "  # noqa: S608
                   f"ORDER BY {order} LIMIT :limit")
            if not fast:
                self._sql[key] = sub
            else:
                csv = "''"
                if "csv" in self.formats:
                    csv = self._csv_concat() if pg else self._csv_sqlite()
                if "jsonl" not in self.formats:
                    json = "''"
                elif pg and not self.extra_keys:
                    json = "row_to_json(x)::text"
                elif pg:  # the extra key columns are not part of the exported row
                    json = "json_build_object(" + ", ".join(
                        f"'{c.name}', x.{_quote(c.name)}" for c in self.columns) + ")::text"
                else:
                    json = "json_object(" + ", ".join(self._json_sqlite(c, k) for c, k in zip(
                        self.columns, self.kinds, strict=True)) + ")"
                refs = ", ".join(f"x.{r}" for r in self.key_refs)
                self._sql[key] = (f"SELECT {refs}, {json}, {csv} FROM ({sub}) x "
                                  f"ORDER BY {refs}")
        return self._sql[key]

    # -- reading -------------------------------------------------------------------------

    def count(self, db: Session) -> int | None:
        from sqlalchemy import text

        sql = f"SELECT count(*) FROM {_quote(self.table)} WHERE 1 = 1{self.where}"  # noqa: S608
        return int(db.execute(text(sql), self.params).scalar() or 0)

    def _statement(self, backend: str, first: bool) -> str:
        """The query in the driver's own parameter style (the fast path skips SQLAlchemy's
        per-row work: a quarter of the time at a million rows)."""
        sql = self.sql(backend, fast=not self.masked, first=first)
        if backend == "postgresql":
            sql = re.sub(r"(?<!:):(k\d+|limit|s\d+)\b", r"%(\1)s", sql.replace("%", "%%"))
        return sql

    def _key_of(self, row: Sequence[Any]) -> list[object]:
        """The cursor for a result row: its primary key's values."""
        if not self.masked:
            return [_key_value(v) for v in row[:len(self.keys)]]
        names = [c.name for c in self.columns]
        extra = len(self.columns)
        out = []
        for i, key in enumerate(self.keys):
            if i in self.extra_keys:
                out.append(row[extra + self.extra_keys.index(i)])
            else:
                out.append(row[names.index(key.name)])
        return [_key_value(v) for v in out]

    def _cursor(self, after: Cursor) -> list[object] | None:
        """The cursor as a list of key values, None from the start. An int is a cursor
        from before keys were lists (an export checkpoint of an earlier version): 0 was
        the start, any other its integer key."""
        if after is None or (isinstance(after, int) and not isinstance(after, bool)
                             and after == 0):
            return None
        values = list(after) if isinstance(after, list | tuple) else [after]
        if len(values) != len(self.keys):
            raise ValueError(f"{self.table}: a cursor of {len(values)} values for a key of "
                             f"{len(self.keys)} columns")
        return values

    def fetch(self, db: Session, after: Cursor, limit: int) -> Batch:
        backend = backend_of(db)
        driver = db.connection().connection.dbapi_connection
        assert driver is not None
        jsonl: list[bytes] = []
        csv: list[bytes] = []
        count, last = 0, self._cursor(after)
        keys = len(self.keys)
        while count < limit:
            size = min(FETCH, limit - count)
            statement = self._statement(backend, first=last is None)
            params: dict[str, object] = {**self.params, "limit": size}
            if last is not None:
                params.update({f"k{i}": v for i, v in enumerate(last)})
            cursor = driver.cursor()
            try:
                cursor.execute(statement, params)
                rows = cursor.fetchall()
            finally:
                cursor.close()
            if not rows:
                return Batch(count, last, True, b"".join(jsonl), b"".join(csv))
            if self.masked:
                j, c = self._masked(rows)
            else:
                j = ("\n".join([r[keys] for r in rows]) + "\n").encode() \
                    if "jsonl" in self.formats else b""
                c = ("\r\n".join([r[keys + 1] for r in rows]) + "\r\n").encode() \
                    if "csv" in self.formats else b""
            jsonl.append(j)
            csv.append(c)
            count += len(rows)
            last = self._key_of(rows[-1])
            if len(rows) < size:
                return Batch(count, last, True, b"".join(jsonl), b"".join(csv))
        return Batch(count, last, False, b"".join(jsonl), b"".join(csv))

    def _masked(self, rows: Sequence[Any]) -> tuple[bytes, bytes]:
        names = [c.name for c in self.columns]
        jsonl, csv = [], []
        for row in rows:
            values = [self._mask_one(c, k, v) for c, k, v in zip(
                self.columns, self.kinds, row[:len(self.columns)], strict=True)]
            jsonl.append(orjson.dumps(dict(zip(names, values, strict=True))))
            csv.append(",".join(csv_field(v, k) for v, k in zip(values, self.kinds,
                                                                  strict=True)).encode())
        return b"\n".join(jsonl) + b"\n", b"\r\n".join(csv) + b"\r\n"

    @staticmethod
    def _mask_one(info: ColumnInfo, kind: str, value: object) -> object:
        if value is None or info.withheld:
            return None
        if kind == "boolean":
            return bool(value)
        if info.pii:
            if kind in ("date", "datetime"):
                return f"{str(value)[:4]}-••-••"
            return mask_value(value)
        return mask_text(value) if isinstance(value, str) else value
