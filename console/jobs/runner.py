"""Executing a claimed run: steps, checkpoints, heartbeat, cancel and stop.

`execute()` runs in the calling thread until the run ends or this runner must let go. Between
steps it checks, in order: the lease (lost: stop writing at once), a cancel request
(-> `cancelled`), a stop request from its process (SIGTERM, console closing:
-> `interrupted`, resumable) and the authority of the principal it runs as (logged out,
permission removed: -> `interrupted`). A step that raises rolls back and leaves the run
`failed`, resumable from the last committed checkpoint.

`LocalJobs` runs claimed runs in background threads of this process (the console).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import StatementError
from sqlmodel import Session, select

from console import audit
from console.db import Database, writing
from console.errors import AccessDenied, ConsoleError
from console.jobs.kinds import Checkpoint, JobContext, JobKind, get_kind
from console.jobs.leases import Claim, LeaseLost, dumps, fence, load_run, release, renew
from console.permissions import Permission
from console.principal import Principal
from console.runtime import Runtime
from models.jobs import JobRun, JobState, StopReason

log = logging.getLogger("flowpro.jobs")


def describe_error(exc: BaseException) -> str:
    """One line for the run's error field and the audit trail: no SQL parameters, no
    traceback (those go to the log)."""
    if isinstance(exc, ConsoleError):
        return exc.message
    if isinstance(exc, StatementError) and exc.orig is not None:
        exc = exc.orig
    text = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {text}"[:500].rstrip(": ")


class RunControl:
    """Flags a runner checks between steps; set from other threads."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self.stop_reason = StopReason.SHUTDOWN
        self.stop_message = ""
        self.lost = False
        self.cancel_seen = False

    def request_stop(self, message: str, reason: StopReason = StopReason.SHUTDOWN) -> None:
        """Stop at the next step boundary, leaving the run `interrupted` (resumable)."""
        if not self._stop.is_set():
            self.stop_reason, self.stop_message = reason, message
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def should_stop(self) -> bool:
        return self._stop.is_set() or self.lost or self.cancel_seen


@dataclass(frozen=True)
class Progress:
    run_id: int
    done: int
    total: int | None
    message: str


class Heartbeat(threading.Thread):
    """Renews the lease every `interval` seconds and notices cancel requests early."""

    def __init__(self, database: Database, claim: Claim, interval: float, lease: float,
                 control: RunControl) -> None:
        super().__init__(name=f"job-{claim.run_id}-heartbeat", daemon=True)
        self.database, self.claim, self.interval, self.lease = database, claim, interval, lease
        self.control = control
        self._done = threading.Event()

    def run(self) -> None:
        with self.database.scope() as db:
            while not self._done.wait(self.interval):
                try:
                    if not renew(db, self.claim, self.lease):
                        self.control.lost = True
                        log.warning("lost the lease of a job run", extra={
                            "run_id": self.claim.run_id})
                        return
                    cancel = db.exec(select(JobRun.cancel_requested_at)
                                     .where(JobRun.id == self.claim.run_id)).first()
                    db.rollback()
                    if cancel is not None:
                        self.control.cancel_seen = True
                except Exception as exc:  # noqa: BLE001 - a busy database: try next beat
                    db.rollback()
                    log.warning("job heartbeat failed: %s", describe_error(exc),
                                extra={"run_id": self.claim.run_id})

    def stop(self) -> None:
        self._done.set()


