"""Retention: policies (edited inline), legal holds (place, release), a preview of what is
due with bars (saved as a plan, applied as a job), the history of runs, and the
termination workflow's next step."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.command import Hit, Hits, Provider
from textual.containers import Horizontal
from textual.widgets import DataTable, Input, Select, Static, TabbedContent, TabPane

from console import clock, jobs
from console.display import literal, local_time
from console.errors import ConsoleError
from console.retention import termination
from console.retention.history import RunView, list_runs
from console.retention.holds import HoldView, list_holds, release_hold
from console.retention.policies import Policy, list_policies, set_policy
from console.retention.preview import PlanView, preview
from screens.base import AreaScreen
from screens.hold_form import HoldFormScreen
from screens.reason import ReasonScreen
from screens.widgets.confirm import ConfirmScreen

TABS = {"policies": "tab-policies", "holds": "tab-holds", "preview": "tab-preview",
        "runs": "tab-runs"}
BAR = 16


class RetentionCommands(Provider):
    """Command palette: the retention actions."""

    async def search(self, query: str) -> Hits:
        screen = self.screen
        assert isinstance(screen, RetentionScreen)
        matcher = self.matcher(query)
        for label, action, help_text in (
                ("Edit the selected policy", screen.action_edit, "key e"),
                ("Place a legal hold", screen.action_add_hold, "key a"),
                ("Release the selected hold", screen.action_release, "key x"),
                ("Preview what is due (make a plan)", screen.action_preview, "key n"),
                ("Apply the previewed plan", screen.action_apply, "key y"),
                ("Termination: the next step", screen.action_terminate, "key t")):
            score = matcher.match(label)
            if score > 0:
                yield Hit(score, matcher.highlight(label), action, help=help_text)


def bar(value: int, most: int) -> Text:
    filled = round(BAR * value / most) if most else 0
    text = Text(end="", no_wrap=True)
    text.append("█" * filled, style="red" if value else "")
    text.append("░" * (BAR - filled), style="dim")
    return text


class RetentionScreen(AreaScreen):
    AREA = "retention"
    CSS_PATH = "retention.tcss"
    COMMANDS = {RetentionCommands}
    BINDINGS = [
        Binding("P", "tab('policies')", "Policies", id="retention.tab-policies", show=False),
        Binding("H", "tab('holds')", "Holds", id="retention.tab-holds", show=False),
        Binding("V", "tab('preview')", "Preview", id="retention.tab-preview", show=False),
        Binding("U", "tab('runs')", "Runs", id="retention.tab-runs", show=False),
        Binding("e", "edit", "Edit policy", id="retention.edit"),
        Binding("a", "add_hold", "Add hold", id="retention.hold-add"),
        Binding("x", "release", "Release", id="retention.hold-release"),
        Binding("n", "preview", "Preview", id="retention.preview"),
        Binding("y", "apply", "Apply plan", id="retention.apply"),
        Binding("t", "terminate", "Termination", id="retention.termination"),
        Binding("f5,R", "refresh", "Refresh", id="retention.refresh", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.policies: dict[str, Policy] = {}
        self.holds: dict[str, HoldView] = {}
        self.plan: PlanView | None = None
        self.status: termination.Status | None = None
        self.editing: str | None = None

    def compose_body(self) -> ComposeResult:
        yield Static("", id="termination-line")
        with TabbedContent(id="retention-tabs"):
            with TabPane("Policies (P)", id="tab-policies"):
                yield DataTable(id="policies", cursor_type="row", zebra_stripes=True)
                with Horizontal(id="policy-edit"):
                    yield Input(id="edit-keep", placeholder="7 years", compact=True)
                    yield Select([("delete", "delete"), ("anonymize", "anonymize")],
                                 id="edit-action", allow_blank=False, value="delete",
                                 compact=True)
                    yield Select([("on", "on"), ("off", "off")], id="edit-enabled",
                                 allow_blank=False, value="on", compact=True)
                    yield Input(id="edit-basis", placeholder="legal basis", compact=True)
            with TabPane("Holds (H)", id="tab-holds"):
                yield DataTable(id="holds", cursor_type="row", zebra_stripes=True)
            with TabPane("Preview (V)", id="tab-preview"):
                yield DataTable(id="preview", cursor_type="row", zebra_stripes=True)
            with TabPane("Runs (U)", id="tab-runs"):
                yield DataTable(id="runs", cursor_type="row", zebra_stripes=True)
        yield Static("", id="retention-hint", classes="hint")

    def on_mount(self) -> None:
        columns = {
            "policies": ("Category", "Keep", "Action", "On", "Legal min", "Source", "Basis"),
            "holds": ("#", "Name", "Covers", "Placed", "By", "Released", "Reason"),
            "preview": ("Category", "Action", "Due", "Share", "Held", "Legal", "Oldest"),
            "runs": ("Run", "Plan", "Purpose", "Started", "State", "Changed", "Kept",
                     "Max ms", "Freed"),
        }
        for name, labels in columns.items():
            table = self.query_one(f"#{name}", DataTable)
            for label in labels:
                table.add_column(label, key=label.lower())
        self.query_one("#policy-edit").display = False
        self.action_refresh()

    # -- data ------------------------------------------------------------------------------

    def action_refresh(self) -> None:
        settings = self.console.settings
        self.call(list_policies, settings.retention, on_done=self._show_policies,
                  group="policies")
        self.call(list_holds, on_done=self._show_holds, group="holds")
        self.call(list_runs, limit=50, on_done=self._show_runs, group="runs")
        self.call(termination.status, settings, on_done=self._show_status, group="status")

    def _show_policies(self, rows: list[Policy]) -> None:
        self.policies = {p.category: p for p in rows}
        table = self.query_one("#policies", DataTable)
        selected = table.cursor_row
        table.clear()
        for p in rows:
            basis = Text(p.problem, style="red") if p.problem else literal(p.basis, max_len=40)
            table.add_row(literal(p.category), p.keep or "-", p.action or "-",
                          "yes" if p.enabled else "no", p.legal_minimum or "-", p.source,
                          basis, key=p.category)
        if rows:
            table.move_cursor(row=min(selected, len(rows) - 1), animate=False)

    def _show_holds(self, rows: list[HoldView]) -> None:
        self.holds = {str(h.id): h for h in rows}
        tz = self.console.settings.ui.timezone
        table = self.query_one("#holds", DataTable)
        table.clear()
        for h in rows:
            released = local_time(h.released_at, tz, "%Y-%m-%d") if h.released_at else "-"
            table.add_row(str(h.id), literal(h.name, max_len=20), literal(h.covers, max_len=30),
                          local_time(h.created_at, tz, "%Y-%m-%d"),
                          literal(h.created_by, max_len=12), released,
                          literal(h.reason, max_len=30), key=str(h.id))
        active = sum(1 for h in rows if h.active)
        self.query_one(TabbedContent).get_tab("tab-holds").label = f"Holds {active} (H)"

    def _show_plan(self, plan: PlanView) -> None:
        self.plan = plan
        table = self.query_one("#preview", DataTable)
        table.clear()
        most = max((i.due for i in plan.items), default=0)
        for i in plan.items:
            table.add_row(literal(i.category), i.action, f"{i.due:,}", bar(i.due, most),
                          f"{i.held:,}", f"{i.legal_minimum:,}", i.oldest[:10], key=i.category)
        self.action_tab("preview")
        can_apply = plan.total_due and plan.as_of <= clock.now().date()
        self._hint(f"Plan #{plan.id} as of {plan.as_of}: {plan.total_due:,} row(s) due"
                   + (" · y applies it" if can_apply else ""))

    def _show_runs(self, rows: list[RunView]) -> None:
        tz = self.console.settings.ui.timezone
        table = self.query_one("#runs", DataTable)
        table.clear()
        for r in rows:
            style = {"done": "green", "drifted": "yellow", "failed": "red"}.get(r.state, "")
            table.add_row(str(r.id), str(r.plan_id), r.purpose,
                          local_time(r.started_at, tz, "%m-%d %H:%M"), Text(r.state, style=style),
                          f"{r.changed:,}", f"{r.kept:,}", f"{r.max_batch_ms:.1f}",
                          _size(r.bytes_freed), key=str(r.id))

    def _show_status(self, status: termination.Status) -> None:
        self.status = status
        line = Text(no_wrap=True, end="")
        if status.end_date is None:
            line.append("Agreement: no end date", style="dim")
        else:
            days = status.days_left or 0
            when = (f"in {days} days" if days > 0 else "today" if days == 0
                    else f"{-days} days ago")
            line.append(f"Agreement ends {status.end_date} ({when})", style="bold")
            line.append(f" · {status.phase}")
            if status.phase not in (termination.Phase.ACTIVE, termination.Phase.PURGED):
                line.append(" · t: next step", style="bold")
        self.query_one("#termination-line", Static).update(line)

    def _hint(self, message: str) -> None:
        self.query_one("#retention-hint", Static).update(literal(message))

    # -- tabs --------------------------------------------------------------------------------

    def action_tab(self, name: str) -> None:
        self.query_one(TabbedContent).active = TABS[name]
        self.query_one(f"#{name}", DataTable).focus()

    def _selected(self, name: str) -> str | None:
        table = self.query_one(f"#{name}", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return str(key.value) if key.value is not None else None

    # -- policies: inline edit -------------------------------------------------------------

    def action_edit(self) -> None:
        self.action_tab("policies")
        name = self._selected("policies")
        policy = self.policies.get(name or "")
        if policy is None:
            return
        self.editing = policy.category
        self.query_one("#edit-keep", Input).value = policy.keep
        self.query_one("#edit-action", Select).value = policy.action or "delete"
        self.query_one("#edit-enabled", Select).value = "on" if policy.enabled else "off"
        self.query_one("#edit-basis", Input).value = policy.basis
        self.query_one("#policy-edit").display = True
        self.query_one("#edit-keep", Input).focus()
        self._hint(f"Editing {policy.category}: enter saves, escape cancels")

    @on(Input.Submitted, "#edit-keep, #edit-basis")
    def _save_policy(self) -> None:
        if self.editing is None:
            return
        self.call(set_policy, self.editing, self.console.settings.retention,
                  keep=self.query_one("#edit-keep", Input).value,
                  action=str(self.query_one("#edit-action", Select).value),
                  enabled=self.query_one("#edit-enabled", Select).value == "on",
                  basis=self.query_one("#edit-basis", Input).value,
                  on_done=self._policy_saved, on_error=self._policy_refused, group="change")

    def _policy_saved(self, policy: Policy) -> None:
        self._close_edit()
        self.notify(f"{policy.category}: keep {policy.keep}, then {policy.action}")
        self.action_refresh()

    def _policy_refused(self, error: ConsoleError) -> None:
        """A refusal (policy, termination step): said on the hint line and notified."""
        self._hint(error.message)
        self.notify(error.message, severity="error")

    def _close_edit(self) -> None:
        self.editing = None
        self.query_one("#policy-edit").display = False
        self.query_one("#policies", DataTable).focus()
        self._hint("")

    def key_escape(self) -> None:
        if self.editing is not None:
            self._close_edit()

    # -- holds ------------------------------------------------------------------------------

    def action_add_hold(self) -> None:
        self.app.push_screen(HoldFormScreen(), self._hold_added)

    def _hold_added(self, hold: HoldView | None) -> None:
        if hold is not None:
            self.notify(f"Hold #{hold.id} placed: {hold.covers}")
            self.action_refresh()
            self.action_tab("holds")

    def action_release(self) -> None:
        self.action_tab("holds")
        hold = self.holds.get(self._selected("holds") or "")
        if hold is None or not hold.active:
            self.notify("Select an active hold to release.", severity="warning")
            return
        self.app.push_screen(ReasonScreen(
            f"Release hold #{hold.id} {hold.name!r}?",
            f"What it covers ({hold.covers}) may then be deleted or anonymized by the next "
            "retention run. The hold stays on record.", confirm_label="Release",
            fn=release_hold, target=hold.id), self._released)  # type: ignore[arg-type]

    def _released(self, reason: str | None) -> None:
        if reason is not None:
            self.notify("Hold released.")
            self.action_refresh()

    # -- preview and apply ----------------------------------------------------------------

    def action_preview(self) -> None:
        self._hint("Previewing…")
        self.call(preview, self.console.settings.retention, source="tui",
                  on_done=self._show_plan, group="preview")

    def action_apply(self) -> None:
        plan = self.plan
        if plan is None or not plan.total_due:
            self.notify("Preview first (n): there is no plan with rows due.",
                        severity="warning")
            return
        lines = ", ".join(f"{i.category} {i.due:,} {i.action}" for i in plan.items if i.due)
        self.app.push_screen(ConfirmScreen(
            f"Apply plan #{plan.id}?", f"This deletes or anonymizes, for good: {lines}. "
            "Held rows stay.", confirm_label="Apply"), self._apply_confirmed)

    def _apply_confirmed(self, confirmed: bool | None) -> None:
        if confirmed and self.plan is not None:
            self.call(jobs.start_run, "retention", {"plan": self.plan.id},
                      on_done=self._launch, group="change")

    def _launch(self, started: jobs.Started) -> None:
        run = started.run
        if started.claim is not None and self.console.principal is not None:
            self.console.local_jobs.launch(started.claim, self.console.principal,
                                           on_end=lambda _r: self.app.call_from_thread(
                                               self.action_refresh))
            self.notify(f"Retention run started (job #{run.id}); see the Runs tab.")
        else:
            self.notify(f"Retention run queued for the scheduler (job #{run.id}).")
        self.plan = None
        self._hint("")
        self.action_tab("runs")
        self.action_refresh()

    # -- termination -------------------------------------------------------------------------

    def action_terminate(self) -> None:
        status = self.status
        if status is None:
            return
        if status.phase == termination.Phase.EXPORT_DUE:
            self.app.push_screen(ConfirmScreen(
                "Termination: the handover export",
                "Exports all client data for handover and starts the grace window of "
                f"{status.grace_days} days.", confirm_label="Export",
                phrase=termination.EXPORT_PHRASE), self._export_confirmed)
        elif status.phase == termination.Phase.PURGE_DUE:
            kept = "; ".join(status.holds + status.legal_minimums) or "nothing"
            self.app.push_screen(ConfirmScreen(
                "Termination: purge all client data",
                f"Deletes the client's data for good, except what these keep: {kept}.",
                confirm_label="Purge", phrase=termination.PURGE_PHRASE), self._purge_confirmed)
        else:
            self.notify(f"Termination: {status.phase}; next: {status.next_step}")

    def _export_confirmed(self, confirmed: bool | None) -> None:
        if confirmed:
            self._hint("Producing the handover export…")
            self.call(termination.export_step, self.console.runtime,
                      confirm=termination.EXPORT_PHRASE, on_done=self._exported,
                      on_error=self._policy_refused, group="change")

    def _exported(self, status: termination.Status) -> None:
        self.notify(f"Handover export done: {status.export_reference}")
        self.action_refresh()

    def _purge_confirmed(self, confirmed: bool | None) -> None:
        if confirmed:
            self.call(termination.purge_plan, self.console.settings,
                      confirm=termination.PURGE_PHRASE, source="tui",
                      on_done=self._purge_planned, group="change")

    def _purge_planned(self, plan: PlanView) -> None:
        self._show_plan(plan)
        self.call(jobs.start_run, "retention", {"plan": plan.id}, on_done=self._launch,
                  group="change")


def _size(value: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1000  # type: ignore[assignment]
    return str(value)
