"""The scheduler as a real subprocess: SIGKILL mid-job then resume to the exact result, a
clean SIGTERM stop, one scheduler per database, schedules from the config, JSON Lines logs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlmodel import col, select

import tests.jobkinds as tk
from console import jobs
from models.audit import AuditEvent
from models.jobs import JobRun, JobState, StopReason
from tests.clihelp import Result, write_config

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
# The real CLI, with the test-only job kinds registered first.
BOOT = ("import sys, tests.jobkinds; from console.cli import main; "
        "sys.argv[0] = 'flowpro-console'; main()")
FAST = """
[jobs]
heartbeat_seconds = 0.2
lease_seconds = 3
[scheduler]
poll_seconds = 0.2
max_workers = 2
"""


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWPRO_", "SSH_"))}
    env["PYTHONPATH"] = str(ROOT)
    return env


class SchedulerProcess:
    """`flowpro-console scheduler` in a subprocess; its stderr collected line by line."""

    def __init__(self, config: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", BOOT, "--config", str(config), "scheduler"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=child_env())
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def logs(self) -> list[dict]:
        return [json.loads(line) for line in self.lines]

    def wait_for_log(self, message: str, timeout: float = 30) -> dict:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for entry in self.logs():
                if entry["message"] == message:
                    return entry
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"no {message!r} in the scheduler log:\n" + "\n".join(self.lines))

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        code = self.proc.wait(timeout)
        self._reader.join(5)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def config(installation, tmp_path: Path) -> Path:
    return write_config(installation, tmp_path / "config.toml", extra=FAST)


@pytest.fixture
def schedulers():
    started: list[SchedulerProcess] = []

    def start(cfg: Path) -> SchedulerProcess:
        proc = SchedulerProcess(cfg)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.kill()


def cli(*args: str, config: Path, timeout: float = 120) -> Result:
    proc = subprocess.run([sys.executable, "-c", BOOT, "--config", str(config), *args],
                          capture_output=True, text=True, timeout=timeout, env=child_env())
    return Result(proc.returncode, proc.stdout, proc.stderr)


def row(db, run_id: int) -> JobRun:
    db.rollback()
    found = db.get(JobRun, run_id, populate_existing=True)
    db.rollback()
    return found


def wait_for(predicate, what: str, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def audit_actions(db, prefix: str) -> list[str]:
    db.rollback()
    return list(db.exec(select(AuditEvent.action).where(
        col(AuditEvent.action).startswith(prefix)).order_by(col(AuditEvent.id))).all())


@pytest.mark.parametrize("resumed_by", ["person", "scheduler"])
def test_sigkill_mid_job_then_resume_gives_the_exact_result(db, root, config, schedulers,
                                                            resumed_by: str,
                                                            tmp_path: Path) -> None:
    tk.prepare(db)
    hold = tmp_path / "hold"
    hold.touch()  # step 9 writes its row, then waits uncommitted: the kill lands mid-step
    first = schedulers(config)
    first.wait_for_log("scheduler started")
    queued = jobs.start_run(db, root, "test-rows", {"count": "30", "delay": "0.02",
                                                    "hold_file": str(hold),
                                                    "hold_after": "8"},
                            where=jobs.Where.SCHEDULER)
    run_id = queued.run.id
    wait_for(lambda: Path(f"{hold}.waiting").exists(), "step 9 to be in flight")
    first.stop(signal.SIGKILL)
    hold.unlink()

    # The dead owner is noticed at once (same host, no such process): interrupted, and
    # exactly the committed steps are in the table, matching the checkpoint.
    view = jobs.get_run(db, root, run_id)
    assert view.state == JobState.INTERRUPTED and view.stop_reason == StopReason.OWNER_LOST
    done = view.done
    assert done == 8 and view.checkpoint == {"next": 9, "written": 8}
    assert tk.written_numbers(db, run_id) == list(range(1, done + 1))

    if resumed_by == "person":
        result = cli("jobs", "resume", str(run_id), config=config)
        assert result.code == 0, result.err
        assert f"run #{run_id} (test-rows) succeeded" in result.out
    else:
        second = schedulers(config)
        second.wait_for_log("resuming interrupted run from its checkpoint")
        wait_for(lambda: row(db, run_id).state == JobState.SUCCEEDED, "the resumed run")
        assert second.stop() == 0
    final = row(db, run_id)
    assert final.state == JobState.SUCCEEDED
    assert (final.attempts, final.interruptions) == (2, 1)
    assert tk.written_numbers(db, run_id) == list(range(1, 31))  # each number once
    assert audit_actions(db, "jobs.") == ["jobs.start", "jobs.end", "jobs.resume", "jobs.end"]


def test_sigterm_stops_cleanly_and_the_next_scheduler_continues(db, root, config,
                                                                schedulers,
                                                                tmp_path: Path) -> None:
    tk.prepare(db)
    hold = tmp_path / "hold"
    hold.touch()  # step 6 waits until SIGTERM has arrived: the stop lands mid-step
    first = schedulers(config)
    first.wait_for_log("scheduler started")
    # The step waits holding no lock (test-loose-rows: test-rows' steps run inside their
    # write transaction, so the scheduler's own writes, and its signal handler with them,
    # waited for the 15 s busy timeout whenever a lease renewal fell in the wait).
    queued = jobs.start_run(db, root, "test-loose-rows", {"count": "40", "delay": "0.02",
                                                    "hold_file": str(hold),
                                                    "hold_after": "5", "hold_first": "true"},
                            where=jobs.Where.SCHEDULER)
    run_id = queued.run.id
    wait_for(lambda: Path(f"{hold}.waiting").exists(), "step 6 to be in flight")
    first.proc.send_signal(signal.SIGTERM)
    first.wait_for_log("stopping: letting running jobs reach a step boundary")
    hold.unlink()  # the step in flight finishes and is committed; then the run stops
    assert first.proc.wait(60) == 0
    first._reader.join(5)
    stopped = row(db, run_id)
    assert stopped.state == JobState.INTERRUPTED and stopped.stop_reason == StopReason.SHUTDOWN
    assert "SIGTERM" in stopped.error and stopped.owner_token is None
    assert stopped.progress_done == 6  # the step in flight finished, nothing after it
    assert tk.written_numbers(db, run_id) == list(range(1, 7))
    assert not jobs.scheduler_status(db).running  # the lease was released
    db.rollback()

    logs = first.logs()
    for entry in logs:
        assert {"ts", "level", "system", "host", "logger", "message"} <= set(entry)
        assert entry["system"] == "console" and entry["ts"].endswith("Z")
    assert any(e["message"] == "job run started" and e["run_id"] == run_id for e in logs)
    assert logs[-1]["message"] == "scheduler stopped" and logs[-1]["signal"] == "SIGTERM"

    second = schedulers(config)
    second.wait_for_log("resuming interrupted run from its checkpoint")
    wait_for(lambda: row(db, run_id).state == JobState.SUCCEEDED, "the resumed run")
    assert second.stop() == 0
    assert tk.written_numbers(db, run_id) == list(range(1, 41))
    assert audit_actions(db, "scheduler.") == ["scheduler.start", "scheduler.stop",
                                               "scheduler.start", "scheduler.stop"]


def test_a_second_scheduler_on_the_same_database_is_refused(db, config, schedulers) -> None:
    first = schedulers(config)
    first.wait_for_log("scheduler started")
    second = schedulers(config)
    assert second.proc.wait(60) == 1
    second._reader.join(5)
    refusal = second.logs()[-1]
    assert refusal["level"] == "error"
    assert "a scheduler is already running for this database" in refusal["message"]
    assert f"pid {first.proc.pid}" in refusal["message"]
    assert first.proc.poll() is None
    status = jobs.scheduler_status(db)
    assert status.running and status.pid == first.proc.pid
    assert first.stop() == 0


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # backend-neutral
def test_schedules_from_the_config_start_runs(installation, db, tmp_path: Path,
                                              schedulers) -> None:
    tk.prepare(db)
    cfg = write_config(installation, tmp_path / "c.toml", extra=FAST + """
