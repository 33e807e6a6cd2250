"""Previews, saved as plans: per category what a run would delete or anonymize, what keeps
the rest (each hold, restrictions, references, legal minimums), the oldest and newest rows
affected, masked samples, and the exact selection (primary-key ranges and their hash).

A run cites a plan and changes only rows that are in the plan *and* still due when it gets
to them; before it starts, `check_drift` measures how far the database has moved from the
plan (rows no longer due, rows newly due) and the run stops if that is beyond the
threshold.
"""

from __future__ import annotations

import bisect
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import and_, false, func, not_, select
from sqlmodel import Session

from console.anonymize import pk_column, table_of
from console.catalog import Category, CategoryName
from console.masking import mask_value
from console.retention import holds as holds_api
from console.retention import partitions
from console.retention.selection import Clause, Rule, age_column, going_clauses, partitioned

PREFIX_ONLY = {CategoryName.AUDIT_EVENTS}  # purged from the start of the chain only


@dataclass
class Analysis:
    """One category's selection now: counts, and the due rows as key ranges."""

    category: str
    action: str
    candidates: int = 0
    due: int = 0
    legal_minimum: int = 0
    held: int = 0
    restricted: int = 0
    referenced: int = 0
    holds: list[dict[str, Any]] = field(default_factory=list)
    ranges: list[list[Any]] = field(default_factory=list)
    selection_hash: str = ""
    oldest: str = ""
    newest: str = ""
    samples: list[dict[str, str]] = field(default_factory=list)
    note: str = ""


def _count(db: Session, cat: Category, where: Clause) -> int:
    query = select(func.count()).select_from(table_of(cat)).where(where)
    return int(db.execute(query).scalar() or 0)


def stream_keys(db: Session, cat: Category, where: Clause) -> Iterator[Any]:
    """Primary keys matching `where`, in order, without loading them all at once."""
    pk = pk_column(cat)
    conn = db.connection().execution_options(stream_results=True, yield_per=20_000)
    for row in conn.execute(select(pk).where(where).order_by(pk)):
        yield row[0]


def build_ranges(keys: Iterator[Any]) -> tuple[list[list[Any]], str, int]:
    """(runs of consecutive integer keys as [first, last], or [k, k] for text keys; the
    SHA-256 of the keys; how many)."""
    digest = hashlib.sha256()
    ranges: list[list[Any]] = []
    count = 0
    for key in keys:
        digest.update(f"{key}\n".encode())
        count += 1
        if ranges and isinstance(key, int) and key == ranges[-1][1] + 1:
            ranges[-1][1] = key
        else:
            ranges.append([key, key])
    return ranges, digest.hexdigest(), count


def range_size(ranges: list[list[Any]]) -> int:
    return sum(hi - lo + 1 if isinstance(lo, int) else 1 for lo, hi in ranges)


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _samples(db: Session, cat: Category, where: Clause, limit: int) -> list[dict[str, str]]:
    if limit <= 0:
        return []
    table, pk, age = table_of(cat), pk_column(cat), age_column(cat)
    pii = [table.c[p.name] for p in cat.pii][:4]
    columns = [pk, age, *[c for c in pii if c.name not in (pk.name, age.name)]]
    rows = db.execute(select(*columns).where(where).order_by(pk).limit(limit)).all()
    out = []
    for row in rows:
        sample = {}
        for column, value in zip(columns, row, strict=True):
            shown = mask_value(value) if column in pii else value
            sample[column.name] = _text(shown)
        out.append(sample)
    return out