class _Run:
    """One execution of a claimed run (the state `execute` threads through)."""

    def __init__(self, runtime: Runtime, db: Session, claim: Claim, actor: Principal,
                 control: RunControl, on_progress: Callable[[Progress], None] | None) -> None:
        self.runtime, self.db, self.claim, self.actor = runtime, db, claim, actor
        self.control, self.on_progress = control, on_progress
        self.lease = runtime.settings.jobs.lease_seconds
        self.kind: JobKind[Any, Any] = get_kind(claim.kind)
        run = load_run(db, claim.run_id)
        if run is None or run.owner_token != claim.owner.token:
            raise LeaseLost(f"run #{claim.run_id} is not ours")
        self.params = self.kind.load_params(run.params)
        self.checkpoint: Checkpoint = self.kind.load_checkpoint(run.checkpoint)
        self.ctx = JobContext(
            db=db, actor=actor, run_id=claim.run_id, started_by=run.started_by,
            settings=runtime.settings, keys=runtime.keys, done=run.progress_done,
            total=run.progress_total, message=run.progress_message,
            stop_check=control.should_stop)
        self.needs_estimate = run.progress_total is None
        db.rollback()

    # -- steps -------------------------------------------------------------------------

    def progress_values(self) -> dict[str, Any]:
        done, total, message = self.ctx.snapshot()
        return {"progress_done": done, "progress_total": total,
                "progress_message": message[:255]}

    def estimate(self) -> None:
        total = self.kind.estimate(self.ctx, self.params, self.checkpoint)
        if self.db.in_transaction():
            self.db.rollback()
        self.ctx.set_total(total)
        with writing(self.db):
            fence(self.db, self.claim, self.lease, **self.progress_values())

    def step(self) -> bool:
        """One step and its checkpoint; True when the run has finished."""
        work = self.checkpoint.model_copy(deep=True)
        if self.kind.transactional:
            with writing(self.db):
                new = self.kind.step(self.ctx, self.params, work)
                self._save(new)
        else:
            new = self.kind.step(self.ctx, self.params, work)
            if self.db.in_transaction() and not self.db.info.get("flowpro_write_depth"):
                self.db.commit()
            with writing(self.db):
                self._save(new)
        if new is None:
            return True
        self.checkpoint = new
        if self.on_progress is not None:
            done, total, message = self.ctx.snapshot()
            try:
                self.on_progress(Progress(self.claim.run_id, done, total, message))
            except Exception:  # noqa: BLE001 - a display problem must not fail the run
                log.exception("progress callback failed", extra={"run_id": self.claim.run_id})
        return False

    def _save(self, new: Checkpoint | None) -> None:
        checkpoint = new if new is not None else self.checkpoint
        if new is None:
            self._end_in_txn(JobState.SUCCEEDED, StopReason.NONE, "", checkpoint)
        else:
            fence(self.db, self.claim, self.lease, checkpoint=dumps(
                checkpoint.model_dump(mode="json")), **self.progress_values())

    # -- boundaries and endings ------------------------------------------------------

    def boundary(self) -> tuple[JobState, StopReason, str] | None:
        """Why to stop before the next step, or None to go on."""
        if self.control.lost:
            raise LeaseLost(f"run #{self.claim.run_id} was taken over")
        row = self.db.exec(select(JobRun.owner_token, JobRun.cancel_requested_at,
                                  JobRun.cancel_requested_by)
                           .where(JobRun.id == self.claim.run_id)).first()
        self.db.rollback()
        if row is None or row[0] != self.claim.owner.token:
            raise LeaseLost(f"run #{self.claim.run_id} was taken over")
        if row[1] is not None:
            return JobState.CANCELLED, StopReason.CANCELLED, f"cancelled by {row[2]}"
        if self.control.stop_requested:
            return (JobState.INTERRUPTED, self.control.stop_reason,
                    self.control.stop_message or "stopped by its process")
        try:
            permissions = self.actor.effective_permissions()
        except AccessDenied as exc:
            return JobState.INTERRUPTED, StopReason.AUTHORITY, f"stopped: {exc.message}"
        for needed in (Permission.JOBS_RUN, self.kind.permission):
            if needed not in permissions:
                return (JobState.INTERRUPTED, StopReason.AUTHORITY,
                        f"stopped: {self.actor.name} no longer holds {needed.value}")
        return None

    def _end_in_txn(self, state: JobState, reason: StopReason, error: str,
                    checkpoint: Checkpoint) -> None:
        try:
            result = self.kind.result(self.ctx, self.params, checkpoint)
        except Exception:  # noqa: BLE001 - the run still ends; the summary is lost
            log.exception("job kind result() failed", extra={"run_id": self.claim.run_id})
            result = {"result_error": "the job kind could not summarize its result"}
        values = self.progress_values()
        release(self.db, self.claim, state, checkpoint=dumps(checkpoint.model_dump(mode="json")),
                result=dumps(result), error=error, stop_reason=reason.value, **values)
        audit.record(self.db, self.actor, "jobs.end", target=f"job:{self.claim.run_id}",
                     details={"kind": self.kind.name, "state": state.value,
                              "reason": reason.value, "error": error, "result": result,
                              "done": values["progress_done"],
                              "total": values["progress_total"],
                              "owner": self.claim.owner.describe()})

    def end(self, state: JobState, reason: StopReason, error: str) -> None:
        if self.db.in_transaction():
            self.db.rollback()
        with writing(self.db):
            self._end_in_txn(state, reason, error, self.checkpoint)


