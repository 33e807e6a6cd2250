"""Anonymization, per PII column as the catalog declares it: the row stays useful for
statistics, the person is gone. Irreversible: no mapping from a person to a pseudonym is
kept anywhere; a pseudonym is a keyed hash (HMAC-SHA256 with the installation's
`pseudonym.key`, which is never exported).

The rules (`console.catalog.Anonymize`):

- ``null``: the value is removed; ``token``: replaced by the column's fixed token
  (``[redacted]``); ``keep``: kept (amounts); ``year``: a date coarsened to January 1st of its
  year (a date-time to 00:00 UTC that day).
- ``pseudonym`` on a text column: ``"p:" + 32 hex digits`` of HMAC-SHA256(key, column name
  and value). The same value gives the same pseudonym everywhere, so joins and counts
  still work.
- ``pseudonym`` on a column that links a data subject (``payroll.employee_id``,
  ``sales.customer_id``): the link is moved to the subject's *shadow*, a row in the subject's
  own table that holds no personal data (its number is ``anon-`` + a keyed hash of the
  original id; other dates coarsened to the year, PII columns anonymized). Every row of one
  person points to the same shadow, so "payroll per (anonymous) employee" still adds up and
  the foreign keys stay valid; the shadow cannot be traced back without the key.

API (stable; retention and data-subject erasure both build on it). Nothing here checks
permissions, holds or writes audit events: callers do (inside their ``writing(db)``):

- ``pseudonym(key, domain, value) -> str``
- ``anonymize_rows(db, category, pks, *, key, now=None) -> int``: anonymize these rows (by
  primary key), in chunks; returns how many rows were changed.
- ``anonymize_where(db, category, clause, *, key, batch=500, now=None) -> int``: anonymize
  every row matching a SQL clause (plus ``needs_anonymizing``), batched by primary key.
- ``needs_anonymizing(category) -> ColumnElement``: true for rows that still hold PII.
- ``subject_clause(category, kind, subject_id) -> ColumnElement | None``: rows of the category
  that link this data subject (by every link the catalog declares).
- ``shadow_of(db, kind, original_id, *, key, now=None) -> int``: the shadow subject's id.
- ``is_anonymizable(category) -> bool``: whether the category has PII to anonymize.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    String,
    Table,
    and_,
    bindparam,
    extract,
    false,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from console import clock
from console.catalog import CATEGORIES, Anonymize, Category, PiiColumn, SubjectKind

PSEUDONYM_PREFIX = "p:"
SHADOW_PREFIX = "anon-"
CHUNK = 500


def pseudonym(key: bytes, domain: str, value: object) -> str:
    """`"p:" + 32 hex` of HMAC-SHA256(key, domain NUL value): stable, keyed, one-way."""
    digest = hmac.new(key, f"{domain}\x00{value}".encode(), hashlib.sha256).hexdigest()
    return PSEUDONYM_PREFIX + digest[:32]


def coarsen(value: date | datetime | None) -> date | datetime | None:
    """January 1st of the value's year (00:00 UTC for a date-time)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return datetime(value.year, 1, 1, tzinfo=UTC)
    return date(value.year, 1, 1)


def table_of(cat: Category) -> Table:
    return cat.model.__table__  # type: ignore[attr-defined,no-any-return]


def pk_column(cat: Category) -> Column[Any]:
    return next(iter(table_of(cat).primary_key.columns))


def subject_category(kind: SubjectKind) -> Category:
    """The category whose rows are the data subjects of `kind` (its link column is `id`)."""
    return next(c for c in CATEGORIES if any(
        link.kind == kind and link.column == pk_column(c).name for link in c.subject_links))


def _subject_link(cat: Category, column: str) -> SubjectKind | None:
    """The subject kind a PII column links to, when it is a link to another table."""
    for link in cat.subject_links:
        if link.column == column and column != pk_column(cat).name:
            return link.kind
    return None


