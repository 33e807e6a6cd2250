"""What a retention rule selects, as SQL: one place for the clauses that the preview, the
drift check and every batch of a run evaluate, so that they can never disagree.

Every clause here is NULL-safe (never SQL NULL, only true or false), so that negating one
(`NOT held`) never silently drops a row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Column, Date, Table, and_, false, func, not_, or_, select, true
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import SQLModel

from console.anonymize import needs_anonymizing, pk_column, subject_category, table_of
from console.catalog import CATEGORIES, Category, CategoryName, Disposal, SubjectKind

Clause = ColumnElement[bool]

# Rows a category's retention must never touch whatever their age: work still going on.
_ENDED_JOB_STATES = ("succeeded", "failed", "cancelled")


def known(column: Column[Any], expr: Clause) -> Clause:
    """`expr` when `column` is not NULL, else false (never NULL)."""
    return and_(column.is_not(None), expr)


def age_column(cat: Category) -> Column[Any]:
    return table_of(cat).c[cat.age_column]


def _bound(column: Column[Any], day: date) -> date | datetime:
    """A day as the column compares it: the day itself, or its 00:00 UTC."""
    if isinstance(column.type, Date):
        return day
    return datetime.combine(day, time(0), UTC)


def age_before(cat: Category, day: date, *, indexed: bool = True) -> Clause:
    """Aged strictly before `day`. `indexed=False` keeps the planner off the age index:
    a batch walks a primary-key range, and SQLite would otherwise scan every old row's
    index entry for each batch."""
    col = age_column(cat)
    value: Any = col if indexed else func.coalesce(col, col)
    return known(col, value < _bound(col, day))


def age_from(cat: Category, day: date) -> Clause:
    """Aged on or after `day`."""
    col = age_column(cat)
    return known(col, col >= _bound(col, day))


def age_within(cat: Category, first: date | None, last: date | None) -> Clause:
    """Aged within [first, last] (whole days, either end open)."""
    col = age_column(cat)
    parts: list[Clause] = []
    if first is not None:
        parts.append(col >= _bound(col, first))
    if last is not None:
        parts.append(col < _bound(col, last + timedelta(days=1)))
    return known(col, and_(*parts)) if parts else true()


def base_filter(cat: Category) -> Clause:
    """Rows retention may consider at all: job runs only once ended, support sessions
    only once closed."""
    table = table_of(cat)
    if cat.name == CategoryName.JOB_RUNS:
        return table.c.state.in_(_ENDED_JOB_STATES)
    if cat.name == CategoryName.SUPPORT_SESSIONS:
        return table.c.ended_at.is_not(None)
    return true()


def legal_cutoff(cat: Category, as_of: date) -> date | None:
    """Rows aged on or after this day are within the category's legal minimum."""
    if not cat.legal_minimum_days:
        return None
    return as_of - timedelta(days=cat.legal_minimum_days)


def legal_minimum_clause(cat: Category, as_of: date) -> Clause:
    """Rows a legal minimum keeps (false when the category has none). Rows without an age
    (say, a current employee) are not covered: no minimum runs for them yet."""
    cutoff = legal_cutoff(cat, as_of)
    return age_from(cat, cutoff) if cutoff is not None else false()


def subject_rows(cat: Category, kind: SubjectKind, ids: Any) -> Clause | None:
    """Rows of `cat` linked to the subjects `ids` (a select of ids) by any declared link."""
    table = table_of(cat)
    links = [known(table.c[link.column], table.c[link.column].in_(ids))
             for link in cat.links_to(kind)]
    return or_(*links) if links else None


def restricted_clause(cat: Category) -> Clause:
    """Rows linked to a data subject whose processing is restricted."""
    parts: list[Clause] = []
    for kind in {link.kind for link in cat.subject_links}:
        subject = subject_category(kind)
        subject_table = table_of(subject)
        if "restricted" not in subject_table.c:
            continue
        ids = select(pk_column(subject)).where(subject_table.c.restricted == true())
        clause = subject_rows(cat, kind, ids)
        if clause is not None:
            parts.append(clause)
    return or_(*parts) if parts else false()


def partitioned(cat: Category) -> bool:
    """Stored in month partitions (no table of its own): see `console.retention.partitions`."""
    return cat.disposal == Disposal.PARTITIONS


