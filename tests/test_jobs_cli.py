"""`flowpro-console jobs ...` through the real entry point: exit codes, JSON, one-line
errors, and in a terminal a progress bar and Ctrl-C that cancels at the next step."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import tests.jobkinds as tk
from models.jobs import JobRun
from tests.clihelp import run_cli, write_config
from tests.ptyhelp import PtyProcess
from tests.test_scheduler import BOOT, child_env, cli


@pytest.fixture
def config(installation, tmp_path: Path) -> Path:
    return write_config(installation, tmp_path / "config.toml")


def test_run_list_show_json(config: Path, db) -> None:
    ran = run_cli("jobs", "run", "db-maintenance", "--param", "pages_per_step=500",
                  config=config)
    assert ran.code == 0, ran.err
    assert ran.out.startswith("run #1 (db-maintenance) succeeded: ")
    assert "backend=" in ran.out
    listed = run_cli("jobs", "list", "--json", config=config)
    runs = json.loads(listed.out)
    assert [(r["id"], r["kind"], r["state"]) for r in runs] == [(1, "db-maintenance",
                                                                  "succeeded")]
    assert runs[0]["params"]["pages_per_step"] == 500 and runs[0]["done"] == runs[0]["total"]
    shown = json.loads(run_cli("jobs", "show", "1", "--json", config=config).out)
    assert shown["started_by"].startswith("os:") and shown["result"]["backend"]
    table = run_cli("jobs", "list", config=config)
    assert table.code == 0 and "db-maintenance" in table.out and "succeeded" in table.out
    kinds = run_cli("jobs", "kinds", config=config)
    assert "pages_per_step (int, default 2000)" in kinds.out


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # backend-neutral
def test_bad_input_is_one_line_with_the_right_code(config: Path) -> None:
    cases = [(("jobs", "run", "db-maintenance", "-p", "bogus=1"), 2, "param bogus"),
             (("jobs", "run", "db-maintenance", "-p", "pages_per_step"), 2, "NAME=VALUE"),
             (("jobs", "run", "no-such-kind"), 1, "unknown job kind 'no-such-kind'"),
             (("jobs", "show", "404"), 1, "no job run #404"),
             (("jobs", "cancel", "404"), 1, "no job run #404"),
             (("jobs", "list", "--state", "sleeping"), 2, "sleeping")]
    for args, code, text in cases:
        result = run_cli(*args, config=config)
        assert result.code == code, (args, result.err)
        assert text in result.err and "Traceback" not in result.err
        assert result.err.strip().count("\n") == 0 or args[1] == "list"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # backend-neutral
def test_failed_run_exits_1_and_resume_tells_how(config: Path, db) -> None:
    tk.prepare(db)
    failed = cli("jobs", "run", "test-rows", "-p", "count=5", "-p", "fail_at=3",
                 config=config)
    assert failed.code == 1
    assert "run #1 (test-rows) failed at 2/5: asked to fail at 3" in failed.err
    assert "flowpro-console jobs resume 1" in failed.err


def test_queue_without_scheduler_says_so_then_cancel(config: Path, db) -> None:
    queued = run_cli("jobs", "run", "db-maintenance", "--queue", config=config)
    assert queued.code == 0
    assert "run #1 (db-maintenance): queued for the scheduler" in queued.out
    assert "no scheduler is running" in queued.err
    cancelled = run_cli("jobs", "cancel", "1", config=config)
    assert cancelled.code == 0 and "run #1 cancelled" in cancelled.out
    again = run_cli("jobs", "cancel", "1", config=config)
    assert again.code == 1 and "already ended" in again.err


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # backend-neutral
def test_scheduler_needs_the_os_owner(installation, tmp_path: Path) -> None:
    cfg = write_config(installation, tmp_path / "c.toml", "trust_os_owner = false")
    result = run_cli("scheduler", config=cfg)
    assert result.code == 3 and "OS owner" in result.err


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # backend-neutral
@pytest.mark.integration
def test_terminal_shows_a_progress_bar_and_ctrl_c_cancels(config: Path, db) -> None:
    tk.prepare(db)
    env = {**child_env(), "TERM": "xterm-256color"}
    argv = [sys.executable, "-c", BOOT, "--config", str(config), "jobs", "run", "test-rows",
            "-p", "count=400", "-p", "delay=0.05"]
    term = PtyProcess(argv, env)
    try:
        term.wait_for("/400")
        term.wait_for("/s")  # a rate once a few steps are done
        assert "[" in term.text() and "%" in term.text() and "ETA" in term.text()
        term.send("\x03")
        term.wait_for("cancelling at the next step")
        assert term.proc.wait(30) == 130
        term.read_available(0.5)
        assert "run #1 (test-rows) cancelled" in term.text()
    finally:
        term.kill()
    db.rollback()
    run = db.get(JobRun, 1, populate_existing=True)
    assert run.state == "cancelled" and 0 < run.progress_done < 400
    assert tk.written_numbers(db, 1) == list(range(1, run.progress_done + 1))


def test_conflicting_run_in_another_process_is_refused(runtime, config: Path, db,
                                                       root) -> None:
    import threading

    from console import jobs

    tk.prepare(db)
    started = jobs.start_run(db, root, "test-rows", {"count": "5"}, where=jobs.Where.HERE)
    pause = tk.Pause(2)  # this process holds the run (and its lock) between two steps
    runner = threading.Thread(target=lambda: jobs.execute(runtime, started.claim, root,
                                                          on_progress=pause), daemon=True)
    runner.start()
    pause.wait()
    try:
        other = cli("jobs", "run", "test-rows", "-p", "count=3", config=config)
        assert other.code == 1
        assert f"run #{started.run.id} (test-rows) is running and conflicts" in other.err
        free = cli("jobs", "run", "test-rows", "-p", "count=3", "-p", "group=elsewhere",
                   config=config)
        assert free.code == 0, free.err
    finally:
        pause.release()
        runner.join(30)
    assert tk.written_numbers(db, started.run.id) == [1, 2, 3, 4, 5]
