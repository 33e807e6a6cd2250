"""Job services: start, cancel, resume, list and show runs (the TUI and the CLI call these).

Reading needs jobs.read; starting, cancelling and resuming need jobs.run plus the kind's own
permission (e.g. retention.manage). Reads first mark runs whose owner died `interrupted`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from console import audit, clock
from console.contract import service
from console.db import writing
from console.errors import Conflict, NotFound, ValidationError
from console.jobs.kinds import JobKind, KindInfo, describe, find_kind, get_kind, registered
from console.jobs.leases import (
    Claim,
    Owner,
    SchedulerStatus,
    claim,
    dumps,
    interrupt_stale,
    load_run,
    lock_name,
    reap_stale,
    run_is_stale,
    scheduler_status,
)
from console.jobs.views import ENDED, RESUMABLE, RunView, Where, parse_json, view
from console.permissions import Permission
from console.principal import Principal
from models.jobs import Executor, JobLease, JobRun, JobState, StopReason

DEFAULT_LEASE_SECONDS = 30.0
@dataclass(frozen=True)
class Started:
    """What `start_run` / `resume_run` did. With `claim`, this process must now execute
    the run (`console.jobs.execute` or `LocalJobs.launch`); without, the scheduler will."""

    run: RunView
    claim: Claim | None = None
    waits_for: int | None = None  # a running run it conflicts with (queued behind it)


@dataclass(frozen=True)
class StartPlan:
    """Where a run started now would execute, and what that means, in words."""

    where: Where
    scheduler: SchedulerStatus
    explanation: str


@dataclass
class Overview:
    running: list[RunView] = field(default_factory=list)
    queued: list[RunView] = field(default_factory=list)
    history: list[RunView] = field(default_factory=list)
    scheduler: SchedulerStatus = field(default_factory=lambda: SchedulerStatus(False))
    local_note: str = ""


# -- reading ---------------------------------------------------------------------------------


def _require_kind(actor: Principal, kind: JobKind[Any, Any] | None) -> None:
    actor.require(Permission.JOBS_RUN)
    if kind is not None and kind.permission != Permission.JOBS_RUN:
        actor.require(kind.permission)


@service("jobs.read")
def list_kinds(db: Session, actor: Principal) -> list[KindInfo]:
    """Every job kind with its parameters. Needs jobs.read."""
    actor.require(Permission.JOBS_READ)
    return [describe(k) for k in registered().values()]


@service("jobs.read")
def get_run(db: Session, actor: Principal, run_id: int) -> RunView:
    """One run in full (params, checkpoint, result). Needs jobs.read; NotFound."""
    actor.require(Permission.JOBS_READ)
    reap_stale(db)
    run = load_run(db, run_id)
    db.rollback()
    if run is None:
        raise NotFound(f"no job run #{run_id}; see `flowpro-console jobs list`")
    return view(run)


@service("jobs.read")
def list_runs(db: Session, actor: Principal, *, states: Sequence[JobState] = (),
              kind: str | None = None, limit: int = 50,
              before_id: int | None = None) -> list[RunView]:
    """Runs newest first (keyset by id), optionally by state and kind. Needs jobs.read."""
    actor.require(Permission.JOBS_READ)
    reap_stale(db)
    query = select(JobRun).order_by(col(JobRun.id).desc()).limit(max(1, min(limit, 1000)))
    if states:
        query = query.where(col(JobRun.state).in_([s.value for s in states]))
    if kind:
        query = query.where(JobRun.kind == kind)
    if before_id is not None:
        query = query.where(col(JobRun.id) < before_id)
    now = clock.now()
    result = [view(r, now) for r in db.exec(query.execution_options(populate_existing=True))]
    db.rollback()
    return result


@service("jobs.read")
def overview(db: Session, actor: Principal, *, history: int = 50) -> Overview:
    """Running, queued and recent runs plus the scheduler's status (the jobs screen polls
    this every second). Needs jobs.read."""
    actor.require(Permission.JOBS_READ)
    reap_stale(db)
    now = clock.now()

    def runs(*states: JobState, limit: int, oldest_first: bool = False) -> list[RunView]:
        order = col(JobRun.id).asc() if oldest_first else col(JobRun.id).desc()
        query = (select(JobRun).where(col(JobRun.state).in_([s.value for s in states]))
                 .order_by(order).limit(limit).execution_options(populate_existing=True))
        return [view(r, now) for r in db.exec(query)]

    result = Overview(
        running=runs(JobState.RUNNING, limit=100, oldest_first=True),
        queued=runs(JobState.QUEUED, limit=100, oldest_first=True),
        history=runs(*ENDED, limit=history), scheduler=scheduler_status(db))
    db.rollback()
    return result


@service("jobs.read")
def plan_start(db: Session, actor: Principal) -> StartPlan:
    """Where a run started now would execute (the start form shows this before starting).
    Needs jobs.read."""
    actor.require(Permission.JOBS_READ)
    status = scheduler_status(db)
    db.rollback()
    if status.running:
        return StartPlan(Where.SCHEDULER, status,
                         f"The scheduler on {status.host} (pid {status.pid}) is running: the "
                         "job is handed to it and keeps running if you disconnect.")
    return StartPlan(Where.HERE, status,
                     "No scheduler is running: the job runs inside this console. If the "
                     "console exits or the connection drops, it stops and is left "
                     "interrupted, resumable from its last checkpoint.")


# -- changing ----------------------------------------------------------------------------------


def _resolve(db: Session, where: Where) -> Where:
    if where != Where.AUTO:
        return where
    running = scheduler_status(db).running
    return Where.SCHEDULER if running else Where.HERE


def _waits_for(db: Session, kind: JobKind[Any, Any], params: Any) -> int | None:
    names = [lock_name(n) for n in kind.locks(params)]
    if not names:
        return None
    holder = db.exec(select(JobLease.run_id).where(col(JobLease.name).in_(names))
                     .where(col(JobLease.run_id).is_not(None))).first()
    if holder is None:
        return None
    run = load_run(db, holder)
    return holder if run is not None and run.state == JobState.RUNNING else None


@service("jobs.start", audit_errors=True)
def start_run(db: Session, actor: Principal, kind: str, params: Mapping[str, Any], *,
              where: Where = Where.AUTO, schedule: str = "",
              lease_seconds: float = DEFAULT_LEASE_SECONDS) -> Started:
    """Start a run of `kind` with `params` (raw values are validated into the kind's
    parameters).

    `where`: SCHEDULER queues it for the scheduler; HERE claims it for this process (the
    caller must then execute the returned claim); AUTO picks the scheduler when one is
    running. Needs jobs.run and the kind's permission. Raises NotFound (kind),
    ValidationError (a parameter), Conflict (HERE while a conflicting run is running).
    """
    job = get_kind(kind)
    _require_kind(actor, job)
    typed = job.parse(params)
    job.check(db, actor, typed)
    if db.in_transaction():
        db.rollback()
    with writing(db):
        target = _resolve(db, where)
        run = JobRun(kind=job.name, params=dumps(typed.model_dump(mode="json")),
                     state=JobState.QUEUED.value,
                     executor=(Executor.SCHEDULER if target == Where.SCHEDULER
                               else Executor.HERE).value,
                     started_by=actor.name, started_by_kind=actor.kind.value,
                     schedule=schedule, created_at=clock.now())
        db.add(run)
        db.flush()
        audit.record(db, actor, "jobs.start", target=f"job:{run.id}", details={
            "kind": job.name, "params": typed.model_dump(mode="json"),
            "where": target.value, "schedule": schedule or None})
        taken = claim(db, run, Owner.new(), lease_seconds) if target == Where.HERE else None
        waits = _waits_for(db, job, typed) if taken is None else None
        result = Started(view(load_run(db, run.id or 0) or run), taken, waits)
    return result


@service("jobs.cancel")
def cancel_run(db: Session, actor: Principal, run_id: int) -> RunView:
    """Cancel a run. Queued or interrupted: cancelled now. Running: its runner stops at the
    next step boundary and the run ends `cancelled`, keeping what was done. Needs jobs.run
    and the kind's permission. Raises NotFound, Conflict (already ended)."""
    actor.require(Permission.JOBS_RUN)
    run = load_run(db, run_id)
    db.rollback()
    if run is None:
        raise NotFound(f"no job run #{run_id}")
    _require_kind(actor, find_kind(run.kind))
    now = clock.now()
    with writing(db):
        run = load_run(db, run_id)
        assert run is not None
        if run_is_stale(run, now):
            interrupt_stale(db, run, now)
            run = load_run(db, run_id)
            assert run is not None
        if run.state in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED):
            raise Conflict(f"run #{run_id} has already ended ({run.state}); nothing to cancel")
        if run.cancel_requested_at is not None:
            return view(run, now)
        if run.state == JobState.RUNNING:
            run.cancel_requested_at, run.cancel_requested_by = now, actor.name[:128]
            db.add(run)
            audit.record(db, actor, "jobs.cancel", target=f"job:{run_id}", details={
                "kind": run.kind, "effective": "at the next step", "done": run.progress_done,
                "owner": f"{run.owner_host} pid {run.owner_pid}"})
        else:
            previous = run.state
            run.state, run.ended_at = JobState.CANCELLED.value, now
            run.stop_reason = StopReason.CANCELLED.value
            run.cancel_requested_at, run.cancel_requested_by = now, actor.name[:128]
            db.add(run)
            audit.record(db, actor, "jobs.cancel", target=f"job:{run_id}", details={
                "kind": run.kind, "effective": "now", "from": previous,
                "done": run.progress_done})
            audit.record(db, actor, "jobs.end", target=f"job:{run_id}", details={
                "kind": run.kind, "state": JobState.CANCELLED.value,
                "reason": StopReason.CANCELLED.value, "done": run.progress_done,
                "total": run.progress_total, "result": parse_json(run.result)})
        db.flush()
    return view(run, now)