def analyze(db: Session, rule: Rule, going: dict[str, Clause], *, samples: int = 0,
            max_key: Any = None) -> Analysis:
    """Count and select what `rule` would change now (keys up to `max_key` only)."""
    cat = rule.category
    result = Analysis(cat.name.value, rule.action)
    if partitioned(cat):
        found = partitions.analyze(db, cat, rule.cutoff, holds_api.active_holds(db))
        for name, value in found.items():
            setattr(result, name, value)
        return result
    candidates = rule.candidates
    if max_key is not None:
        candidates = and_(candidates, pk_column(cat) <= max_key)
    result.candidates = _count(db, cat, candidates)
    if not result.candidates:
        return result
    not_legal = and_(candidates, not_(rule.legal))
    result.legal_minimum = result.candidates - _count(db, cat, not_legal)
    for hold_id, name, clause in rule.holds:
        rows = _count(db, cat, and_(not_legal, clause))
        result.holds.append({"id": hold_id, "name": name, "rows": rows})
    result.held = _count(db, cat, and_(not_legal, rule.held)) if rule.holds else 0
    free = and_(not_legal, not_(rule.held))
    result.restricted = _count(db, cat, and_(free, rule.restricted))
    free = and_(free, not_(rule.restricted))
    referenced = rule.referenced(going)
    result.referenced = _count(db, cat, and_(free, referenced))
    due = and_(free, not_(referenced))
    if max_key is not None:
        due = and_(due, pk_column(cat) <= max_key)
    ranges, digest, count = build_ranges(stream_keys(db, cat, due))
    if cat.name in PREFIX_ONLY and ranges:
        first = db.execute(select(func.min(pk_column(cat)))).scalar()
        kept_from = ranges[0][1] + 1
        ranges = ranges[:1] if ranges[0][0] == first else []
        if len(ranges) and count > range_size(ranges):
            result.note = (f"purged from the start of the chain up to event {kept_from - 1}; "
                           f"event {kept_from} must be kept, so later due events wait")
        elif not ranges:
            result.note = "the first event of the chain must be kept: nothing can go yet"
        kept, digest, count = build_ranges(k for lo, hi in ranges for k in range(lo, hi + 1))
        assert kept == ranges
    result.ranges, result.selection_hash, result.due = ranges, digest, count
    if count:
        in_ranges = pk_column(cat).between(ranges[0][0], ranges[-1][1]) \
            if cat.name in PREFIX_ONLY else due
        age = age_column(cat)
        oldest, newest = db.execute(select(func.min(age), func.max(age)).where(
            in_ranges if cat.name in PREFIX_ONLY else due)).one()
        result.oldest, result.newest = _text(oldest), _text(newest)
        result.samples = _samples(db, cat, in_ranges, samples)
    return result


def rules_from(db: Session, items: list[tuple[Category, str, date | None]], as_of: date
               ) -> tuple[list[Rule], dict[str, Clause]]:
    """Rules (in run order, with the current holds) and the delete rules' due clauses."""
    active = holds_api.active_holds(db)
    rules = []
    for cat, action, cutoff in items:
        held, each = (false(), ()) if partitioned(cat) else holds_api.held_clauses(active, cat)
        rules.append(Rule(cat, action, cutoff, as_of, held, each))
    return rules, going_clauses(rules)


# -- drift -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Drift:
    category: str
    planned: int
    still_due: int  # planned and due now: what the run will change
    gone: int  # planned, no longer due (held, restricted, changed or deleted meanwhile)
    new: int  # due now but not in the plan (the run leaves them for the next plan)

    @property
    def percent(self) -> float:
        changed = self.gone + self.new
        if not changed:
            return 0.0
        return 100.0 * changed / self.planned if self.planned else 100.0

    def describe(self) -> str:
        return (f"{self.category}: {self.planned:,} planned, {self.gone:,} no longer due, "
                f"{self.new:,} newly due ({self.percent:.1f}%)")


def in_ranges(ranges: list[list[Any]], key: Any) -> bool:
    starts = [lo for lo, _ in ranges]
    i = bisect.bisect_right(starts, key) - 1
    return i >= 0 and ranges[i][0] <= key <= ranges[i][1]


def measure_drift(db: Session, rule: Rule, going: dict[str, Clause],
                  ranges: list[list[Any]]) -> tuple[Drift, Analysis]:
    """How the rows `rule` selects now (up to the plan's last key) differ from `ranges`."""
    if partitioned(rule.category):
        now = analyze(db, rule, going)
        planned, gone, new = partitions.drift(ranges, now.ranges)
        return Drift(rule.category.name.value, planned, planned - gone, gone, new), now
    planned = range_size(ranges)
    max_key = ranges[-1][1] if ranges else None
    if max_key is None:
        return Drift(rule.category.name.value, 0, 0, 0, 0), Analysis(
            rule.category.name.value, rule.action)
    now = analyze(db, rule, going, max_key=max_key)
    starts = [lo for lo, _ in ranges]
    both = 0
    for lo, hi in now.ranges:
        if isinstance(lo, int):
            i = max(0, bisect.bisect_right(starts, lo) - 1)
            while i < len(ranges) and ranges[i][0] <= hi:
                a, b = max(lo, ranges[i][0]), min(hi, ranges[i][1])
                both += max(0, b - a + 1)
                i += 1
        elif in_ranges(ranges, lo):
            both += 1
    return Drift(rule.category.name.value, planned, both, planned - both, now.due - both), now


def dumps(value: Any) -> str:
    return json.dumps(value, default=str, separators=(",", ":"))
