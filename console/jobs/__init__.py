"""Jobs: long work in steps that survives a dropped SSH session, a crash or a second console.

A *job kind* is a small class; a *run* is one execution of a kind with parameters. A run
goes queued -> running -> succeeded | failed | cancelled | interrupted, and an unfinished
run (interrupted, failed, cancelled) resumes from its last checkpoint.

Writing a job kind (the API other domains build on)
----------------------------------------------------

Put a module in ``console/job_kinds/``; every module there is imported when the registry
is first used, so the decorator is the only declaration::

    from pydantic import Field
    from console.jobs import Checkpoint, JobContext, JobKind, Params, job_kind
    from console.permissions import Permission

    class PurgeParams(Params):
        category: str = Field(description="Data category to purge")
        batch: int = Field(default=5000, ge=100, le=50_000, description="Rows per step")

    class PurgeCheckpoint(Checkpoint):
        after_id: int = 0       # where to continue
        deleted: int = 0        # what the result summarizes

    @job_kind
    class RetentionPurge(JobKind[PurgeParams, PurgeCheckpoint]):
        name = "retention"                      # CLI / config name, unique
        title = "Retention purge"
        description = "Delete or anonymize what the retention policies say is due"
        permission = Permission.RETENTION_MANAGE   # besides jobs.run, to start/cancel/resume

        def check(self, db, actor, params):     # optional: validate against the database
            ...                                  # raise ValidationError / Conflict

        def locks(self, params):                 # optional: conflict groups
            return ("retention",)                # default: (self.name,)

        def estimate(self, ctx, params, cp):     # optional: total units (None = unknown)
            return count_due(ctx.db, params.category)

        def step(self, ctx: JobContext, params, cp):
            ids = next_batch(ctx.db, params.category, cp.after_id, params.batch)
            if not ids:
                return None                      # finished
            purge(ctx.db, ctx.actor, ids)        # inside the step's write transaction
            ctx.advance(len(ids), f"{params.category}: up to id {ids[-1]}")
            cp.after_id, cp.deleted = ids[-1], cp.deleted + len(ids)
            return cp                            # committed with the step's changes

        def result(self, ctx, params, cp):       # optional, default: the checkpoint
            return {"deleted": cp.deleted}

Rules the framework relies on:

- ``step`` does one bounded piece of work (well under ``[jobs] lease_seconds``; on SQLite a
  transactional step holds the write lock, so keep batches to milliseconds of it) and
  returns the new checkpoint, or ``None`` when nothing is left. It gets a copy of the last
  committed checkpoint; mutate and return it.
- ``transactional = True`` (default): the step runs inside a write transaction together
  with saving its checkpoint and progress, conditional on still owning the run; a crash
  or a takeover rolls the whole step back, so committed work is never redone.
- ``transactional = False`` (file writes, VACUUM): the step runs outside a transaction
  (use ``writing(ctx.db)`` or ``ctx.autocommit()`` yourself) and the checkpoint is saved
  right after. A crash in between repeats that step on resume, so it must be idempotent
  (e.g. truncate the output file to the checkpoint's offset before appending).
- ``ctx.should_stop()`` turns True on cancel, shutdown or lost lease; the framework checks
  between steps, long steps may check it and return early with an honest checkpoint.
- Raise ``JobFailed("what went wrong and what to do")`` to fail the run (resumable from the
  last checkpoint). Any other exception also fails it; its type and first line are kept.
- ``ctx.actor`` is who the work runs as: the person when it runs in their console or
  ``jobs run``, the scheduler principal in the scheduler. ``ctx.started_by`` names who asked.
- Parameters are pydantic fields (with ``description=``); values from the CLI and the TUI
  arrive as strings and are converted. Never take secrets as parameters: they are stored
  on the run and in the audit trail.
- Every start, resume, cancel and end is audited by the framework (``jobs.*`` events);
  audit what the steps change through the services they call, as usual.

Running runs
------------

- ``start_run(db, actor, kind, params, where=...)`` / ``resume_run`` / ``cancel_run``:
  services. ``Where.SCHEDULER`` queues the run for the scheduler; ``Where.HERE`` claims it
  for this process, which must then ``execute(runtime, started.claim, actor)`` it (or hand
  it to ``LocalJobs.launch``); ``Where.AUTO`` picks the scheduler when one is running.
- ``execute`` runs the steps in the calling thread with a heartbeat thread renewing the
  lease; ``RunControl.request_stop`` ends it at the next step as ``interrupted``.
- The lease (``leases.py``) guarantees one runner per run and no two runs sharing a lock
  name at once, on SQLite and PostgreSQL, across processes.
"""

from console.jobs.kinds import (
    Checkpoint,
    JobContext,
    JobFailed,
    JobKind,
    KindInfo,
    ParamInfo,
    Params,
    describe,
    find_kind,
    get_kind,
    job_kind,
    registered,
)
from console.jobs.leases import Claim, Owner, SchedulerStatus, reap_stale, scheduler_status
from console.jobs.runner import LocalJobs, Progress, RunControl, execute
from console.jobs.service import (
    Overview,
    Started,
    StartPlan,
    cancel_run,
    get_run,
    list_kinds,
    list_runs,
    overview,
    parse_param_args,
    plan_start,
    resume_run,
    start_run,
)
from console.jobs.views import RunView, Where, summary
from models.jobs import Executor, JobState, StopReason

__all__ = [
    "Checkpoint", "Claim", "Executor", "JobContext", "JobFailed", "JobKind", "JobState",
    "KindInfo", "LocalJobs", "Overview", "Owner", "ParamInfo", "Params", "Progress",
    "RunControl", "RunView", "SchedulerStatus", "StartPlan", "Started", "StopReason", "Where",
    "cancel_run", "describe", "execute", "find_kind", "get_kind", "get_run", "job_kind",
    "list_kinds", "list_runs", "overview", "parse_param_args", "plan_start", "reap_stale",
    "registered", "resume_run", "scheduler_status", "start_run", "summary",
]