@service("jobs.resume", audit_errors=True)
def resume_run(db: Session, actor: Principal, run_id: int, *, where: Where = Where.AUTO,
               lease_seconds: float = DEFAULT_LEASE_SECONDS) -> Started:
    """Continue a run from its last checkpoint: an interrupted, failed or cancelled run (or
    a queued one, to run it here now). Work already committed is not redone. `where` as in
    `start_run`. Needs jobs.run and the kind's permission. Raises NotFound, Conflict."""
    actor.require(Permission.JOBS_RUN)
    run = load_run(db, run_id)
    db.rollback()
    if run is None:
        raise NotFound(f"no job run #{run_id}")
    job = find_kind(run.kind)
    _require_kind(actor, job)
    if job is None:
        raise Conflict(f"run #{run_id} is of kind {run.kind!r}, which this version of the "
                       "console does not know; it cannot be resumed here")
    now = clock.now()
    with writing(db):
        run = load_run(db, run_id)
        assert run is not None
        if run_is_stale(run, now):
            interrupt_stale(db, run, now)
            run = load_run(db, run_id)
            assert run is not None
        state = JobState(run.state)
        target = _resolve(db, where)
        if state == JobState.QUEUED and target == Where.SCHEDULER:
            raise Conflict(f"run #{run_id} is already queued for the scheduler")
        if state not in (*RESUMABLE, JobState.QUEUED):
            raise Conflict(f"run #{run_id} is {state}: only interrupted, failed, cancelled "
                           "or queued runs can be resumed")
        audit.record(db, actor, "jobs.resume", target=f"job:{run_id}", details={
            "kind": run.kind, "from": state.value, "where": target.value,
            "done": run.progress_done, "total": run.progress_total,
            "reason": run.stop_reason or None})
        taken = None
        if target == Where.HERE:
            taken = claim(db, run, Owner.new(), lease_seconds)
            run = load_run(db, run_id)
            assert run is not None
            run.executor = Executor.HERE.value
        else:
            run.state, run.executor, run.ended_at = (JobState.QUEUED.value,
                                                     Executor.SCHEDULER.value, None)
            run.cancel_requested_at, run.cancel_requested_by = None, ""
            run.stop_reason, run.error = StopReason.NONE.value, ""
        db.add(run)
        db.flush()
    return Started(view(run, now), taken)


def parse_param_args(values: Sequence[str]) -> dict[str, str]:
    """`k=v` strings (the CLI's --param) into a dict; ValidationError on a malformed one."""
    params: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ValidationError("--param", f"expected NAME=VALUE, got {item!r}")
        params[name.strip()] = value
    return params
