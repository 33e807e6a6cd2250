"""Jobs: running runs with progress, rate and ETA; the queue; history; start, cancel, resume.

The screen polls `jobs.overview` every second in a worker, so it shows runs driven by any
process (the scheduler, `jobs run` in another shell, a second console) as they progress.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.command import Hit, Hits, Provider
from textual.widgets import DataTable, Static

from console import jobs
from console.display import literal, local_time
from screens.base import AreaScreen
from screens.widgets.confirm import ConfirmScreen
from screens.widgets.job_form import StartJobScreen
from screens.widgets.job_progress import duration, progress_bar, rate_text
from screens.widgets.run_detail import RunDetailScreen

POLL_SECONDS = 1.0
TABLES = ("running", "queued", "history")


class JobsCommands(Provider):
    """Command palette: start a job of any kind, cancel or resume the selected run."""

    async def search(self, query: str) -> Hits:
        screen = self.screen
        assert isinstance(screen, JobsScreen)
        matcher = self.matcher(query)
        entries = [("Start a job…", screen.action_start, "open the start form"),
                   ("Cancel the selected run", screen.action_cancel, "key c"),
                   ("Resume the selected run", screen.action_resume, "key r"),
                   ("Show the selected run", screen.action_details, "key d")]
        entries += [(f"Start job: {k.title}", partial(screen.open_form, k.name), k.description)
                    for k in screen.kinds]
        for label, action, help_text in entries:
            score = matcher.match(label)
            if score > 0:
                yield Hit(score, matcher.highlight(label), action, help=help_text)


class JobsScreen(AreaScreen):
    AREA = "jobs"
    CSS_PATH = "jobs.tcss"
    COMMANDS = {JobsCommands}
    BINDINGS = [
        Binding("s", "start", "Start", id="jobs.start"),
        Binding("c", "cancel", "Cancel run", id="jobs.cancel"),
        Binding("r", "resume", "Resume", id="jobs.resume"),
        Binding("d", "details", "Details", id="jobs.details"),
        Binding("f5,R", "refresh", "Refresh", id="jobs.refresh", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.kinds: list[jobs.KindInfo] = []
        self.data: jobs.Overview | None = None
        self.runs: dict[str, jobs.RunView] = {}

    def compose_body(self) -> ComposeResult:
        yield Static(id="scheduler-line", markup=False)
        yield Static("Running", id="running-title", classes="jobs-title")
        yield DataTable(id="running", cursor_type="row")
        yield Static("Queued", id="queued-title", classes="jobs-title")
        yield DataTable(id="queued", cursor_type="row")
        yield Static("History", id="history-title", classes="jobs-title")
        yield DataTable(id="history", cursor_type="row", zebra_stripes=True)
        yield Static(id="detail-line", markup=False)

    def on_mount(self) -> None:
        columns = {
            "running": (("#", 5), ("Kind", 16), ("Progress", 17), ("Done", 13),
                        ("Rate", 8), ("ETA", 7)),
            "queued": (("#", 5), ("Kind", 16), ("Queued", 11), ("By", 14), ("Note", 22)),
            "history": (("#", 5), ("Kind", 16), ("State", 11), ("Ended", 11), ("Took", 7),
                        ("Result", 30)),
        }
        for name, cols in columns.items():
            table = self.query_one(f"#{name}", DataTable)
            for label, width in cols:
                table.add_column(label, width=width, key=label.lower())
        self.call(jobs.list_kinds, on_done=self._got_kinds, group="kinds")
        self.action_refresh()
        self.set_interval(POLL_SECONDS, self.action_refresh)

    def _got_kinds(self, kinds: list[jobs.KindInfo]) -> None:
        self.kinds = kinds

    # -- showing -------------------------------------------------------------------------

    def action_refresh(self) -> None:
        self.call(jobs.overview, on_done=self._show, group="poll")

    def _show(self, data: jobs.Overview) -> None:
        self.data = data
        self.runs = {str(r.id): r for r in (*data.running, *data.queued, *data.history)}
        tz = self.console.settings.ui.timezone
        status = data.scheduler
        local = self.console.local_jobs.active()
        line = Text(no_wrap=True, end="")
        if status.running:
            line.append("Scheduler: running", style="bold")
            line.append(f" on {status.host} (pid {status.pid}) · new jobs go to it")
        else:
            line.append("Scheduler: not running", style="bold")
            line.append(" · new jobs run in this console")
        if local:
            line.append(f" · {len(local)} running here", style="bold")
        self.query_one("#scheduler-line", Static).update(line)
        self._fill("running", [(str(r.id), self._running_cells(r)) for r in data.running])
        self._fill("queued", [(str(r.id), self._queued_cells(r, tz)) for r in data.queued])
        self._fill("history", [(str(r.id), self._history_cells(r, tz)) for r in data.history])
        self._show_detail()

    def _running_cells(self, r: jobs.RunView) -> list[Any]:
        done = f"{r.done:,}/{r.total:,}" if r.total is not None else f"{r.done:,}"
        eta = duration(r.eta_seconds) if r.eta_seconds is not None else ""
        kind = r.kind + (" ✕" if r.cancel_requested else "")
        return [str(r.id), literal(kind), progress_bar(r.fraction, 10), literal(done),
                rate_text(r.rate), eta]

    def _queued_cells(self, r: jobs.RunView, tz: str) -> list[Any]:
        note = "waits for the scheduler" if r.executor == jobs.Executor.SCHEDULER else ""
        if r.attempts:
            note = f"resumed at {r.done:,}"
        return [str(r.id), literal(r.kind), local_time(r.created_at, tz, "%m-%d %H:%M"),
                literal(r.started_by, max_len=14), note]

    def _history_cells(self, r: jobs.RunView, tz: str) -> list[Any]:
        style = {"succeeded": "green", "failed": "red", "interrupted": "yellow",
                 "cancelled": "yellow"}.get(r.state.value, "")
        took = duration(r.elapsed_seconds) if r.elapsed_seconds is not None else ""
        failed = r.state in (jobs.JobState.FAILED, jobs.JobState.INTERRUPTED)
        outcome = r.error if failed and r.error else jobs.summary(r.result, limit=80)
        return [str(r.id), literal(r.kind), Text(r.state.value, style=style),
                local_time(r.ended_at, tz, "%m-%d %H:%M") if r.ended_at else "", took,
                literal(outcome, max_len=80)]

    def _fill(self, name: str, rows: list[tuple[str, list[Any]]]) -> None:
        """Update in place when the same runs are listed (keeps the cursor still);
        otherwise rebuild and put the cursor back on the run it was on."""
        table = self.query_one(f"#{name}", DataTable)
        title = self.query_one(f"#{name}-title", Static)
        heading = name.capitalize()
        title.update(f"{heading} ({len(rows)})" if rows else f"{heading}: none")
        table.display = bool(rows)
        keys = [key for key, _ in rows]
        existing = [str(k.value) for k in table.rows]
        if keys == existing:
            columns = list(table.columns)
            for key, cells in rows:
                current = table.get_row(key)
                for column, old, new in zip(columns, current, cells, strict=True):
                    if str(old) != str(new) or type(old) is not type(new) or (
                            isinstance(new, Text) and old != new):
                        table.update_cell(key, column, new)
            return
        selected = self._selected_key(table)
        table.clear()
        for key, cells in rows:
            table.add_row(*cells, key=key)
        if selected in keys:
            table.move_cursor(row=keys.index(selected), animate=False)

    @staticmethod
    def _selected_key(table: DataTable[Any]) -> str | None:
        if table.row_count == 0:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        except Exception:  # noqa: BLE001 - an empty or changing table has no selection
            return None
        return str(key.value) if key.value is not None else None

    def selected(self) -> jobs.RunView | None:
        """The run under the cursor of the focused table (else of the first non-empty)."""
        focused = self.focused
        order = [focused] if isinstance(focused, DataTable) else []
        order += [self.query_one(f"#{n}", DataTable) for n in TABLES]
        for table in order:
            if table.display and table.row_count:
                key = self._selected_key(table)
                if key in self.runs:
                    return self.runs[key]
        return None

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        self._show_detail()

    @on(DataTable.RowSelected)
    def _row_selected(self) -> None:
        self.action_details()

    def _show_detail(self) -> None:
        run = self.selected()
        widget = self.query_one("#detail-line", Static)
        if run is None:
            widget.update(Text("s: start a job", style="dim"))
            return
        where = ("the scheduler" if run.executor == jobs.Executor.SCHEDULER
                 else "a console or `jobs run`")
        text = Text(no_wrap=False, end="")
        text.append(f"#{run.id} {run.kind} ", style="bold")
        text.append(f"{run.state.value}")
        if run.state == jobs.JobState.RUNNING:
            text.append(f" in {where} on {run.owner}")
        if run.cancel_requested and run.state == jobs.JobState.RUNNING:
            text.append(" · cancel requested", style="yellow")
        message = run.error or run.message
        if message:
            text.append(" · ")
            text.append_text(literal(message, max_len=140))
        if run.resumable:
            text.append(" · r: resume", style="dim")
        widget.update(text)

    # -- actions -------------------------------------------------------------------------

    def action_start(self) -> None:
        self.open_form(None)

    def open_form(self, kind: str | None) -> None:
        self.app.push_screen(StartJobScreen(kind), self._started)

    def _started(self, started: jobs.Started | None) -> None:
        if started is None:
            return
        self._launch(started, "started")

    def _launch(self, started: jobs.Started, verb: str) -> None:
        run = started.run
        if started.claim is not None and self.console.principal is not None:
            self.console.local_jobs.launch(started.claim, self.console.principal)
            self.notify(f"Run #{run.id} ({run.kind}) {verb} in this console.")
        else:
            waits = f"; it waits for run #{started.waits_for}" if started.waits_for else ""
            self.notify(f"Run #{run.id} ({run.kind}) {verb}: queued for the scheduler{waits}.")
        self.action_refresh()

    def action_cancel(self) -> None:
        run = self.selected()
        if run is None or not run.cancellable:
            self.notify("Select a running, queued or interrupted run to cancel.",
                        severity="warning")
            return
        effect = ("stops at its next step and keeps what it has done."
                  if run.state == jobs.JobState.RUNNING else
                  "will not run (it can still be resumed later).")
        self.app.push_screen(
            ConfirmScreen(f"Cancel run #{run.id}?", f"{run.title} {effect}",
                          confirm_label="Cancel run"),
            partial(self._cancel_confirmed, run.id))

    def _cancel_confirmed(self, run_id: int, confirmed: bool | None) -> None:
        if confirmed:
            self.call(jobs.cancel_run, run_id, on_done=self._cancelled, group="change")

    def _cancelled(self, run: jobs.RunView) -> None:
        self.notify(f"Run #{run.id}: cancel requested; it stops at its next step."
                    if run.state == jobs.JobState.RUNNING else f"Run #{run.id} cancelled.")
        self.action_refresh()

    def action_resume(self) -> None:
        run = self.selected()
        if run is None or not (run.resumable or run.state == jobs.JobState.QUEUED):
            self.notify("Select an interrupted, failed, cancelled or queued run to resume.",
                        severity="warning")
            return
        self.call(jobs.plan_start, on_done=partial(self._confirm_resume, run), group="plan")

    def _confirm_resume(self, run: jobs.RunView, plan: jobs.StartPlan) -> None:
        where = plan.where
        if run.state == jobs.JobState.QUEUED:
            where = jobs.Where.HERE
            explanation = ("It runs inside this console now; if the console exits it is "
                           "left interrupted, resumable.")
        else:
            explanation = plan.explanation
        done = f"{run.done:,} of {run.total:,}" if run.total else f"{run.done:,}"
        self.app.push_screen(
            ConfirmScreen(f"Resume run #{run.id}?",
                          f"{run.title} continues from its last checkpoint ({done} done). "
                          f"{explanation}", confirm_label="Resume"),
            partial(self._resume_confirmed, run.id, where))

    def _resume_confirmed(self, run_id: int, where: jobs.Where, confirmed: bool | None) -> None:
        if confirmed:
            self.call(jobs.resume_run, run_id, where=where,
                      lease_seconds=self.console.settings.jobs.lease_seconds,
                      on_done=lambda started: self._launch(started, "resumed"),
                      group="change")

    def action_details(self) -> None:
        run = self.selected()
        if run is None:
            return
        self.call(jobs.get_run, run.id,
                  on_done=lambda full: self.app.push_screen(RunDetailScreen(
                      full, self.console.settings.ui.timezone)), group="detail")
