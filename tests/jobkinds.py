"""Test-only job kinds, registered when this module is imported (the tests import it, and a
scheduler subprocess is started with `python -c "import tests.jobkinds; ..."`).

`test-rows` writes the numbers 1..count into `jobtest_rows`, `batch` per step, each step in
the same transaction as its checkpoint. The table has no unique constraint, so a step that
was committed twice would show as duplicate numbers: the final table proves exactly-once.
"""

from __future__ import annotations

import os
import threading
import time

from pydantic import Field
from sqlalchemy import text

from console.db import writing
from console.jobs import Checkpoint, JobContext, JobFailed, JobKind, Params, job_kind


class Pause:
    """An `on_progress` callback that holds an in-process runner once `at` units are done
    (between steps, outside any transaction, so the database stays free) until released."""

    def __init__(self, at: int) -> None:
        self.at = at
        self.reached = threading.Event()
        self.go = threading.Event()

    def __call__(self, progress) -> None:
        if progress.done >= self.at and not self.go.is_set():
            self.reached.set()
            self.go.wait(60)

    def wait(self, timeout: float = 30) -> None:
        assert self.reached.wait(timeout), f"the run never reached {self.at}"

    def release(self) -> None:
        self.go.set()


class RowsParams(Params):
    count: int = Field(default=20, ge=1, le=100_000, description="Numbers to write")
    batch: int = Field(default=1, ge=1, le=10_000, description="Numbers per step")
    delay: float = Field(default=0.0, ge=0, le=10, description="Seconds each step sleeps")
    hold_file: str = Field(default="", description="While this file exists, ...")
    hold_after: int = Field(default=0, ge=0, description="... steps past this number wait "
                            "after writing, before committing (a point to kill at)")
    hold_first: bool = Field(default=False, description="... wait before writing instead "
                             "(a point for a signal to land; with test-loose-rows, holding "
                             "no lock: test-rows' step runs inside its write transaction)")
    fail_at: int = Field(default=0, ge=0, description="Fail the step writing this number")
    group: str = Field(default="test-rows", description="Conflict group")


class RowsCheckpoint(Checkpoint):
    next: int = 1
    written: int = 0


def wait_while(hold_file: str) -> None:
    """Tell the test that the step is in flight, then wait (at most 60 s) for it to remove
    `hold_file`."""
    with open(hold_file + ".waiting", "w"):
        pass
    for _ in range(1200):
        if not os.path.exists(hold_file):
            break
        time.sleep(0.05)


def ensure_table(db) -> None:
    db.connection().exec_driver_sql(
        "CREATE TABLE IF NOT EXISTS jobtest_rows (n INTEGER NOT NULL, run_id INTEGER NOT NULL)")


def prepare(db) -> None:
    """Create the table before runs start (concurrent CREATEs can clash on PostgreSQL)."""
    db.rollback()
    with writing(db):
        ensure_table(db)


def written_numbers(db, run_id: int | None = None) -> list[int]:
    prepare(db)
    sql = "SELECT n FROM jobtest_rows" + (" WHERE run_id = :r" if run_id else "") + " ORDER BY n"
    rows = [r[0] for r in db.connection().execute(text(sql), {"r": run_id}).all()]
    db.commit()
    return rows


class _Rows(JobKind[RowsParams, RowsCheckpoint]):
    """The step of the two test kinds below (not registered itself)."""

    def locks(self, params: RowsParams) -> tuple[str, ...]:
        return (params.group,)

    def estimate(self, ctx: JobContext, params: RowsParams, checkpoint: RowsCheckpoint) -> int:
        return params.count

    def step(self, ctx: JobContext, params: RowsParams,
             checkpoint: RowsCheckpoint) -> RowsCheckpoint | None:
        if checkpoint.next > params.count:
            return None
        holding = bool(params.hold_file) and checkpoint.next > params.hold_after
        if holding and params.hold_first:
            wait_while(params.hold_file)
        if params.delay:
            time.sleep(params.delay)
        last = min(params.count, checkpoint.next + params.batch - 1)
        # Joins the step's transaction (test-rows); test-loose-rows takes the write lock
        # here, as a step outside a transaction must (a read turned write in a deferred
        # transaction fails at once with "database is locked" after anyone else's commit).
        with writing(ctx.db):
            ensure_table(ctx.db)
            for n in range(checkpoint.next, last + 1):
                if n == params.fail_at:
                    raise JobFailed(f"asked to fail at {n}")
                ctx.db.connection().execute(
                    text("INSERT INTO jobtest_rows (n, run_id) VALUES (:n, :r)"),
                    {"n": n, "r": ctx.run_id})
            if holding and not params.hold_first:
                wait_while(params.hold_file)  # written, not committed: a kill leaves none
        ctx.advance(last - checkpoint.next + 1, f"wrote up to {last}")
        checkpoint.written += last - checkpoint.next + 1
        checkpoint.next = last + 1
        return checkpoint


@job_kind
class TestRowsLoose(_Rows):
    """test-rows with each step outside a transaction (the rows committed, then the
    checkpoint): a step waiting before it writes holds no lock, so the scheduler's own
    writes (and with them its signal handling) do not wait for the busy timeout. Not
    idempotent: a kill between the two commits would write a step's numbers twice, so it
    serves the signal test only."""

    name = "test-loose-rows"
    title = "Test: numbered rows, steps outside a transaction"
    description = "Numbers 1..count, each step committed on its own (tests only)"
    transactional = False


# The Jobs form lists kinds by name and the end-to-end tests pick this one with End: the
# other test kind's name sorts before it.
@job_kind
class TestRows(_Rows):
    name = "test-rows"
    title = "Test: numbered rows"
    description = "Writes numbers 1..count, batch per step (tests only)"