def execute(runtime: Runtime, claim: Claim, actor: Principal, *,
            control: RunControl | None = None,
            on_progress: Callable[[Progress], None] | None = None) -> JobRun | None:
    """Run a claimed run to its end in this thread. Returns the final row (None when the
    lease was lost and someone else now has it)."""
    control = control or RunControl()
    settings = runtime.settings.jobs
    heart = Heartbeat(runtime.database, claim, settings.heartbeat_seconds,
                      settings.lease_seconds, control)
    heart.start()
    extra = {"run_id": claim.run_id, "kind": claim.kind}
    try:
        with runtime.database.scope() as db:
            try:
                run = _Run(runtime, db, claim, actor, control, on_progress)
            except LeaseLost:
                return None
            except Exception as exc:
                log.exception("cannot start job run", extra=extra)
                return _fail_unstartable(db, claim, actor, describe_error(exc))
            try:
                if run.needs_estimate:
                    run.estimate()
                while True:
                    stop = run.boundary()
                    if stop is not None:
                        run.end(*stop)
                        break
                    saved = run.ctx.snapshot()
                    try:
                        if run.step():
                            break
                    except BaseException:
                        run.ctx.done, run.ctx.total, run.ctx.text = saved
                        raise
            except LeaseLost:
                db.rollback()
                log.warning("job run taken over by another runner; stopped", extra=extra)
                return None
            except Exception as exc:
                db.rollback()
                if not isinstance(exc, ConsoleError):
                    log.exception("job step failed", extra=extra)
                try:
                    run.end(JobState.FAILED, StopReason.ERROR, describe_error(exc))
                except LeaseLost:
                    return None
            db.rollback()
            return load_run(db, claim.run_id)
    finally:
        heart.stop()


def _fail_unstartable(db: Session, claim: Claim, actor: Principal, error: str) -> JobRun | None:
    db.rollback()
    try:
        with writing(db):
            release(db, claim, JobState.FAILED, error=error, stop_reason=StopReason.ERROR.value)
            audit.record(db, actor, "jobs.end", target=f"job:{claim.run_id}",
                         details={"kind": claim.kind, "state": JobState.FAILED.value,
                                  "reason": StopReason.ERROR.value, "error": error})
    except LeaseLost:
        return None
    return load_run(db, claim.run_id)


class LocalJobs:
    """Runs claimed runs in daemon threads of this process (a console without a scheduler).

    If the process dies, its runs are found stale and shown `interrupted`; `stop_all` lets
    them end at a step boundary as `interrupted` (resumable) instead.
    """

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._lock = threading.Lock()
        self._runs: dict[int, tuple[threading.Thread, RunControl]] = {}

    def launch(self, claim: Claim, actor: Principal,
               on_end: Callable[[JobRun | None], None] | None = None) -> None:
        control = RunControl()

        def body() -> None:
            final: JobRun | None = None
            try:
                final = execute(self.runtime, claim, actor, control=control)
            except Exception:  # noqa: BLE001 - logged; the lease expiry handles the rest
                log.exception("local job runner crashed", extra={"run_id": claim.run_id})
            finally:
                with self._lock:
                    self._runs.pop(claim.run_id, None)
            if on_end is not None:
                on_end(final)

        thread = threading.Thread(target=body, name=f"job-{claim.run_id}", daemon=True)
        with self._lock:
            self._runs[claim.run_id] = (thread, control)
        thread.start()

    def active(self) -> list[int]:
        with self._lock:
            return sorted(self._runs)

    def stop_all(self, message: str, timeout: float) -> list[int]:
        """Ask every local run to stop at its next step boundary and wait up to `timeout`
        seconds; returns the ids still running."""
        import time

        with self._lock:
            runs = list(self._runs.items())
        for _run_id, (_thread, control) in runs:
            control.request_stop(message)
        deadline = time.monotonic() + timeout
        for _run_id, (thread, _control) in runs:
            thread.join(max(0.0, deadline - time.monotonic()))
        return self.active()
