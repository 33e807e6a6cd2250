"""The history of retention runs (the Retention area and `retention runs`)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from console.contract import service
from console.permissions import Permission
from console.principal import Principal
from models.retention import RetentionPlan, RetentionRun, RetentionRunItem


@dataclass
class RunItemView:
    category: str
    action: str
    planned: int
    deleted: int
    anonymized: int
    skipped: int
    held: int
    restricted: int
    referenced: int
    legal_minimum: int
    holds: dict[str, int]
    batches: int
    max_batch_ms: float
    done: bool
    note: str


@dataclass
class RunView:
    id: int
    plan_id: int
    purpose: str
    as_of: str
    job_run_id: int | None
    started_at: datetime
    started_by: str
    ended_at: datetime | None
    state: str
    phase: str
    error: str
    bytes_freed: int
    file_bytes_before: int | None
    file_bytes_after: int | None
    drift_percent: float | None
    space_note: str
    items: list[RunItemView] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return sum(i.deleted + i.anonymized for i in self.items)

    @property
    def kept(self) -> int:
        return sum(i.held + i.restricted + i.referenced + i.legal_minimum for i in self.items)

    @property
    def max_batch_ms(self) -> float:
        return max((i.max_batch_ms for i in self.items), default=0.0)

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"changed": self.changed, "kept": self.kept,
                               "max_batch_ms": round(self.max_batch_ms, 2)}


def _view(db: Session, run: RetentionRun) -> RunView:
    plan = db.get(RetentionPlan, run.plan_id)
    drift = json.loads(run.drift or "{}")
    items = db.execute(select(RetentionRunItem).where(RetentionRunItem.run_id == run.id)
                       .order_by(col(RetentionRunItem.id))).scalars()
    return RunView(
        run.id or 0, run.plan_id, plan.purpose if plan else "", str(plan.as_of) if plan else "",
        run.job_run_id, run.started_at, run.started_by, run.ended_at, run.state, run.phase,
        run.error, run.bytes_freed, run.file_bytes_before, run.file_bytes_after,
        drift.get("percent"), drift.get("space_note", ""),
        [RunItemView(i.category, i.action, i.planned, i.deleted, i.anonymized, i.skipped,
                     i.held, i.restricted, i.referenced, i.legal_minimum,
                     {h["name"]: h["rows"] for h in json.loads(i.holds)}, i.batches,
                     round(i.max_batch_ms, 2), i.done, i.note) for i in items])


@service("retention.read")
def list_runs(db: Session, actor: Principal, *, limit: int = 50) -> list[RunView]:
    """Retention runs, newest first, with what each did per category. Needs
    retention.read."""
    actor.require(Permission.RETENTION_READ)
    runs = db.execute(select(RetentionRun).order_by(col(RetentionRun.id).desc())
                      .limit(limit)).scalars()
    result = [_view(db, r) for r in runs]
    db.rollback()
    return result
