"""The job framework on SQLite and PostgreSQL: leases, conflicts, takeover, cancel, resume,
failure, authority, the reaper, and the built-in kinds."""

from __future__ import annotations

import subprocess
import threading

import pytest
from sqlmodel import col, select

import tests.jobkinds as tk
from console import jobs
from console.auth import end_session
from console.config import JobsSettings
from console.db import writing
from console.errors import AccessDenied, Conflict, NotFound, ValidationError
from console.jobs.leases import LeaseLost, Owner, claim, fence, this_host
from console.principal import Principal, PrincipalKind
from console.users import AccountKind, create_user
from models.audit import AuditEvent
from models.jobs import JobRun, JobState, StopReason

HERE, SCHEDULER = jobs.Where.HERE, jobs.Where.SCHEDULER


def events(db, run_id: int) -> list[tuple[str, str]]:
    db.rollback()
    rows = db.exec(select(AuditEvent).where(AuditEvent.target == f"job:{run_id}")
                   .order_by(col(AuditEvent.id))).all()
    return [(e.action, e.outcome) for e in rows]


def run_in_thread(runtime, started: jobs.Started, actor, *, control=None, on_progress=None):
    """Execute in a thread; returns (thread, out) with out["final"] once it has ended."""
    out: dict = {}

    def body() -> None:
        out["final"] = jobs.execute(runtime, started.claim, actor, control=control,
                                    on_progress=on_progress)

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    return thread, out


@pytest.fixture(autouse=True)
def _table(db) -> None:
    tk.prepare(db)


def test_run_here_to_success_exactly_once_and_audited(runtime, db, root) -> None:
    started = jobs.start_run(db, root, "test-rows", {"count": "7", "batch": "3"}, where=HERE)
    assert started.claim is not None and started.run.state == JobState.RUNNING
    seen: list[int] = []
    final = jobs.execute(runtime, started.claim, root, on_progress=lambda p: seen.append(p.done))
    assert final is not None and final.state == JobState.SUCCEEDED
    assert seen == [3, 6, 7]
    assert tk.written_numbers(db, final.id) == list(range(1, 8))
    view = jobs.get_run(db, root, final.id)
    assert (view.done, view.total, view.result) == (7, 7, {"next": 8, "written": 7})
    assert view.owner.startswith(this_host()) and view.ended_at is not None
    assert events(db, final.id) == [("jobs.start", "ok"), ("jobs.end", "ok")]


def test_bad_params_and_unknown_kind_are_clear_errors(db, root) -> None:
    with pytest.raises(ValidationError, match="param count"):
        jobs.start_run(db, root, "test-rows", {"count": "many"})
    with pytest.raises(ValidationError, match="no such parameter; known: count"):
        jobs.start_run(db, root, "test-rows", {"colour": "red"})
    with pytest.raises(NotFound, match="unknown job kind 'nope'; known: .*db-maintenance"):
        jobs.start_run(db, root, "nope", {})
    with pytest.raises(ValidationError, match="NAME=VALUE"):
        jobs.parse_param_args(["novalue"])
    assert db.exec(select(JobRun)).all() == []


