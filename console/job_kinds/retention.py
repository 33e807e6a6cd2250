"""`retention`: apply a retention plan (or, with plan 0, make one as of today and apply it:
what the daily schedule does). See `console.retention.runs` for the phases.

Each batch is its own short transaction that also advances the run's checkpoint (a
compare-and-set on its cursor), so the kind runs outside the framework's step transaction:
a step repeated after a crash finds its batch already applied and goes on from there.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field
from sqlalchemy import update
from sqlmodel import Session, col

from console.errors import Conflict
from console.jobs import Checkpoint, JobContext, JobFailed, JobKind, Params, job_kind
from console.permissions import Permission
from console.principal import Principal
from console.retention.runs import begin, check, finish, plan_problem, purge_step, run_items
from console.retention.space import vacuum_step
from models.retention import RetentionPlan, RetentionRun

_PAGES: dict[int, list[int]] = {}


class RetentionParams(Params):
    plan: int = Field(default=0, ge=0, description="The plan to apply (`retention preview` "
                      "prints its id); 0: make a plan as of today and apply it")


class RetentionState(Checkpoint):
    retention_run: int = 0
    plan: int = 0
    phase: str = "start"


def summary(db: Session, run: RetentionRun) -> dict[str, Any]:
    """The run's result: per category what was changed and what was kept, and why."""
    items = run_items(db, run.id or 0)
    return {
        "retention_run": run.id, "plan": run.plan_id, "state": run.state,
        "categories": {i.category: {
            "action": i.action, "planned": i.planned, "deleted": i.deleted,
            "anonymized": i.anonymized, "skipped": i.skipped, "held": i.held,
            "holds": {h["name"]: h["rows"] for h in json.loads(i.holds)},
            "restricted": i.restricted, "referenced": i.referenced,
            "legal_minimum": i.legal_minimum, "batches": i.batches,
            "max_batch_ms": round(i.max_batch_ms, 2)} for i in items},
        "deleted": sum(i.deleted for i in items),
        "anonymized": sum(i.anonymized for i in items),
        "bytes_freed": run.bytes_freed, "pages_freed": run.pages_freed,
        "file_bytes_before": run.file_bytes_before, "file_bytes_after": run.file_bytes_after,
        "max_batch_ms": round(max((i.max_batch_ms for i in items), default=0.0), 2),
    }


@job_kind
class RetentionKind(JobKind[RetentionParams, RetentionState]):
    name = "retention"
    title = "Retention run"
    description = ("Delete or anonymize what a retention plan says is due, in short "
                   "batches, then give the space back")
    permission = Permission.RETENTION_MANAGE
    transactional = False

    def check(self, db: Session, actor: Principal, params: RetentionParams) -> None:
        if params.plan:
            problem = plan_problem(db.get(RetentionPlan, params.plan), params.plan)
            db.rollback()
            if problem:
                raise Conflict(problem)

    def locks(self, params: RetentionParams) -> tuple[str, ...]:
        return ("retention",)

    def estimate(self, ctx: JobContext, params: RetentionParams,
                 checkpoint: RetentionState) -> int | None:
        plan = ctx.db.get(RetentionPlan, params.plan) if params.plan else None
        return plan.total_due if plan is not None else None

    def step(self, ctx: JobContext, params: RetentionParams,
             checkpoint: RetentionState) -> RetentionState | None:
        ctx.db.expire_all()  # rows change through plain UPDATEs between steps
        run = begin(ctx, params.plan)
        checkpoint.retention_run, checkpoint.plan = run.id or 0, run.plan_id
        checkpoint.phase = run.phase
        if run.phase == "stopped":
            raise JobFailed(run.error or f"retention run #{run.id} was stopped")
        if run.phase == "check":
            check(ctx, run)
            ctx.set_total(sum(i.planned for i in run_items(ctx.db, run.id or 0)))
            ctx.db.rollback()
        elif run.phase == "purge":
            if purge_step(ctx, run):
                with_phase(ctx, run, "purge", "vacuum")
        elif run.phase == "vacuum":
            if vacuum_step(ctx, run, _PAGES.setdefault(run.id or 0, [])):
                _PAGES.pop(run.id or 0, None)
                finish(ctx, run)
        else:
            return None
        return checkpoint

    def result(self, ctx: JobContext, params: RetentionParams,
               checkpoint: RetentionState) -> dict[str, Any]:
        run = ctx.db.get(RetentionRun, checkpoint.retention_run) \
            if checkpoint.retention_run else None
        if run is None:
            return {"plan": params.plan or None}
        ctx.db.refresh(run)
        return summary(ctx.db, run)


def with_phase(ctx: JobContext, run: RetentionRun, old: str, new: str) -> None:
    from console.db import writing

    with writing(ctx.db):
        ctx.db.execute(update(RetentionRun).where(
            col(RetentionRun.id) == run.id, col(RetentionRun.phase) == old).values(phase=new))
