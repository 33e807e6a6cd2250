"""`retention preview`: what the policies say is due as of a day, saved as a plan that a
run can then apply (`retention run --plan ID`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from sqlmodel import Session, col, select

from console import audit, clock
from console.catalog import Category, category
from console.config import RetentionSettings
from console.contract import service
from console.db import writing
from console.errors import NotFound, ValidationError
from console.permissions import Permission
from console.principal import Principal
from console.retention import policies as policies_api
from console.retention.plans import analyze, dumps, rules_from
from console.retention.selection import run_order
from models.retention import RetentionPlan, RetentionPlanItem

ALL = "all"  # keep text of a termination item: every row not kept otherwise


@dataclass(frozen=True)
class Entry:
    """A category to plan: its action, keep period (text) and cutoff (None: all rows)."""

    category: Category
    action: str
    keep: str
    cutoff: date | None


@dataclass
class ItemView:
    category: str
    title: str
    action: str
    keep: str
    cutoff: date | None
    candidates: int
    due: int
    held: int
    restricted: int
    referenced: int
    legal_minimum: int
    holds: list[dict[str, Any]]
    oldest: str
    newest: str
    samples: list[dict[str, str]]
    note: str
    selection_hash: str
    ranges: int

    @property
    def kept(self) -> int:
        return self.held + self.restricted + self.referenced + self.legal_minimum


@dataclass
class PlanView:
    id: int
    created_at: datetime
    created_by: str
    source: str
    purpose: str
    as_of: date
    category_filter: str
    state: str
    run_id: int | None
    total_due: int
    items: list[ItemView] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def item_view(item: RetentionPlanItem) -> ItemView:
    cat = category(item.category)
    return ItemView(item.category, cat.title, item.action, item.keep,
                    None if item.keep == ALL else item.cutoff, item.candidates, item.due,
                    item.held, item.restricted, item.referenced, item.legal_minimum,
                    json.loads(item.holds), item.oldest, item.newest, json.loads(item.samples),
                    item.note, item.selection_hash, len(json.loads(item.ranges)))


def plan_view(db: Session, plan: RetentionPlan, *, items: bool = True) -> PlanView:
    result = PlanView(plan.id or 0, plan.created_at, plan.created_by, plan.source, plan.purpose,
                      plan.as_of, plan.category_filter, plan.state, plan.run_id, plan.total_due)
    if items:
        rows = db.execute(select(RetentionPlanItem).where(RetentionPlanItem.plan_id == plan.id)
                          .order_by(col(RetentionPlanItem.position))).scalars()
        result.items = [item_view(r) for r in rows]
    return result


def policy_entries(db: Session, config: RetentionSettings, as_of: date,
                   category_filter: str | None = None) -> list[Entry]:
    """The enabled policies as plan entries, in run order."""
    table = policies_api.effective(db, config)
    if category_filter:
        try:
            wanted = category(category_filter)
        except KeyError as exc:
            raise ValidationError("category", str(exc.args[0])) from None
        if not table[wanted.name.value].enabled:
            raise ValidationError("category", f"{wanted.name.value} has no enabled policy; "
                                  "see `flowpro-console retention policies`")
    entries = []
    for cat in run_order([category(name) for name in table]):
        policy = table[cat.name.value]
        cutoff = policy.cutoff(as_of)
        if cutoff is None or (category_filter and cat.name.value != category_filter):
            continue
        entries.append(Entry(cat, policy.action, policy.keep, cutoff))
    return entries


def save_plan(db: Session, actor: Principal, entries: list[Entry], *, as_of: date,
              source: str, purpose: str = "retention", category_filter: str = "",
              samples: int = 3, then: Callable[[RetentionPlan], Any] | None = None
              ) -> RetentionPlan:
    """Analyze `entries` now and save them as a plan (audited). Reads first, then one
    short write transaction, in which `then(plan)` runs too (a run that applies it)."""
    rules, going = rules_from(db, [(e.category, e.action, e.cutoff) for e in entries], as_of)
    analyses = [analyze(db, rule, going, samples=samples) for rule in rules]
    if db.in_transaction():
        db.rollback()
    with writing(db):
        plan = RetentionPlan(created_at=clock.now(), created_by=actor.name, source=source,
                             purpose=purpose, as_of=as_of, category_filter=category_filter,
                             total_due=sum(a.due for a in analyses))
        db.add(plan)
        db.flush()
        for position, (entry, found) in enumerate(zip(entries, analyses, strict=True)):
            db.add(RetentionPlanItem(
                plan_id=plan.id or 0, position=position, category=found.category,
                action=entry.action, keep=entry.keep, cutoff=entry.cutoff or as_of,
                candidates=found.candidates, due=found.due, held=found.held,
                restricted=found.restricted, referenced=found.referenced,
                legal_minimum=found.legal_minimum, holds=dumps(found.holds),
                oldest=found.oldest, newest=found.newest,
                selection_hash=found.selection_hash, ranges=dumps(found.ranges),
                samples=dumps(found.samples), note=found.note[:500]))
        audit.record(db, actor, "retention.preview", target=f"plan:{plan.id}", details={
            "as_of": as_of.isoformat(), "purpose": purpose, "source": source,
            "category": category_filter or None,
            "due": {a.category: a.due for a in analyses},
            "kept": {a.category: {"held": a.held, "restricted": a.restricted,
                                  "referenced": a.referenced,
                                  "legal_minimum": a.legal_minimum} for a in analyses}})
        if then is not None:
            then(plan)
    return plan


@service("retention.preview", audit_errors=True)
def preview(db: Session, actor: Principal, config: RetentionSettings, *,
            as_of: date | None = None, category_name: str | None = None,
            source: str = "cli") -> PlanView:
    """Per category, what the policies make due as of `as_of` (default: today, UTC), what
    keeps the rest, samples (masked); saved as a plan to apply with `retention run`.
    Needs retention.read. Raises ValidationError (unknown category or one without an
    enabled policy), ConfigError."""
    actor.require(Permission.RETENTION_READ)
    day = as_of or clock.now().date()
    entries = policy_entries(db, config, day, category_name)
    plan = save_plan(db, actor, entries, as_of=day, source=source,
                     category_filter=category_name or "", samples=config.sample_rows)
    return plan_view(db, plan)


@service("retention.read")
def get_plan(db: Session, actor: Principal, plan_id: int) -> PlanView:
    """One plan with its categories. Needs retention.read; NotFound."""
    actor.require(Permission.RETENTION_READ)
    plan = db.get(RetentionPlan, plan_id)
    if plan is None:
        raise NotFound(f"no retention plan #{plan_id}; make one with `flowpro-console "
                       "retention preview`")
    result = plan_view(db, plan)
    db.rollback()
    return result