def is_subject_table(cat: Category) -> bool:
    if partitioned(cat):
        return False
    pk = pk_column(cat).name
    return any(link.column == pk for link in cat.subject_links)


@dataclass(frozen=True)
class Reference:
    """A catalog category whose rows point at `target`'s rows through `column`."""

    source: Category
    column: str


def references_to(cat: Category) -> list[Reference]:
    """Catalog categories holding a foreign key into `cat`'s table."""
    found = []
    for other in CATEGORIES:
        if other is cat or partitioned(other):
            continue
        for column in table_of(other).columns:
            if any(fk.column.table.name == cat.table for fk in column.foreign_keys):
                found.append(Reference(other, column.name))
    return found


def dependents(cat: Category) -> list[tuple[Table, Column[Any]]]:
    """Tables outside the catalog that hold a foreign key into `cat`'s table (e.g. support
    receipts of a support session): their rows go with the row they belong to."""
    catalog_tables = {c.table for c in CATEGORIES}
    found = []
    for table in SQLModel.metadata.sorted_tables:
        if table.name in catalog_tables:
            continue
        for column in table.columns:
            if any(fk.column.table.name == cat.table for fk in column.foreign_keys):
                found.append((table, column))
    return found


def referenced_clause(cat: Category, going: Mapping[str, Clause]) -> Clause:
    """Rows of `cat` that rows of other categories still point at, not counting rows that
    `going` (category name -> its due clause in the same plan) says will be deleted first."""
    pk = pk_column(cat)
    parts: list[Clause] = []
    for ref in references_to(cat):
        source_col = table_of(ref.source).c[ref.column]
        staying = source_col.is_not(None)
        if ref.source.name.value in going:
            staying = and_(staying, not_(going[ref.source.name.value]))
        parts.append(pk.in_(select(source_col).where(staying)))
    return or_(*parts) if parts else false()


def candidate_clause(cat: Category, *, action: str, cutoff: date | None,
                     indexed: bool = True) -> Clause:
    """Old enough for the rule (cutoff None: every row, as on termination) and, for
    anonymize, still holding personal data."""
    parts = [base_filter(cat)]
    if cutoff is not None:
        parts.append(age_before(cat, cutoff, indexed=indexed))
    if action == "anonymize":
        parts.append(needs_anonymizing(cat))
    return and_(*parts)


@dataclass(frozen=True)
class Rule:
    """One category's rule within a plan, with everything that keeps rows from it."""

    category: Category
    action: str
    cutoff: date | None
    as_of: date
    held: Clause  # any active hold covering the row
    holds: tuple[tuple[int, str, Clause], ...]  # (hold id, name, clause) each

    @property
    def candidates(self) -> Clause:
        return candidate_clause(self.category, action=self.action, cutoff=self.cutoff)

    @property
    def legal(self) -> Clause:
        return legal_minimum_clause(self.category, self.as_of)

    @property
    def restricted(self) -> Clause:
        return restricted_clause(self.category)

    def referenced(self, going: Mapping[str, Clause]) -> Clause:
        if self.action != "delete":
            return false()
        return referenced_clause(self.category, going)

    def due(self, going: Mapping[str, Clause], *, windowed: bool = False) -> Clause:
        """What a run changes: candidates no legal minimum, hold, restriction or remaining
        reference keeps. `windowed`: for a batch over a key range (see `age_before`)."""
        candidates = self.candidates if not windowed else candidate_clause(
            self.category, action=self.action, cutoff=self.cutoff, indexed=False)
        return and_(candidates, not_(self.legal), not_(self.held),
                    not_(self.restricted), not_(self.referenced(going)))


def going_clauses(rules: list[Rule]) -> dict[str, Clause]:
    """Each delete rule's due clause, in the order a run applies them (a subject table's
    references only count rows that stay)."""
    going: dict[str, Clause] = {}
    for rule in rules:
        if rule.action == "delete" and not partitioned(rule.category):
            going[rule.category.name.value] = rule.due(dict(going))
    return going


def run_order(categories: list[Category]) -> list[Category]:
    """Referencing categories first, subject tables (employees, customers) last, so that a
    subject can go once the rows pointing at it have gone."""
    return sorted(categories, key=lambda c: (is_subject_table(c), CATEGORIES.index(c)))