def _number_column(cat: Category) -> Column[Any]:
    """The subject table's unique, human-facing number (employee_no, customer_no)."""
    table = table_of(cat)
    for column in table.columns:
        if column.unique and _is_text(column) and not column.primary_key:
            return column
    for index in table.indexes:
        cols = list(index.columns)
        if index.unique and len(cols) == 1 and _is_text(cols[0]):
            return cols[0]
    raise LookupError(f"{cat.table} has no unique text column for shadow subjects")


def _is_text(column: Column[Any]) -> bool:
    kind = column.type
    return isinstance(kind, String) or isinstance(getattr(kind, "impl", None), String)


def _length(column: Column[Any]) -> int:
    kind = column.type
    return int(getattr(kind, "length", None) or getattr(getattr(kind, "impl", None), "length",
                                                        None) or 32)


def _changing(cat: Category) -> list[PiiColumn]:
    return [c for c in cat.pii if c.rule != Anonymize.KEEP]


def is_anonymizable(cat: Category) -> bool:
    return bool(_changing(cat))


def _shadow_ids(kind: SubjectKind) -> Any:
    subject = subject_category(kind)
    return select(pk_column(subject)).where(
        _number_column(subject).like(f"{SHADOW_PREFIX}%"))


def needs_anonymizing(cat: Category) -> ColumnElement[bool]:
    """SQL: the row still holds personal data that the catalog's rules would change."""
    table = table_of(cat)
    parts: list[ColumnElement[bool]] = []
    for pii in _changing(cat):
        col = table.c[pii.name]
        if pii.rule == Anonymize.NULL:
            parts.append(col.is_not(None))
        elif pii.rule == Anonymize.TOKEN:
            parts.append(and_(col.is_not(None), col != pii.token))
        elif pii.rule == Anonymize.YEAR:
            parts.append(and_(col.is_not(None), or_(extract("month", col) != 1,
                                                    extract("day", col) != 1)))
        elif pii.rule == Anonymize.PSEUDONYM:
            kind = _subject_link(cat, pii.name)
            if kind is not None:
                subject = subject_category(kind)
                real = select(pk_column(subject)).where(
                    ~_number_column(subject).like(f"{SHADOW_PREFIX}%"))
                parts.append(col.in_(real))
            else:
                parts.append(and_(col.is_not(None), ~col.like(f"{PSEUDONYM_PREFIX}%")))
    return or_(*parts) if parts else false()


def subject_clause(cat: Category, kind: SubjectKind, subject_id: int) -> ColumnElement[bool] | None:
    """SQL: rows of `cat` linked to the subject (None when the category has no such link)."""
    table = table_of(cat)
    links = [table.c[link.column] == subject_id for link in cat.links_to(kind)]
    return or_(*links) if links else None


def shadow_of(db: Session, kind: SubjectKind, original_id: int, *, key: bytes,
              now: datetime | None = None) -> int:
    """The id of the shadow of subject `original_id` (created on first use): a row of the
    subject's table without personal data, numbered by a keyed hash of the original id."""
    subject = subject_category(kind)
    table, pk, number = table_of(subject), pk_column(subject), _number_column(subject)
    conn = db.connection()
    original = conn.execute(select(table).where(pk == original_id)).mappings().first()
    if original is None:
        raise LookupError(f"{subject.table} row {original_id} does not exist")
    if str(original[number.name]).startswith(SHADOW_PREFIX):
        return original_id  # already a shadow
    code = (SHADOW_PREFIX + pseudonym(key, kind.value, original_id)[2:])[:_length(number)]
    found = conn.execute(select(pk).where(number == code)).scalar()
    if found is not None:
        return int(found)
    now = now or clock.now()
    values = _shadow_values(subject, dict(original), number.name, code, key, now)
    try:
        with db.begin_nested():
            inserted = db.connection().execute(table.insert().values(**values))
        return int(inserted.inserted_primary_key[0])
    except IntegrityError:  # made meanwhile by a concurrent erasure: use that one
        return int(conn.execute(select(pk).where(number == code)).scalar_one())