[schedules.tick]
kind = "test-rows"
when = "every 1 second"
params = { count = 2, group = "tick" }

[schedules.off]
kind = "db-maintenance"
when = "every 1 second"
enabled = false
""")
    proc = schedulers(cfg)
    started = proc.wait_for_log("scheduler started")
    # The built-in daily retention schedule is there too.
    assert started["schedules"] == {"retention": "daily 02:30", "tick": "every 1 second"}

    def finished() -> list[JobRun]:
        db.rollback()
        return list(db.exec(select(JobRun).where(JobRun.schedule == "tick").where(
            JobRun.state == JobState.SUCCEEDED.value)).all())

    wait_for(lambda: len(finished()) >= 2, "two scheduled runs")
    assert proc.stop() == 0
    runs = finished()
    assert all(r.started_by == "scheduler" and r.kind == "test-rows" for r in runs)
    db.rollback()
    assert db.exec(select(JobRun).where(JobRun.kind == "db-maintenance")).first() is None


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # backend-neutral
def test_bad_schedule_is_a_config_error(installation, tmp_path: Path) -> None:
    cfg = write_config(installation, tmp_path / "c.toml", extra="""
[schedules.nightly]
kind = "retention-of-everything"
when = "daily 02:00"
""")
    result = cli("scheduler", config=cfg, timeout=60)
    assert result.code == 2
    assert "[schedules.nightly] kind: unknown job kind 'retention-of-everything'" in result.err
    assert "Traceback" not in result.err


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # backend-neutral
def test_config_check_validates_schedules(installation, tmp_path: Path) -> None:
    from tests.clihelp import run_cli

    good = write_config(installation, tmp_path / "good.toml", extra="""
