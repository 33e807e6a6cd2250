"""`flowpro-console scheduler`: the long-running process that runs jobs.

Once per `[scheduler] poll_seconds` it renews its lease (one scheduler per database), starts
the `[schedules]` entries that are due (the `schedule` package, server local time), marks runs
whose owner died `interrupted`, resumes those it may (`resume_interrupted`), and claims
queued runs while it has free workers (`max_workers` threads). SIGTERM (or SIGINT, SIGHUP)
stops it cleanly: no new runs, running ones end at their next step boundary as
`interrupted` and are resumed by the next scheduler.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import schedule as schedule_lib
from sqlmodel import col, select

from console import audit
from console.config import ScheduleEntry, Settings, parse_when
from console.db import writing
from console.errors import ConfigError, Conflict, ConsoleError
from console.jobs.kinds import find_kind, registered
from console.jobs.leases import (
    Claim,
    Owner,
    acquire_scheduler,
    claim,
    load_run,
    reap_stale,
    release_scheduler,
    renew_scheduler,
)
from console.jobs.runner import RunControl, describe_error, execute
from console.jobs.service import resume_run, start_run
from console.jobs.views import Where
from console.principal import scheduler_principal
from console.runtime import Runtime
from models.jobs import JobRun, JobState, StopReason

log = logging.getLogger("flowpro.scheduler")
AUTO_RESUMABLE = (StopReason.OWNER_LOST.value, StopReason.SHUTDOWN.value)


def check_schedules(settings: Settings) -> None:
    """Every [schedules] entry names a known kind with valid params; else ConfigError."""
    for name, entry in settings.schedules.items():
        where = f"[schedules.{name}]"
        kind = find_kind(entry.kind)
        if kind is None:
            raise ConfigError(f"config error: {where} kind: unknown job kind {entry.kind!r}; "
                              f"known: {', '.join(registered())}")
        try:
            kind.parse(entry.params)
        except ConsoleError as exc:
            raise ConfigError(f"config error: {where} params: {exc.message}") from None


def plan(sched: schedule_lib.Scheduler, when: str, fn: Any, *args: Any) -> schedule_lib.Job:
    """Register `fn(*args)` on `sched` for a `when` text such as 'daily 02:00'."""
    parsed = parse_when(when)
    job = getattr(sched.every(parsed.interval), parsed.unit)
    if parsed.at:
        job = job.at(parsed.at)
    return job.do(fn, *args)


class Scheduler:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.settings = runtime.settings.scheduler
        self.jobs = runtime.settings.jobs
        self.owner = Owner.new()
        self.principal = scheduler_principal()
        self.stop_event = threading.Event()
        self.stop_signal = ""
        self.exit_code = 0
        self.sched = schedule_lib.Scheduler()
        self.pool = ThreadPoolExecutor(self.settings.max_workers, thread_name_prefix="job")
        self.active: dict[int, tuple[Future[Any], RunControl]] = {}
        self.gave_up: set[int] = set()
        self._lock = threading.Lock()
        self._renewed = 0.0

    # -- life cycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Validate the schedules and take the lease; Conflict if a scheduler runs."""
        check_schedules(self.runtime.settings)
        with self.runtime.database.scope() as db:
            acquire_scheduler(db, self.owner, self.jobs.lease_seconds)
            audit.record_alone(db, self.principal, "scheduler.start", details={
                "owner": self.owner.describe(), "max_workers": self.settings.max_workers,
                "schedules": sorted(self.runtime.settings.schedules)})
        self._renewed = time.monotonic()
        for name, entry in self.runtime.settings.schedules.items():
            if entry.enabled:
                self._plan(name, entry)
        log.info("scheduler started", extra={
            "pid": self.owner.pid, "max_workers": self.settings.max_workers,
            "schedules": {n: e.when for n, e in self.runtime.settings.schedules.items()
                          if e.enabled},
            "database": self.runtime.database.display_url})

    def install_signals(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.stop_signal = signal.Signals(signum).name
        self.stop_event.set()

    def run_forever(self) -> int:
        """Tick until stopped; then stop cleanly. Returns the exit code."""
        try:
            while not self.stop_event.is_set():
                self.tick()
                self.stop_event.wait(self.settings.poll_seconds)
        finally:
            self.shutdown()
        return self.exit_code

    def shutdown(self) -> None:
        with self._lock:
            active = list(self.active.items())
        reason = f"the scheduler is stopping ({self.stop_signal or 'stop'})"
        if active:
            log.info("stopping: letting running jobs reach a step boundary", extra={
                "runs": [run_id for run_id, _ in active], "signal": self.stop_signal or None})
        for _run_id, (_future, control) in active:
            control.request_stop(f"{reason}; it resumes when the scheduler starts again")
        deadline = time.monotonic() + self.settings.stop_timeout_seconds
        for run_id, (future, _control) in active:
            try:
                future.result(timeout=max(0.0, deadline - time.monotonic()))
            except Exception:  # noqa: BLE001 - timeouts and crashes are logged, not fatal
                log.warning("a job did not stop in time; it will show as interrupted",
                            extra={"run_id": run_id})
        self.pool.shutdown(wait=False, cancel_futures=True)
        try:
            with self.runtime.database.scope() as db:
                release_scheduler(db, self.owner)
                audit.record_alone(db, self.principal, "scheduler.stop", details={
                    "owner": self.owner.describe(), "signal": self.stop_signal or None})
        except Exception as exc:  # noqa: BLE001 - the lease expires by itself
            log.error("could not release the scheduler lease: %s", describe_error(exc))
        log.info("scheduler stopped", extra={"signal": self.stop_signal or None})

    # -- one tick ------------------------------------------------------------------------

    def tick(self) -> None:
        try:
            if not self._renew():
                return
            self.sched.run_pending()
            with self.runtime.database.scope() as db:
                for run_id in reap_stale(db, self.principal):
                    log.warning("job run found dead: marked interrupted",
                                extra={"run_id": run_id})
            if self.settings.resume_interrupted:
                self._auto_resume()
            self._dispatch()
        except Exception as exc:  # noqa: BLE001 - a bad tick must not end the scheduler
            log.exception("scheduler tick failed: %s", describe_error(exc))

    def _renew(self) -> bool:
        if time.monotonic() - self._renewed < self.jobs.heartbeat_seconds:
            return True
        with self.runtime.database.scope() as db:
            ok = renew_scheduler(db, self.owner, self.jobs.lease_seconds)
        if not ok:
            log.error("lost the scheduler lease (another scheduler took over): stopping")
            self.exit_code = 1
            self.stop_event.set()
            return False
        self._renewed = time.monotonic()
        return True

    def _plan(self, name: str, entry: ScheduleEntry) -> None:
        plan(self.sched, entry.when, self._fire, name, entry)

    def _fire(self, name: str, entry: ScheduleEntry) -> None:
        extra = {"schedule": name, "kind": entry.kind}
        with self.runtime.database.scope() as db:
            pending = db.exec(select(JobRun.id).where(JobRun.schedule == name).where(
                col(JobRun.state).in_([JobState.QUEUED.value, JobState.RUNNING.value]))).first()
            if pending is not None:
                log.info("schedule due but its previous run is still going: skipped",
                         extra={**extra, "run_id": pending})
                return
            try:
                started = start_run(db, self.principal, entry.kind, entry.params,
                                    where=Where.SCHEDULER, schedule=name)
            except ConsoleError as exc:
                log.error("could not start a scheduled run: %s", exc.message, extra=extra)
                return
        log.info("scheduled run queued", extra={**extra, "run_id": started.run.id})

    def _auto_resume(self) -> None:
        with self.runtime.database.scope() as db:
            candidates = db.exec(select(JobRun).where(
                JobRun.state == JobState.INTERRUPTED.value,
                col(JobRun.stop_reason).in_(AUTO_RESUMABLE),
                JobRun.interruptions < self.settings.max_auto_resumes,
            ).order_by(col(JobRun.id))).all()
            db.rollback()
            for run in candidates:
                if run.id in self.gave_up:
                    continue
                if find_kind(run.kind) is None:
                    self.gave_up.add(run.id or 0)
                    log.warning("interrupted run of an unknown kind: not resumed",
                                extra={"run_id": run.id, "kind": run.kind})
                    continue
                try:
                    resume_run(db, self.principal, run.id or 0, where=Where.SCHEDULER)
                except ConsoleError as exc:
                    self.gave_up.add(run.id or 0)
                    log.warning("could not resume run: %s", exc.message,
                                extra={"run_id": run.id})
                    continue
                log.info("resuming interrupted run from its checkpoint", extra={
                    "run_id": run.id, "kind": run.kind, "done": run.progress_done})

    def _dispatch(self) -> None:
        with self._lock:
            free = self.settings.max_workers - len(self.active)
        if free <= 0 or self.stop_event.is_set():
            return
        with self.runtime.database.scope() as db:
            queued = db.exec(select(JobRun.id, JobRun.kind)
                             .where(JobRun.state == JobState.QUEUED.value)
                             .order_by(col(JobRun.id)).limit(100)).all()
            db.rollback()
            for run_id, kind in queued:
                if free <= 0:
                    break
                if run_id in self.active or run_id in self.gave_up:
                    continue
                if find_kind(kind) is None:
                    self.gave_up.add(run_id)
                    log.warning("queued run of a kind this version does not know: left "
                                "queued", extra={"run_id": run_id, "kind": kind})
                    continue
                try:
                    with writing(db):
                        run = load_run(db, run_id)
                        if run is None or run.state != JobState.QUEUED:
                            continue
                        taken = claim(db, run, Owner.new(), self.jobs.lease_seconds)
                except Conflict:
                    continue  # a conflicting run holds its lock: stays queued
                self._submit(taken)
                free -= 1

    def _submit(self, taken: Claim) -> None:
        control = RunControl()
        extra = {"run_id": taken.run_id, "kind": taken.kind}
        log.info("job run started", extra=extra)

        def body() -> None:
            try:
                final = execute(self.runtime, taken, self.principal, control=control)
                if final is None:
                    log.warning("job run taken over by another runner", extra=extra)
                else:
                    level = logging.INFO if final.state in (
                        JobState.SUCCEEDED, JobState.CANCELLED) else logging.WARNING
                    log.log(level, f"job run {final.state}", extra={
                        **extra, "state": final.state, "done": final.progress_done,
                        "total": final.progress_total, "error": final.error or None,
                        "result": final.result})
            except Exception:
                log.exception("job runner crashed", extra=extra)
            finally:
                with self._lock:
                    self.active.pop(taken.run_id, None)

        with self._lock:
            future = self.pool.submit(body)
            self.active[taken.run_id] = (future, control)