def _shadow_values(subject: Category, row: dict[str, Any], number: str, code: str,
                   key: bytes, now: datetime) -> dict[str, Any]:
    table = table_of(subject)
    values: dict[str, Any] = {}
    for column in table.columns:
        name = column.name
        if column.primary_key:
            continue
        pii = subject.pii_column(name)
        value = row.get(name)
        if name == number:
            values[name] = code
        elif pii is not None:
            values[name] = _anonymized(subject, pii, value, db=None, key=key, now=now)
        elif name in ("anonymized_at", "updated_at"):
            values[name] = now
        elif name == "restricted":
            values[name] = False
        elif isinstance(column.type, Date | DateTime) or isinstance(value, date):
            values[name] = coarsen(value)  # hire dates and the like narrow a person down
        else:
            values[name] = value
    return values


def _anonymized(cat: Category, pii: PiiColumn, value: Any, *, db: Session | None,
                key: bytes, now: datetime, shadows: dict[tuple[str, int], int] | None = None
                ) -> Any:
    if pii.rule == Anonymize.KEEP or value is None:
        return value
    if pii.rule == Anonymize.NULL:
        return None
    if pii.rule == Anonymize.TOKEN:
        return pii.token
    if pii.rule == Anonymize.YEAR:
        return coarsen(value)
    kind = _subject_link(cat, pii.name)
    if kind is None:
        text = str(value)
        return text if text.startswith(PSEUDONYM_PREFIX) else pseudonym(key, pii.name, text)
    assert db is not None, "subject links are only pseudonymized inside anonymize_rows"
    cache = shadows if shadows is not None else {}
    slot = (kind.value, int(value))
    if slot not in cache:
        cache[slot] = shadow_of(db, kind, int(value), key=key, now=now)
    return cache[slot]


def anonymize_rows(db: Session, category: Category, pks: Sequence[Any], *, key: bytes,
                   now: datetime | None = None) -> int:
    """Anonymize the rows with these primary keys, per the catalog's rules, in chunks of
    500. Runs in the caller's transaction. Rows already anonymous stay as they are (their
    shadows, pseudonyms and tokens are recognized). Returns the rows updated."""
    cat = category
    changing = _changing(cat)
    if not changing or not pks:
        return 0
    now = now or clock.now()
    table, pk = table_of(cat), pk_column(cat)
    extra = [c for c in ("anonymized_at", "updated_at") if c in table.c]
    names = [p.name for p in changing]
    statement = (update(table).where(pk == bindparam("_pk"))
                 .values({n: bindparam(f"v_{n}") for n in [*names, *extra]}))
    shadows: dict[tuple[str, int], int] = {}
    conn = db.connection()
    changed = 0
    for start in range(0, len(pks), CHUNK):
        chunk = list(pks[start:start + CHUNK])
        rows = conn.execute(select(pk, *[table.c[n] for n in names])
                            .where(pk.in_(chunk))).all()
        params = []
        for row in rows:
            values = {f"v_{p.name}": _anonymized(cat, p, row[i + 1], db=db, key=key, now=now,
                                                 shadows=shadows)
                      for i, p in enumerate(changing)}
            values.update({f"v_{n}": now for n in extra})
            params.append({"_pk": row[0], **values})
        if params:
            conn.execute(statement, params)
            changed += len(params)
    return changed


def anonymize_where(db: Session, category: Category, clause: ColumnElement[bool] | None, *,
                    key: bytes, batch: int = CHUNK, now: datetime | None = None) -> int:
    """Anonymize every row matching `clause` that still holds PII, walking the primary key
    in batches of `batch`. Runs in the caller's transaction; returns the rows changed."""
    pk = pk_column(category)
    where = needs_anonymizing(category)
    if clause is not None:
        where = and_(where, clause)
    conn = db.connection()
    after: Any = None
    total = 0
    while True:
        query = select(pk).where(where).order_by(pk).limit(batch)
        if after is not None:
            query = query.where(pk > after)
        chunk = [r[0] for r in conn.execute(query)]
        if not chunk:
            return total
        total += anonymize_rows(db, category, chunk, key=key, now=now)
        after = chunk[-1]