[schedules.nightly]
kind = "db-maintenance"
when = "daily 03:30"
params = { pages_per_step = 500 }
""")
    result = run_cli("config", "check", config=good)
    assert result.code == 0 and ("schedules: 2 enabled of 2 (retention: daily 02:30, nightly: "
                                 "daily 03:30)") in result.out, result.out
    bad = write_config(installation, tmp_path / "bad.toml", extra="""
[schedules.nightly]
kind = "db-maintenance"
when = "daily 03:30"
params = { pages_per_step = 0 }
""")
    result = run_cli("config", "check", config=bad)
    assert result.code == 2
    assert "[schedules.nightly] params: param pages_per_step" in result.err
    worse = write_config(installation, tmp_path / "worse.toml", extra="""
[schedules.nightly]
kind = "db-maintenance"
when = "at night"
""")
    result = run_cli("config", "check", config=worse)
    assert result.code == 2 and "nightly.when" in result.err and "daily HH:MM" in result.err


def test_a_scheduler_that_loses_its_lease_stops(db, root, config, schedulers) -> None:
    from sqlalchemy import update

    from console.db import writing
    from models.jobs import JobLease

    proc = schedulers(config)
    proc.wait_for_log("scheduler started")
    with writing(db):  # as if another scheduler had taken over while this one was frozen
        db.exec(update(JobLease).where(JobLease.name == "scheduler").values(holder="x" * 32))
    assert proc.proc.wait(60) == 1
    proc._reader.join(5)
    assert any("lost the scheduler lease" in e["message"] for e in proc.logs())


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # backend-neutral
def test_crash_looping_runs_are_not_resumed_forever(db, root, config, schedulers) -> None:
    from console.db import writing

    queued = jobs.start_run(db, root, "test-rows", {"count": "2"}, where=jobs.Where.SCHEDULER)
    with writing(db):
        run = db.get(JobRun, queued.run.id)
        run.state, run.stop_reason, run.interruptions = "interrupted", "owner-lost", 3
        db.add(run)
    tired = jobs.start_run(db, root, "test-rows", {"count": "2", "group": "other"},
                           where=jobs.Where.SCHEDULER)
    with writing(db):
        run = db.get(JobRun, tired.run.id)
        run.state, run.stop_reason, run.interruptions = "interrupted", "authority", 0
        db.add(run)
    tk.prepare(db)
    canary = jobs.start_run(db, root, "test-rows", {"count": "2", "group": "canary"},
                            where=jobs.Where.SCHEDULER)
    proc = schedulers(config)
    proc.wait_for_log("scheduler started")
    # The canary, queued after them, ran: the scheduler has looked at both by now.
    wait_for(lambda: row(db, canary.run.id).state == JobState.SUCCEEDED, "the canary run")
    assert proc.stop() == 0
    assert row(db, queued.run.id).state == JobState.INTERRUPTED  # died 3 times: a person decides
    assert row(db, tired.run.id).state == JobState.INTERRUPTED  # its person logged out
