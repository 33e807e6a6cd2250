"""Legal holds: nothing a hold covers is deleted or anonymized, by retention or by an
erasure request. A hold names a category, a data subject (an employee or a customer), a
time range of the rows' age, or a combination; it covers the rows matching every part it
names (a hold naming none covers everything). Holds are released, never deleted.

Services (CLI and TUI): `add_hold`, `release_hold`, `list_holds`.

API for retention and for erasure requests (no permission check, no audit: the calling
service does both):

- ``active_holds(db) -> list[LegalHold]``
- ``hold_clause(hold, category) -> Clause | None``: the rows of the category a hold covers
  (None: the hold cannot cover this category).
- ``keeps(db, category, *, subject=None, clause=None, as_of=None) -> Keeps``: within the
  category (optionally only one subject's rows, or rows matching `clause`), how many rows
  each active hold keeps (by hold name), how many the category's legal minimum keeps, and
  ``Keeps.changeable``: the SQL clause of the rows that may be deleted or anonymized.
- ``legal_minimum(category) -> LegalMinimum``: the category's minimum keep period and basis.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import and_, false, func, not_, or_, select, true
from sqlmodel import Session, col

from console import audit, clock
from console.anonymize import pk_column, subject_category, table_of
from console.catalog import CATEGORIES, Category, SubjectKind, category
from console.contract import service
from console.db import writing
from console.errors import Conflict, NotFound, ValidationError
from console.permissions import Permission
from console.principal import Principal
from console.retention.selection import (
    Clause,
    age_within,
    legal_cutoff,
    legal_minimum_clause,
    partitioned,
    subject_rows,
)
from models.retention import LegalHold


@dataclass(frozen=True)
class LegalMinimum:
    days: int
    basis: str


def legal_minimum(cat: Category) -> LegalMinimum:
    return LegalMinimum(cat.legal_minimum_days, cat.legal_minimum_basis)


def describe(hold: LegalHold) -> str:
    """What a hold covers, in words: 'payroll · employee 17 · 2024-01-01..2024-12-31'."""
    parts = [hold.category or "all categories"]
    if hold.subject_kind:
        parts.append(f"{hold.subject_kind} {hold.subject_id}")
    if hold.range_from or hold.range_to:
        parts.append(f"{hold.range_from or '…'}..{hold.range_to or '…'}")
    return " · ".join(parts)


def active_holds(db: Session) -> list[LegalHold]:
    """Holds not released, oldest first."""
    return list(db.execute(select(LegalHold).where(col(LegalHold.released_at).is_(None))
                           .order_by(col(LegalHold.id))).scalars())


def hold_clause(hold: LegalHold, cat: Category) -> Clause | None:
    """The rows of `cat` that `hold` covers; None when it cannot cover any of them (and for
    categories stored in month partitions, whose holds are id ranges: see
    `console.retention.partitions.hold_spans`)."""
    if partitioned(cat):
        return None
    if hold.category and hold.category != cat.name.value:
        return None
    parts: list[Clause] = []
    if hold.subject_kind:
        clause = subject_rows(cat, SubjectKind(hold.subject_kind), [hold.subject_id])
        if clause is None:
            return None
        parts.append(clause)
    if hold.range_from or hold.range_to:
        parts.append(age_within(cat, hold.range_from, hold.range_to))
    return and_(*parts) if parts else true()


def held_clauses(holds: list[LegalHold], cat: Category
                 ) -> tuple[Clause, tuple[tuple[int, str, Clause], ...]]:
    """(any hold covers the row, each applicable hold with its clause)."""
    each = tuple((h.id or 0, h.name, c) for h in holds if (c := hold_clause(h, cat)) is not None)
    return (or_(*(c for _, _, c in each)) if each else false()), each


@dataclass(frozen=True)
class HoldCount:
    hold_id: int
    name: str
    rows: int


@dataclass
class Keeps:
    """What holds and the legal minimum keep within a scope of one category."""

    category: str
    holds: list[HoldCount] = field(default_factory=list)
    held_rows: int = 0
    legal_minimum_rows: int = 0
    legal_minimum_days: int = 0
    legal_basis: str = ""
    changeable: Clause = field(default_factory=false)

    @property
    def reasons(self) -> list[str]:
        """One line per reason rows are kept, for a response or a report."""
        lines = [f"{h.rows} row(s) kept by legal hold {h.name!r}" for h in self.holds if h.rows]
        if self.legal_minimum_rows:
            lines.append(f"{self.legal_minimum_rows} row(s) within the legal minimum "
                         f"({self.legal_minimum_days} days: {self.legal_basis})")
        return lines


def keeps(db: Session, cat: Category, *, subject: tuple[SubjectKind, int] | None = None,
          clause: Clause | None = None, as_of: date | None = None) -> Keeps:
    """Within `cat` (only the rows of `subject`, and/or matching `clause`): rows each
    active hold keeps, rows within the legal minimum, and the clause of the rest."""
    as_of = as_of or clock.now().date()
    scope: Clause = true()
    if subject is not None:
        linked = subject_rows(cat, subject[0], [subject[1]])
        scope = linked if linked is not None else false()
    if clause is not None:
        scope = and_(scope, clause)
    held, each = held_clauses(active_holds(db), cat)
    legal = legal_minimum_clause(cat, as_of)
    table = table_of(cat)

    def count(where: Clause) -> int:
        return int(db.execute(select(func.count()).select_from(table).where(where)).scalar()
                   or 0)

    result = Keeps(cat.name.value, legal_minimum_days=cat.legal_minimum_days,
                   legal_basis=cat.legal_minimum_basis,
                   changeable=and_(scope, not_(held), not_(legal)))
    for hold_id, name, hold in each:
        result.holds.append(HoldCount(hold_id, name, count(and_(scope, hold))))
    result.held_rows = count(and_(scope, held)) if each else 0
    if legal_cutoff(cat, as_of) is not None:
        result.legal_minimum_rows = count(and_(scope, not_(held), legal))
    return result


# -- services ----------------------------------------------------------------------------


@dataclass(frozen=True)
class HoldView:
    id: int
    name: str
    reason: str
    covers: str
    category: str | None
    subject_kind: str | None
    subject_id: int | None
    range_from: date | None
    range_to: date | None
    created_at: datetime
    created_by: str
    released_at: datetime | None
    released_by: str
    release_reason: str

    @property
    def active(self) -> bool:
        return self.released_at is None


def view(hold: LegalHold) -> HoldView:
    return HoldView(hold.id or 0, hold.name, hold.reason, describe(hold), hold.category,
                    hold.subject_kind, hold.subject_id, hold.range_from, hold.range_to,
                    hold.created_at, hold.created_by, hold.released_at, hold.released_by,
                    hold.release_reason)


def _subject(db: Session, employee: int | None, customer: int | None
             ) -> tuple[SubjectKind, int] | None:
    if employee is not None and customer is not None:
        raise ValidationError("subject", "a hold names one data subject: an employee or a "
                              "customer, not both (place two holds)")
    if employee is None and customer is None:
        return None
    kind, ident = ((SubjectKind.EMPLOYEE, employee) if employee is not None
                   else (SubjectKind.CUSTOMER, customer))
    assert ident is not None
    subject = subject_category(kind)
    exists = db.execute(select(pk_column(subject)).where(pk_column(subject) == ident)).first()
    if exists is None:
        raise NotFound(f"no {kind.value} with id {ident}")
    return kind, ident


@service("retention.hold_add", audit_errors=True)
def add_hold(db: Session, actor: Principal, *, name: str, reason: str,
             category_name: str | None = None, employee: int | None = None,
             customer: int | None = None, range_from: date | None = None,
             range_to: date | None = None) -> HoldView:
    """Place a legal hold. Needs retention.manage. Raises ValidationError (name, reason,
    an unknown category, a category without that subject, a reversed range), NotFound (the
    subject), Conflict (an active hold has that name)."""
    actor.require(Permission.RETENTION_MANAGE)
    name, reason = " ".join(name.split()), reason.strip()
    if not name or len(name) > 100:
        raise ValidationError("name", "give the hold a name of 1-100 characters")
    if not reason or len(reason) > 500:
        raise ValidationError("reason", "say why the data must be kept (1-500 characters)")
    cat: Category | None = None
    if category_name:
        try:
            cat = category(category_name)
        except KeyError as exc:
            raise ValidationError("category", str(exc.args[0])) from None
    subject = _subject(db, employee, customer)
    if cat is not None and subject is not None and not cat.links_to(subject[0]):
        linked = ", ".join(c.name.value for c in CATEGORIES if c.links_to(subject[0]))
        raise ValidationError("category", f"{cat.name.value} holds no {subject[0].value} "
                              f"data; {subject[0].value} data is in: {linked}")
    if range_from and range_to and range_from > range_to:
        raise ValidationError("to", f"the range ends ({range_to}) before it starts "
                              f"({range_from})")
    with writing(db):
        taken = db.execute(select(LegalHold.id).where(LegalHold.name == name).where(
            col(LegalHold.released_at).is_(None))).first()
        if taken is not None:
            raise Conflict(f"an active hold is already called {name!r} (#{taken[0]}); "
                           "choose another name")
        hold = LegalHold(name=name, reason=reason, category=cat.name.value if cat else None,
                         subject_kind=subject[0].value if subject else None,
                         subject_id=subject[1] if subject else None, range_from=range_from,
                         range_to=range_to, created_at=clock.now(), created_by=actor.name)
        db.add(hold)
        db.flush()
        audit.record(db, actor, "retention.hold_add", target=f"hold:{hold.id}", details={
            "name": name, "reason": reason, "covers": describe(hold)})
        return view(hold)


@service("retention.hold_release", audit_errors=True, target_prefix="hold:")
def release_hold(db: Session, actor: Principal, hold_id: int, *, reason: str) -> HoldView:
    """Release an active hold (it stays on record). Needs retention.manage. Raises NotFound,
    Conflict (already released), ValidationError (no reason)."""
    actor.require(Permission.RETENTION_MANAGE)
    reason = reason.strip()
    if not reason or len(reason) > 500:
        raise ValidationError("reason", "say why the hold is released (1-500 characters)")
    with writing(db):
        hold = db.get(LegalHold, hold_id)
        if hold is None:
            raise NotFound(f"no legal hold #{hold_id}; see `flowpro-console retention hold "
                           "list`")
        if hold.released_at is not None:
            raise Conflict(f"hold #{hold_id} ({hold.name}) was already released on "
                           f"{hold.released_at:%Y-%m-%d} by {hold.released_by}")
        hold.released_at, hold.released_by = clock.now(), actor.name
        hold.release_reason = reason
        db.add(hold)
        audit.record(db, actor, "retention.hold_release", target=f"hold:{hold_id}",
                     details={"name": hold.name, "reason": reason, "covers": describe(hold)})
        return view(hold)


@service("retention.read")
def list_holds(db: Session, actor: Principal, *, include_released: bool = True
               ) -> list[HoldView]:
    """Holds, active first then released, newest first. Needs retention.read."""
    actor.require(Permission.RETENTION_READ)
    query = select(LegalHold)
    if not include_released:
        query = query.where(col(LegalHold.released_at).is_(None))
    holds = [view(h) for h in db.execute(query).scalars()]
    db.rollback()
    return sorted(holds, key=lambda h: (not h.active, -h.id))
