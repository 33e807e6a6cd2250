"""Jobs: list, show, run, cancel, resume; and the scheduler process."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from console.commands.base import CliState, emit_json, fail, print_table, safe_text

if TYPE_CHECKING:
    from console.jobs import Progress, RunView, Started

STATES = ("queued", "running", "succeeded", "failed", "cancelled", "interrupted")


@click.group()
def jobs() -> None:
    """Long-running jobs: maintenance, retention, exports, log ingestion."""


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _progress(run: RunView) -> str:
    if run.total:
        return f"{run.done:,}/{run.total:,} ({run.done / run.total:.0%})"
    return f"{run.done:,}" if run.done else ""


@jobs.command("list")
@click.option("--state", "states", multiple=True, type=click.Choice(STATES),
              help="Only runs in this state (repeatable).")
@click.option("--kind", help="Only runs of this kind.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def jobs_list(state: CliState, states: tuple[str, ...], kind: str | None, limit: int,
              as_json: bool) -> None:
    """Job runs, newest first."""
    from console import jobs as service

    db = state.session()
    runs = service.list_runs(db, state.principal(db), kind=kind, limit=limit,
                             states=[service.JobState(s) for s in states])
    if as_json:
        emit_json([r.to_json() for r in runs])
        return
    print_table(("id", "kind", "state", "progress", "started (UTC)", "ended (UTC)", "by",
                 "note"),
                [(r.id, r.kind, r.state.value, _progress(r), _when(r.started_at),
                  _when(r.ended_at), r.started_by, (r.error or r.message)[:60])
                 for r in runs])


@jobs.command("show")
@click.argument("run_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def jobs_show(state: CliState, run_id: int, as_json: bool) -> None:
    """One run in full: parameters, progress, owner, result, error, checkpoint."""
    import json

    from console import jobs as service

    db = state.session()
    run = service.get_run(db, state.principal(db), run_id)
    if as_json:
        emit_json(run.to_json())
        return
    rows = [("run", f"#{run.id}"), ("kind", f"{run.kind} ({run.title})"),
            ("state", run.state.value + (" (cancel requested)" if run.cancel_requested
                                         and run.state.value == "running" else "")),
            ("params", json.dumps(run.params, sort_keys=True)),
            ("started by", run.started_by + (f" (schedule {run.schedule})" if run.schedule
                                             else "")),
            ("runs in", run.executor), ("progress", _progress(run) or "-"),
            ("message", run.message), ("created", _when(run.created_at)),
            ("started", _when(run.started_at)), ("ended", _when(run.ended_at)),
            ("heartbeat", _when(run.heartbeat_at)), ("owner", run.owner),
            ("attempts", str(run.attempts)), ("interruptions", str(run.interruptions)),
            ("stop reason", run.stop_reason), ("error", run.error),
            ("result", service.summary(run.result)),
            ("checkpoint", json.dumps(run.checkpoint, sort_keys=True) if run.checkpoint
             else "")]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        if value:
            click.echo(f"{key.ljust(width)}  {safe_text(value)}")


@jobs.command("kinds")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def jobs_kinds(state: CliState, as_json: bool) -> None:
    """The job kinds and their parameters (for `jobs run KIND --param NAME=VALUE`)."""
    from dataclasses import asdict

    from console import jobs as service

    db = state.session()
    kinds = service.list_kinds(db, state.principal(db))
    if as_json:
        emit_json([asdict(k) for k in kinds])
        return
    for kind in kinds:
        click.echo(f"{kind.name}: {kind.description} (needs {kind.permission})")
        for p in kind.params:
            default = "required" if p.required else f"default {p.default!r}"
            choices = f" [{'|'.join(p.choices)}]" if p.choices else ""
            click.echo(f"    {p.name} ({p.type}{choices}, {default}): {p.description}")


@jobs.command("run")
@click.argument("kind")
@click.option("--param", "-p", "params", multiple=True, metavar="NAME=VALUE",
              help="A parameter of the kind (repeatable); see `jobs kinds`.")
@click.option("--queue", is_flag=True,
              help="Hand it to the scheduler instead of running it in this process.")
@click.pass_obj
def jobs_run(state: CliState, kind: str, params: tuple[str, ...], queue: bool) -> None:
    """Run a job in the foreground (a progress bar on a terminal; exit 1 unless it
    succeeds), or queue it for the scheduler. Ctrl-C cancels at the next step."""
    from console import jobs as service

    db = state.session()
    actor = state.principal(db)
    raw = service.parse_param_args(params)
    where = service.Where.SCHEDULER if queue else service.Where.HERE
    started = service.start_run(db, actor, kind, raw, where=where,
                                lease_seconds=state.settings().jobs.lease_seconds)
    _after_start(state, started, "started")


@jobs.command("resume")
@click.argument("run_id", type=int)
@click.option("--queue", is_flag=True,
              help="Hand it to the scheduler instead of running it in this process.")
@click.pass_obj
def jobs_resume(state: CliState, run_id: int, queue: bool) -> None:
    """Continue an interrupted, failed or cancelled run from its last checkpoint."""
    from console import jobs as service

    db = state.session()
    actor = state.principal(db)
    where = service.Where.SCHEDULER if queue else service.Where.HERE
    started = service.resume_run(db, actor, run_id, where=where,
                                 lease_seconds=state.settings().jobs.lease_seconds)
    _after_start(state, started, "resumed")


@jobs.command("cancel")
@click.argument("run_id", type=int)
@click.pass_obj
def jobs_cancel(state: CliState, run_id: int) -> None:
    """Cancel a run: a running one stops at its next step and keeps what it did."""
    from console import jobs as service

    db = state.session()
    run = service.cancel_run(db, state.principal(db), run_id)
    if run.state == service.JobState.RUNNING:
        click.echo(f"cancel requested: run #{run.id} stops at its next step "
                   f"({run.done:,} done so far)")
    else:
        click.echo(f"run #{run.id} cancelled ({run.done:,} done)")


def _after_start(state: CliState, started: Started, verb: str) -> None:
    from console import jobs as service

    run = started.run
    if started.claim is None:
        db = state.session()
        running = service.scheduler_status(db).running
        db.rollback()
        waits = f"; it waits for run #{started.waits_for}" if started.waits_for else ""
        click.echo(f"{verb} run #{run.id} ({run.kind}): queued for the scheduler{waits}")
        if not running:
            click.echo("note: no scheduler is running for this database; the run waits until "
                       f"one starts (or run it here: flowpro-console jobs resume {run.id})",
                       err=True)
        return
    final, by_user = _foreground(state, started)
    if final is None:
        fail(f"run #{run.id} was taken over by another runner; see `flowpro-console jobs "
             f"show {run.id}`", 1)
    summary = service.summary(final.result)
    if final.state == service.JobState.SUCCEEDED:
        click.echo(f"run #{final.id} ({final.kind}) succeeded: {summary}".rstrip(": "))
        return
    hint = (f"; resume with `flowpro-console jobs resume {final.id}`" if final.resumable
            else "")
    detail = final.error or final.message
    at = f"{final.done:,}/{final.total:,}" if final.total is not None else f"{final.done:,}"
    fail(f"run #{final.id} ({final.kind}) {final.state.value} at {at}: {detail}{hint}",
         130 if by_user and final.state == service.JobState.CANCELLED else 1)


def _foreground(state: CliState, started: Started) -> tuple[RunView | None, bool]:
    """Execute the claimed run here; SIGINT cancels it at the next step, SIGTERM/SIGHUP
    leave it interrupted (resumable)."""
    import os
    import signal
    import threading

    from console import jobs as service

    runtime = state.runtime()
    actor = state.principal(state.session())
    control = service.RunControl()
    claim = started.claim
    assert claim is not None
    bar = ProgressLine(sys.stderr, started.run) if sys.stderr.isatty() else None
    interrupted = threading.Event()

    def cancel() -> None:
        try:
            with runtime.database.scope() as db:
                service.cancel_run(db, actor, claim.run_id)
        except Exception:  # noqa: BLE001 - a second Ctrl-C still exits
            control.request_stop("cancel failed; stopping")

    def on_interrupt(_signum: int, _frame: object) -> None:
        if interrupted.is_set():
            click.echo("\ninterrupted again: leaving now; the run will show as interrupted",
                       err=True)
            os._exit(130)
        interrupted.set()
        click.echo("\ncancelling at the next step (Ctrl-C again to leave at once)", err=True)
        threading.Thread(target=cancel, daemon=True).start()

    def on_term(signum: int, _frame: object) -> None:
        control.request_stop(f"its `jobs run` process got {signal.Signals(signum).name}")

    previous = {s: signal.signal(s, h) for s, h in ((signal.SIGINT, on_interrupt),
                                                    (signal.SIGTERM, on_term),
                                                    (signal.SIGHUP, on_term))}
    try:
        final = service.execute(runtime, claim, actor, control=control,
                                on_progress=bar.update if bar else None)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if bar:
            bar.close()
    if final is None:
        return None, interrupted.is_set()
    with runtime.database.scope() as db:
        return service.get_run(db, actor, final.id or 0), interrupted.is_set()


class ProgressLine:
    """`[#####.....]  45%  4,500/10,000  1,234/s  ETA 0:00:04  message` on one line."""

    def __init__(self, stream: Any, run: RunView) -> None:
        import time

        self.stream, self.label = stream, run.kind
        self.start, self.start_done = time.monotonic(), run.done
        self.update_values(run.done, run.total, run.message)

    def update(self, progress: Progress) -> None:
        self.update_values(progress.done, progress.total, progress.message)

    def update_values(self, done: int, total: int | None, message: str) -> None:
        import shutil
        import time

        width = shutil.get_terminal_size((80, 24)).columns
        elapsed = time.monotonic() - self.start
        rate = (done - self.start_done) / elapsed if elapsed > 0.2 else 0.0
        parts = [self.label]
        if total:
            fraction = min(1.0, done / total)
            filled = int(fraction * 20)
            parts.append(f"[{'#' * filled}{'.' * (20 - filled)}] {fraction:4.0%}")
            parts.append(f"{done:,}/{total:,}")
        else:
            parts.append(f"{done:,}")
        if rate > 0:
            parts.append(f"{rate:,.0f}/s")
            if total and done < total:
                seconds = int((total - done) / rate)
                parts.append(f"ETA {seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}")
        parts.append(safe_text(message))
        line = "  ".join(parts)[: max(10, width - 1)]
        self.stream.write("\r\x1b[2K" + line)
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\r\x1b[2K")
        self.stream.flush()


@click.command()
@click.pass_obj
def scheduler(state: CliState) -> None:
    """Run the scheduler: [schedules] from the config, queued runs, resumes (for systemd:
    deploy/flowpro-console-scheduler.service). Logs JSON Lines to stderr."""
    import logging

    from console import jsonlog
    from console.errors import AccessDenied, Conflict
    from console.install import is_trusted_os_user
    from console.jobs.scheduler import Scheduler

    settings = state.settings()
    if not is_trusted_os_user(settings):
        raise AccessDenied("only root or the OS owner of the data directory may run the "
                           "scheduler")
    jsonlog.configure()
    log = logging.getLogger("flowpro.scheduler")
    runtime = state.runtime()
    runner = Scheduler(runtime)
    try:
        runner.start()
    except Conflict as exc:
        log.error(exc.message)
        sys.exit(1)
    runner.install_signals()
    sys.exit(runner.run_forever())
