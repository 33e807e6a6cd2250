"""Leases in the database: one runner per run, conflicting runs apart, one scheduler.

A runner owns a run through a random token written on the run (`owner_token`) with an expiry
(`lease_expires_at`) that its heartbeat and every committed step push forward. Every write a
runner makes is conditional on its token (a fencing token): once someone else has taken
the run, the old runner's next step is rolled back instead of committed.

A lease is taken over only when stale: its expiry has passed, or its owner is on this host
and its process no longer exists (so a `kill -9` is noticed at once, not after the expiry).
Taking over, reaping and claiming are serialized: by BEGIN IMMEDIATE on SQLite, by a
transaction advisory lock on PostgreSQL; the takeover UPDATEs are also conditional on the
exact lease that was read, so a runner that renews in between keeps its run.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, update
from sqlmodel import Session, col, select

from console import audit, clock
from console.db import backend_of, writing
from console.errors import Conflict
from console.jobs.kinds import get_kind
from console.principal import Principal, system_principal
from models.jobs import JobLease, JobRun, JobState, StopReason

_PG_JOBS_LOCK = 0x46500006  # advisory lock id serializing claims and takeovers
SCHEDULER_LEASE = "scheduler"
MONITOR = system_principal("jobs-monitor")  # records runs found dead


class LeaseLost(Exception):
    """This runner no longer owns the run: stop without writing anything more."""


@dataclass(frozen=True)
class Owner:
    """Who holds a lease: host, process and a random token unique to one attempt."""

    host: str
    pid: int
    token: str

    @classmethod
    def new(cls) -> Owner:
        return cls(this_host(), os.getpid(), uuid.uuid4().hex)

    def describe(self) -> str:
        return f"{self.host} pid {self.pid}"


@dataclass(frozen=True)
class Claim:
    """A run this process now executes."""

    run_id: int
    kind: str
    owner: Owner


def this_host() -> str:
    return socket.gethostname()[:255]


def process_alive(host: str, pid: int | None) -> bool:
    """False only when sure: the owner is on this host and its process is gone."""
    if host != this_host() or not pid:
        return True
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


def lock_name(name: str) -> str:
    name = f"lock:{name}"
    if len(name) <= 128:
        return name
    return name[:95] + "#" + hashlib.sha256(name.encode()).hexdigest()[:32]


def serialize(db: Session) -> None:
    """Inside a write transaction: wait for other claims/takeovers (SQLite: already)."""
    if not db.info.get("flowpro_write_depth"):
        raise RuntimeError("job lease changes must run inside console.db.writing()")
    if backend_of(db) == "postgresql":
        db.exec(select(func.pg_advisory_xact_lock(_PG_JOBS_LOCK)))  # type: ignore[call-overload]


def load_run(db: Session, run_id: int) -> JobRun | None:
    return db.exec(select(JobRun).where(JobRun.id == run_id)
                   .execution_options(populate_existing=True)).first()


def run_is_stale(run: JobRun, now: datetime) -> bool:
    if run.state != JobState.RUNNING:
        return False
    if run.lease_expires_at is None or run.lease_expires_at < now:
        return True
    return not process_alive(run.owner_host, run.owner_pid)


def _lease_live(lease: JobLease, now: datetime) -> bool:
    return lease.expires_at >= now and process_alive(lease.host, lease.pid)


# -- runs found dead ---------------------------------------------------------------------------


def interrupt_stale(db: Session, run: JobRun, now: datetime,
                    actor: Principal = MONITOR) -> bool:
    """Inside writing(): mark a stale running run `interrupted`, exactly as read (a runner
    that renewed meanwhile keeps it). Returns whether it was marked."""
    reason = (f"its runner ({run.owner_host} pid {run.owner_pid}) stopped answering; "
              "resume it to continue from the last checkpoint")
    result = db.exec(update(JobRun).where(
        col(JobRun.id) == run.id, col(JobRun.state) == JobState.RUNNING.value,
        col(JobRun.owner_token) == run.owner_token,
        col(JobRun.lease_expires_at) == run.lease_expires_at,
    ).values(state=JobState.INTERRUPTED.value, stop_reason=StopReason.OWNER_LOST.value,
             interruptions=JobRun.interruptions + 1, owner_token=None,
             lease_expires_at=None, ended_at=run.heartbeat_at or now, error=reason))
    if result.rowcount != 1:
        return False
    db.exec(delete(JobLease).where(col(JobLease.holder) == run.owner_token))
    audit.record(db, actor, "jobs.end", target=f"job:{run.id}", details={
        "kind": run.kind, "state": JobState.INTERRUPTED.value,
        "reason": StopReason.OWNER_LOST.value, "owner": f"{run.owner_host} pid {run.owner_pid}",
        "done": run.progress_done, "total": run.progress_total,
        "last_heartbeat": run.heartbeat_at.isoformat() if run.heartbeat_at else None})
    return True


def reap_stale(db: Session, actor: Principal = MONITOR) -> list[int]:
    """Mark every running run whose owner is gone as `interrupted` (in its own write
    transaction, only when there is one). Returns their ids."""
    now = clock.now()
    candidates = db.exec(select(JobRun).where(col(JobRun.state) == JobState.RUNNING.value)
                         .execution_options(populate_existing=True)).all()
    stale = [r for r in candidates if run_is_stale(r, now)]
    if db.in_transaction() and not db.info.get("flowpro_write_depth"):
        db.rollback()
    if not stale:
        return []
    marked: list[int] = []
    with writing(db):
        serialize(db)
        for run in stale:
            if interrupt_stale(db, run, now, actor):
                marked.append(run.id or 0)
    return marked


# -- claiming ----------------------------------------------------------------------------------


def _take_locks(db: Session, run: JobRun, names: list[str], owner: Owner, now: datetime,
                expires: datetime) -> None:
    for name in names:
        lease = db.exec(select(JobLease).where(JobLease.name == name)
                        .execution_options(populate_existing=True)).first()
        if lease is None:
            db.exec(insert(JobLease).values(
                name=name, holder=owner.token, run_id=run.id, host=owner.host, pid=owner.pid,
                acquired_at=now, heartbeat_at=now, expires_at=expires))
            continue
        if lease.holder == owner.token:
            continue
        holder = load_run(db, lease.run_id) if lease.run_id else None
        holder_running = (holder is not None and holder.state == JobState.RUNNING
                          and holder.owner_token == lease.holder)
        # A lease whose run is no longer running under it is a leftover: free.
        if holder_running and holder is not None:
            if not run_is_stale(holder, now) or not interrupt_stale(db, holder, now):
                raise Conflict(f"run #{holder.id} ({holder.kind}) is running and conflicts "
                               f"with {run.kind} (both use {name.removeprefix('lock:')!r}): "
                               "wait for it to end or cancel it")
        taken = db.exec(update(JobLease).where(
            col(JobLease.name) == name, col(JobLease.holder) == lease.holder,
            col(JobLease.expires_at) == lease.expires_at,
        ).values(holder=owner.token, run_id=run.id, host=owner.host, pid=owner.pid,
                 acquired_at=now, heartbeat_at=now, expires_at=expires))
        if taken.rowcount != 1:
            raise Conflict(f"{name!r} was just taken by another run: try again")


CLAIMABLE = (JobState.QUEUED, JobState.INTERRUPTED, JobState.FAILED, JobState.CANCELLED)


def claim(db: Session, run: JobRun, owner: Owner, lease_seconds: float) -> Claim:
    """Inside writing(): take `run` for `owner` with its conflict locks.

    The run must be queued, interrupted, failed or cancelled (a stale running run is
    interrupted first). Raises Conflict when another runner has it or a conflicting run is
    running; the caller's transaction then rolls back.
    """
    serialize(db)
    now = clock.now()
    current = load_run(db, run.id or 0)
    if current is None:
        raise Conflict(f"run #{run.id} no longer exists")
    if run_is_stale(current, now):
        interrupt_stale(db, current, now)
        current = load_run(db, run.id or 0)
        assert current is not None
    if current.state not in CLAIMABLE:
        raise Conflict(f"run #{current.id} is {current.state}"
                       + (f" on {current.owner_host} pid {current.owner_pid}"
                          if current.state == JobState.RUNNING else "")
                       + ": another runner has it")
    kind = get_kind(current.kind)
    params = kind.load_params(current.params)
    expires = now + timedelta(seconds=lease_seconds)
    _take_locks(db, current, [lock_name(n) for n in dict.fromkeys(kind.locks(params))], owner,
                now, expires)
    taken = db.exec(update(JobRun).where(
        col(JobRun.id) == current.id, col(JobRun.state) == current.state,
        col(JobRun.owner_token).is_(None),
    ).values(state=JobState.RUNNING.value, owner_token=owner.token, owner_host=owner.host,
             owner_pid=owner.pid, heartbeat_at=now, lease_expires_at=expires,
             claimed_at=now, claimed_done=current.progress_done,
             started_at=func.coalesce(JobRun.started_at, now), ended_at=None,
             attempts=JobRun.attempts + 1, cancel_requested_at=None, cancel_requested_by="",
             stop_reason=StopReason.NONE.value, error="", result=None))
    if taken.rowcount != 1:
        raise Conflict(f"run #{current.id} was just taken by another runner")
    return Claim(current.id or 0, current.kind, owner)


# -- while running -----------------------------------------------------------------------------


def renew(db: Session, claim_: Claim, lease_seconds: float) -> bool:
    """The heartbeat: push the run's and its locks' expiry forward. False: lease lost."""
    now = clock.now()
    with writing(db):
        result = db.exec(update(JobRun).where(
            col(JobRun.id) == claim_.run_id, col(JobRun.owner_token) == claim_.owner.token,
        ).values(heartbeat_at=now, lease_expires_at=now + timedelta(seconds=lease_seconds)))
        if result.rowcount != 1:
            return False
        db.exec(update(JobLease).where(col(JobLease.holder) == claim_.owner.token)
                .values(heartbeat_at=now, expires_at=now + timedelta(seconds=lease_seconds)))
    return True


def fence(db: Session, claim_: Claim, lease_seconds: float, **values: Any) -> None:
    """Inside the step's write transaction: save `values` (checkpoint, progress) only if
    this runner still owns the run, else raise LeaseLost (the transaction rolls back)."""
    now = clock.now()
    result = db.exec(update(JobRun).where(
        col(JobRun.id) == claim_.run_id, col(JobRun.owner_token) == claim_.owner.token,
        col(JobRun.state) == JobState.RUNNING.value,
    ).values(heartbeat_at=now, lease_expires_at=now + timedelta(seconds=lease_seconds),
             **values))
    if result.rowcount != 1:
        raise LeaseLost(f"run #{claim_.run_id} was taken over")
    db.exec(update(JobLease).where(col(JobLease.holder) == claim_.owner.token)
            .values(heartbeat_at=now, expires_at=now + timedelta(seconds=lease_seconds)))


def release(db: Session, claim_: Claim, state: JobState, **values: Any) -> None:
    """Inside writing(): end this runner's ownership with `state`; LeaseLost if not owner."""
    now = clock.now()
    result = db.exec(update(JobRun).where(
        col(JobRun.id) == claim_.run_id, col(JobRun.owner_token) == claim_.owner.token,
    ).values(state=state.value, owner_token=None, lease_expires_at=None, heartbeat_at=now,
             ended_at=None if state == JobState.QUEUED else now, **values))
    if result.rowcount != 1:
        raise LeaseLost(f"run #{claim_.run_id} was taken over")
    db.exec(delete(JobLease).where(col(JobLease.holder) == claim_.owner.token))


