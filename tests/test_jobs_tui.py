"""The jobs screen through Pilot at 80x24: live progress of a run driven elsewhere, the start
form (and where it says the job will run), cancel and resume."""

from __future__ import annotations

import threading

import pytest
from sqlmodel import select

import tests.jobkinds as tk
from console import jobs
from console.app import ConsoleApp
from console.jobs.leases import Owner, acquire_scheduler
from models.audit import AuditEvent
from models.jobs import JobRun, JobState
from tests.conftest import ADMIN, ADMIN_PASSWORD
from tests.tuihelp import log_in, screen_text, settle, table_rows, wait_for_screen


async def open_jobs(pilot, app) -> None:
    await log_in(pilot, app, ADMIN, ADMIN_PASSWORD)
    await wait_for_screen(pilot, app, "DashboardScreen")
    await pilot.press("6")
    await wait_for_screen(pilot, app, "JobsScreen")


async def wait_for(pilot, app, predicate, what: str, timeout: float = 20) -> None:
    for _ in range(int(timeout / 0.1)):
        if predicate():
            return
        await pilot.pause(0.1)
    raise AssertionError(f"{what} never showed; screen was:\n{screen_text(app)}")


def rows(app, table: str) -> list[list[str]]:
    widget = app.screen.query_one(f"#{table}")
    return table_rows(app, f"#{table}") if widget.display else []


async def test_progress_of_a_run_driven_from_another_thread(runtime, db, root) -> None:
    tk.prepare(db)
    started = jobs.start_run(db, root, "test-rows", {"count": "10"}, where=jobs.Where.HERE)
    pause = tk.Pause(3)
    out: dict = {}
    runner = threading.Thread(target=lambda: out.setdefault("final", jobs.execute(
        runtime, started.claim, root, on_progress=pause)), daemon=True)
    runner.start()
    pause.wait()
    app = ConsoleApp(runtime, host="testhost")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_jobs(pilot, app)
        await wait_for(pilot, app, lambda: rows(app, "running"), "the running run")
        row = rows(app, "running")[0]
        assert row[0] == str(started.run.id) and row[1] == "test-rows"
        assert "30%" in row[2] and "█" in row[2] and row[3] == "3/10"
        text = screen_text(app)
        assert "Running (1)" in text and "Scheduler: not running" in text
        assert f"#{started.run.id} test-rows running" in text
        pause.release()  # the other thread finishes the run; the screen follows by itself
        await wait_for(pilot, app, lambda: not rows(app, "running")
                       and rows(app, "history"), "the finished run")
        done = rows(app, "history")[0]
        assert done[0] == str(started.run.id) and done[2] == "succeeded"
        assert "written=10" in done[5]
    runner.join(10)
    assert out["final"].state == JobState.SUCCEEDED


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # backend-neutral
async def test_start_form_runs_here_then_cancel_and_resume(runtime, db) -> None:
    tk.prepare(db)
    app = ConsoleApp(runtime, host="testhost")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_jobs(pilot, app)
        await pilot.press("s")
        await wait_for_screen(pilot, app, "StartJobScreen")
        await wait_for(pilot, app, lambda: "runs inside this console" in screen_text(app),
                       "where the job will run")
        form = app.screen
        form.query_one("#kind").value = "test-rows"
        await settle(pilot, app)
        form.query_one("#param-count").value = "not a number"
        await pilot.press("f2")
        await wait_for(pilot, app, lambda: "param count" in screen_text(app),
                       "the validation error in the form")
        assert type(app.screen).__name__ == "StartJobScreen"
        form.query_one("#param-count").value = "100"
        form.query_one("#param-delay").value = "0.05"
        await pilot.press("f2")
        await wait_for_screen(pilot, app, "JobsScreen")
        await wait_for(pilot, app, lambda: rows(app, "running"), "the run started here")
        assert "1 running here" in screen_text(app)
        run_id = int(rows(app, "running")[0][0])
        assert app.local_jobs.active() == [run_id]
        # Cancel it from the screen: it stops at its next step.
        app.screen.query_one("#running").focus()
        await pilot.press("c")
        await wait_for_screen(pilot, app, "ConfirmScreen")
        await pilot.click("#confirm")
        await wait_for(pilot, app, lambda: rows(app, "history")
                       and rows(app, "history")[0][2] == "cancelled", "the cancelled run")
        db.rollback()
        cancelled = db.get(JobRun, run_id, populate_existing=True)
        assert 0 < cancelled.progress_done < 100
        # Resume it: it continues here from its checkpoint and finishes.
        app.screen.query_one("#history").focus()
        await pilot.press("r")
        await wait_for_screen(pilot, app, "ConfirmScreen")
        assert "continues from its last checkpoint" in screen_text(app)
        await pilot.click("#confirm")
        await wait_for(pilot, app, lambda: rows(app, "history")
                       and rows(app, "history")[0][2] == "succeeded", "the resumed run",
                       timeout=60)
    db.rollback()
    assert tk.written_numbers(db, run_id) == list(range(1, 101))
    actions = db.exec(select(AuditEvent.action).where(AuditEvent.target == f"job:{run_id}")
                      .order_by(AuditEvent.id)).all()
    assert actions == ["jobs.start", "jobs.cancel", "jobs.end", "jobs.resume", "jobs.end"]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # backend-neutral
async def test_form_hands_the_job_to_a_running_scheduler(runtime, db) -> None:
    acquire_scheduler(db, Owner("sched-host", 4242, "s" * 32), 600)
    app = ConsoleApp(runtime, host="testhost")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_jobs(pilot, app)
        assert "Scheduler: running on sched-host (pid 4242)" in screen_text(app)
        await pilot.press("s")
        await wait_for_screen(pilot, app, "StartJobScreen")
        await wait_for(pilot, app, lambda: "keeps running if you disconnect"
                       in screen_text(app), "the hand-over notice")
        app.screen.query_one("#kind").value = "db-maintenance"
        await settle(pilot, app)
        await pilot.press("f2")
        await wait_for_screen(pilot, app, "JobsScreen")
        await wait_for(pilot, app, lambda: rows(app, "queued"), "the queued run")
        queued = rows(app, "queued")[0]
        assert queued[1] == "db-maintenance" and "scheduler" in queued[4]
        assert app.local_jobs.active() == []
        # The run details show where it will run.
        app.screen.query_one("#queued").focus()
        await pilot.press("d")
        await wait_for_screen(pilot, app, "RunDetailScreen")
        assert "the scheduler" in screen_text(app)
        await pilot.press("escape")
        await wait_for_screen(pilot, app, "JobsScreen")