def test_two_runners_compete_for_one_run(runtime, db, root) -> None:
    queued = jobs.start_run(db, root, "test-rows", {"count": "3"}, where=SCHEDULER)
    assert queued.claim is None and queued.run.state == JobState.QUEUED
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def contender() -> None:
        with runtime.database.scope() as session:
            barrier.wait()
            try:
                with writing(session):
                    run = session.get(JobRun, queued.run.id)
                    outcomes.append(claim(session, run, Owner.new(), 30))
            except Conflict as exc:
                outcomes.append(exc)

    threads = [threading.Thread(target=contender) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    claims = [o for o in outcomes if isinstance(o, jobs.Claim)]
    conflicts = [o for o in outcomes if isinstance(o, Conflict)]
    assert len(claims) == 1 and len(conflicts) == 1, outcomes
    assert "another runner" in str(conflicts[0])
    db.rollback()
    row = db.get(JobRun, queued.run.id, populate_existing=True)
    assert row.state == JobState.RUNNING and row.owner_token == claims[0].owner.token
    assert row.attempts == 1


def test_conflicting_runs_never_overlap(runtime, db, root) -> None:
    pause = tk.Pause(1)
    first = jobs.start_run(db, root, "test-rows", {"count": "2"}, where=HERE)
    thread, out = run_in_thread(runtime, first, root, on_progress=pause)
    pause.wait()
    with pytest.raises(Conflict, match=rf"run #{first.run.id} \(test-rows\) is running"):
        jobs.start_run(db, root, "test-rows", {"count": "2"}, where=HERE)
    queued = jobs.start_run(db, root, "test-rows", {"count": "2"}, where=SCHEDULER)
    assert queued.waits_for == first.run.id and queued.run.state == JobState.QUEUED
    with pytest.raises(Conflict):  # resuming the queued one here: still blocked
        jobs.resume_run(db, root, queued.run.id, where=HERE)
    other = jobs.start_run(db, root, "test-rows", {"count": "1", "group": "elsewhere"},
                           where=HERE)
    assert jobs.execute(runtime, other.claim, root).state == JobState.SUCCEEDED
    pause.release()
    thread.join(30)
    assert out["final"].state == JobState.SUCCEEDED
    after = jobs.resume_run(db, root, queued.run.id, where=HERE)  # now free
    assert jobs.execute(runtime, after.claim, root).state == JobState.SUCCEEDED
    assert [a for a, _ in events(db, queued.run.id)] == ["jobs.start", "jobs.resume",
                                                         "jobs.end"]


def test_stale_lease_is_taken_over_and_the_old_runner_is_fenced(runtime, db, root,
                                                                clock) -> None:
    # Heartbeats far apart: runner A looks frozen once the clock moves past its lease.
    runtime.settings = runtime.settings.model_copy(update={"jobs": JobsSettings(
        heartbeat_seconds=300, lease_seconds=900)})
    started = jobs.start_run(db, root, "test-rows", {"count": "6"}, where=HERE,
                             lease_seconds=900)
    freeze = tk.Pause(2)  # runner A stops answering after two committed steps
    runner_a, out = run_in_thread(runtime, started, root, on_progress=freeze)
    freeze.wait()
    # A live lease cannot be taken...
    with pytest.raises(Conflict, match="running"):
        jobs.resume_run(db, root, started.run.id, where=HERE)
    # ...a stale one can: resuming marks A's attempt interrupted and takes the run over.
    clock.advance(seconds=1000)
    taken = jobs.resume_run(db, root, started.run.id, where=HERE, lease_seconds=900)
    assert taken.claim is not None and taken.run.done == 2
    # A's writes are fenced: anything it commits under its old token rolls back.
    with pytest.raises(LeaseLost), writing(db):
        db.connection().exec_driver_sql(
            f"INSERT INTO jobtest_rows (n, run_id) VALUES (999, {started.run.id})")
        fence(db, started.claim, 900, progress_done=99)
    freeze.release()  # A wakes up and must notice at once that the run is not its own
    runner_a.join(30)
    assert out["final"] is None
    final = jobs.execute(runtime, taken.claim, root)
    assert final.state == JobState.SUCCEEDED and final.attempts == 2
    assert final.interruptions == 1
    assert tk.written_numbers(db, started.run.id) == [1, 2, 3, 4, 5, 6]
    actions = [a for a, _ in events(db, started.run.id)]
    assert actions == ["jobs.start", "jobs.end", "jobs.resume", "jobs.end"]


def test_cancel_takes_effect_at_the_next_step_and_keeps_what_was_done(runtime, db,
                                                                      root) -> None:
    started = jobs.start_run(db, root, "test-rows", {"count": "50"}, where=HERE)
    pause = tk.Pause(3)
    thread, out = run_in_thread(runtime, started, root, on_progress=pause)
    pause.wait()
    view = jobs.cancel_run(db, root, started.run.id)
    assert view.state == JobState.RUNNING and view.cancel_requested
    pause.release()
    thread.join(30)
    final = out["final"]
    assert final.state == JobState.CANCELLED and final.stop_reason == StopReason.CANCELLED
    assert final.progress_done == 3 and tk.written_numbers(db, final.id) == [1, 2, 3]
    assert jobs.get_run(db, root, final.id).result == {"next": 4, "written": 3}
    assert [a for a, _ in events(db, final.id)] == ["jobs.start", "jobs.cancel", "jobs.end"]
    with pytest.raises(Conflict, match="already ended"):
        jobs.cancel_run(db, root, final.id)
    # A cancelled run can still be resumed to completion, from where it stopped.
    again = jobs.resume_run(db, root, final.id, where=HERE)
    assert jobs.execute(runtime, again.claim, root).state == JobState.SUCCEEDED
    assert tk.written_numbers(db, final.id) == list(range(1, 51))


def test_cancel_queued_is_immediate(db, root) -> None:
    queued = jobs.start_run(db, root, "test-rows", {"count": "2"}, where=SCHEDULER)
    view = jobs.cancel_run(db, root, queued.run.id)
    assert view.state == JobState.CANCELLED and view.ended_at is not None
    assert [a for a, _ in events(db, queued.run.id)] == ["jobs.start", "jobs.cancel",
                                                         "jobs.end"]


def test_failed_step_rolls_back_and_resume_finishes_exactly_once(runtime, db, root) -> None:
    started = jobs.start_run(db, root, "test-rows",
                             {"count": "9", "batch": "2", "fail_at": "6"}, where=HERE)
    final = jobs.execute(runtime, started.claim, root)
    assert final.state == JobState.FAILED and "asked to fail at 6" in final.error
    assert tk.written_numbers(db, final.id) == [1, 2, 3, 4]  # the step 5-6 rolled back
    # Resuming re-runs the failing step; this kind fails again, deterministically.
    again = jobs.resume_run(db, root, final.id, where=HERE)
    assert jobs.execute(runtime, again.claim, root).state == JobState.FAILED
    assert tk.written_numbers(db, final.id) == [1, 2, 3, 4]
    assert jobs.get_run(db, root, final.id).attempts == 2


def test_stop_request_leaves_interrupted_then_resume_completes(runtime, db, root) -> None:
    started = jobs.start_run(db, root, "test-rows", {"count": "8", "batch": "2"}, where=HERE)
    control = jobs.RunControl()

    def stop_after_two(p: jobs.Progress) -> None:
        if p.done == 4:
            control.request_stop("the scheduler is stopping (SIGTERM)")

    final = jobs.execute(runtime, started.claim, root, control=control,
                         on_progress=stop_after_two)
    assert final.state == JobState.INTERRUPTED and final.stop_reason == StopReason.SHUTDOWN
    assert "SIGTERM" in final.error and final.owner_token is None
    assert jobs.get_run(db, root, final.id).resumable
    resumed = jobs.resume_run(db, root, final.id, where=HERE)
    assert resumed.run.done == 4
    assert jobs.execute(runtime, resumed.claim, root).state == JobState.SUCCEEDED
    assert tk.written_numbers(db, final.id) == list(range(1, 9))


def test_resume_rules(runtime, db, root) -> None:
    done = jobs.start_run(db, root, "test-rows", {"count": "1"}, where=HERE)
    jobs.execute(runtime, done.claim, root)
    with pytest.raises(Conflict, match="only interrupted, failed, cancelled"):
        jobs.resume_run(db, root, done.run.id, where=HERE)
    queued = jobs.start_run(db, root, "test-rows", {"count": "1"}, where=SCHEDULER)
    with pytest.raises(Conflict, match="already queued"):
        jobs.resume_run(db, root, queued.run.id, where=SCHEDULER)
    with pytest.raises(NotFound):
        jobs.resume_run(db, root, 987654)


def test_dead_owner_on_this_host_shows_interrupted_at_once(runtime, db, root) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    queued = jobs.start_run(db, root, "test-rows", {"count": "3"}, where=SCHEDULER)
    with writing(db):
        claim(db, db.get(JobRun, queued.run.id), Owner(this_host(), gone.pid, "f" * 32), 600)
    views = jobs.list_runs(db, root)
    assert views[0].state == JobState.INTERRUPTED
    assert views[0].stop_reason == StopReason.OWNER_LOST and views[0].interruptions == 1
    assert f"pid {gone.pid}" in views[0].error
    db.rollback()
    end = db.exec(select(AuditEvent).where(AuditEvent.action == "jobs.end")).first()
    assert end.actor == "jobs-monitor" and "owner-lost" in end.details


def test_principal_that_logs_out_stops_its_run(runtime, db, admin) -> None:
    started = jobs.start_run(db, admin, "test-rows", {"count": "30"}, where=HERE)
    pause = tk.Pause(2)
    thread, out = run_in_thread(runtime, started, admin, on_progress=pause)
    pause.wait()
    with runtime.database.scope() as other:
        end_session(other, admin, reason="logout")
    pause.release()
    thread.join(30)
    final = out["final"]
    assert final.state == JobState.INTERRUPTED and final.stop_reason == StopReason.AUTHORITY
    assert "session has ended" in final.error and final.progress_done == 2


def test_permissions(runtime, db, root) -> None:
    create_user(db, root, "audrey", security=runtime.settings.security,
                password="Another-Long-Passphrase-91", kind=AccountKind.STAFF,
                roles=("auditor",))
    from console.auth import authenticate

    auditor = authenticate(runtime.database, db, runtime.settings.security, "audrey",
                           "Another-Long-Passphrase-91", channel="cli")
    assert jobs.list_runs(db, auditor) == []
    with pytest.raises(AccessDenied, match="jobs.run"):
        jobs.start_run(db, auditor, "db-maintenance", {})
    db.rollback()
    denied = db.exec(select(AuditEvent).where(AuditEvent.action == "jobs.start")).first()
    assert denied.outcome == "denied" and denied.actor == "audrey"
    nobody = Principal(name="nobody", kind=PrincipalKind.OS)
    with pytest.raises(AccessDenied):
        jobs.overview(db, nobody)


def test_overview_groups_runs_with_rate_and_eta(runtime, db, root, clock) -> None:
    started = jobs.start_run(db, root, "test-rows", {"count": "10"}, where=HERE)
    pause = tk.Pause(4)
    thread, out = run_in_thread(runtime, started, root, on_progress=pause)
    pause.wait()
    clock.advance(seconds=8)  # 4 units in 8 s: 0.5/s, 6 left: 12 s
    view = jobs.overview(db, root)
    running = view.running[0]
    assert running.id == started.run.id and running.state == JobState.RUNNING
    assert running.rate == pytest.approx(0.5, rel=0.01)
    assert running.eta_seconds == pytest.approx(12, rel=0.01)
    assert running.fraction == pytest.approx(0.4)
    queued = jobs.start_run(db, root, "test-rows", {"count": "1"}, where=SCHEDULER)
    assert [r.id for r in jobs.overview(db, root).queued] == [queued.run.id]
    assert jobs.overview(db, root).scheduler.running is False
    pause.release()
    thread.join(30)
    assert out["final"].state == JobState.SUCCEEDED
    assert jobs.overview(db, root).history[0].id == started.run.id


def test_db_maintenance_frees_space(runtime, db, root, backend) -> None:
    with writing(db):
        conn = db.connection()
        conn.exec_driver_sql("CREATE TABLE junk (x TEXT)")
        conn.exec_driver_sql("INSERT INTO junk SELECT md5(CAST(i AS TEXT)) || "
                             "repeat('x', 400) FROM generate_series(1, 3000) AS i"
                             if backend == "postgresql" else
                             "INSERT INTO junk SELECT hex(randomblob(200)) FROM (WITH "
                             "RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r "
                             "WHERE i < 3000) SELECT i FROM r)")
    with writing(db):
        db.connection().exec_driver_sql("DELETE FROM junk")
    steps: list[str] = []
    started = jobs.start_run(db, root, "db-maintenance",
                             {"pages_per_step": "100", "quick_check": "true"}, where=HERE)
    final = jobs.execute(runtime, started.claim, root,
                         on_progress=lambda p: steps.append(p.message))
    assert final.state == JobState.SUCCEEDED, final.error
    view = jobs.get_run(db, root, final.id)
    assert view.done == view.total and len(steps) > 3
    if backend == "sqlite":
        assert view.result["pages_freed"] > 100 and view.result["quick_check"] == "ok"
        assert view.result["file_bytes_after"] < view.result["file_bytes_before"]
        free = db.connection().exec_driver_sql("PRAGMA freelist_count").scalar()
        assert free == 0
    else:
        tables = db.connection().exec_driver_sql(
            "SELECT count(*) FROM pg_stat_user_tables").scalar()
        assert view.result["tables_vacuumed"] == tables
        vacuumed = db.connection().exec_driver_sql(
            "SELECT last_vacuum IS NOT NULL FROM pg_stat_user_tables "
            "WHERE relname = 'job_runs'").scalar()
        assert vacuumed
    db.rollback()


def test_audit_checkpoint_kind_signs_the_chain(runtime, db, root) -> None:
    from console import audit

    started = jobs.start_run(db, root, "audit-checkpoint", {}, where=HERE)
    final = jobs.execute(runtime, started.claim, root)
    assert final.state == JobState.SUCCEEDED
    result = jobs.get_run(db, root, final.id).result
    assert result["signed"] and result["last_event_id"] > 0
    assert audit.verify(db, root, runtime.keys).ok
    db.rollback()


def test_kind_api_registers_with_one_declaration() -> None:
    from console.jobs import Checkpoint, JobKind, Params, job_kind

    class P(Params):
        size: int = 3

    class C(Checkpoint):
        at: int = 0

    @job_kind
    class Tiny(JobKind[P, C]):
        name = "test-tiny"

    kind = jobs.get_kind("test-tiny")
    assert kind.params_model is P and kind.checkpoint_model is C
    assert kind.parse({"size": "5"}).size == 5
    info = jobs.describe(kind)
    assert [(p.name, p.type, p.default) for p in info.params] == [("size", "int", 3)]
    with pytest.raises(TypeError, match="already registered"):
        job_kind(type("Other", (JobKind,), {"name": "test-tiny"}))