# -- the scheduler's lease ---------------------------------------------------------------------


@dataclass(frozen=True)
class SchedulerStatus:
    running: bool
    host: str = ""
    pid: int | None = None
    since: datetime | None = None
    heartbeat_at: datetime | None = None


def scheduler_status(db: Session) -> SchedulerStatus:
    lease = db.exec(select(JobLease).where(JobLease.name == SCHEDULER_LEASE)
                    .execution_options(populate_existing=True)).first()
    if lease is None or not _lease_live(lease, clock.now()):
        return SchedulerStatus(False)
    return SchedulerStatus(True, lease.host, lease.pid, lease.acquired_at, lease.heartbeat_at)


def acquire_scheduler(db: Session, owner: Owner, lease_seconds: float) -> None:
    """Take the one-per-database scheduler lease, or raise Conflict naming its holder."""
    now = clock.now()
    expires = now + timedelta(seconds=lease_seconds)
    with writing(db):
        serialize(db)
        lease = db.exec(select(JobLease).where(JobLease.name == SCHEDULER_LEASE)
                        .execution_options(populate_existing=True)).first()
        if lease is None:
            db.exec(insert(JobLease).values(
                name=SCHEDULER_LEASE, holder=owner.token, host=owner.host, pid=owner.pid,
                acquired_at=now, heartbeat_at=now, expires_at=expires))
            return
        if _lease_live(lease, now) and lease.holder != owner.token:
            raise Conflict(f"a scheduler is already running for this database (on "
                           f"{lease.host} pid {lease.pid}, since "
                           f"{lease.acquired_at:%Y-%m-%d %H:%M:%S} UTC): stop it first; "
                           "one scheduler per database")
        db.exec(update(JobLease).where(col(JobLease.name) == SCHEDULER_LEASE,
                                       col(JobLease.holder) == lease.holder)
                .values(holder=owner.token, host=owner.host, pid=owner.pid, run_id=None,
                        acquired_at=now, heartbeat_at=now, expires_at=expires))


def renew_scheduler(db: Session, owner: Owner, lease_seconds: float) -> bool:
    now = clock.now()
    with writing(db):
        result = db.exec(update(JobLease).where(
            col(JobLease.name) == SCHEDULER_LEASE, col(JobLease.holder) == owner.token,
        ).values(heartbeat_at=now, expires_at=now + timedelta(seconds=lease_seconds)))
    return result.rowcount == 1


def release_scheduler(db: Session, owner: Owner) -> None:
    with writing(db):
        db.exec(delete(JobLease).where(col(JobLease.name) == SCHEDULER_LEASE,
                                       col(JobLease.holder) == owner.token))
