"""The dashboard: the data under governance, recent activity, who is logged in."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from console import clock, dashboard
from console.display import literal, local_time
from console.retention import termination
from screens.base import AreaScreen
from screens.widgets.support_banner import countdown


class DashboardScreen(AreaScreen):
    AREA = "dashboard"
    CSS_PATH = "dashboard.tcss"
    BINDINGS = [Binding("f5,R", "refresh", "Refresh", id="dashboard.refresh")]

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="dashboard-body"):
            yield Static("", id="agreement")
            yield Static("FlowPro support access now", classes="section-title",
                         id="support-title")
            yield DataTable(id="support-access", cursor_type="row")
            yield Static("", id="support-none", classes="hint")
            yield Static("Data-subject requests due", classes="section-title",
                         id="requests-title")
            yield DataTable(id="requests-due", cursor_type="row")
            yield Static("Data under governance", classes="section-title")
            yield DataTable(id="categories", cursor_type="row", zebra_stripes=True)
            yield Static("Recent audit events", classes="section-title", id="events-title")
            yield DataTable(id="events", cursor_type="row")
            yield Static("Logged in now", classes="section-title", id="sessions-title")
            yield DataTable(id="sessions", cursor_type="row")

    def on_mount(self) -> None:
        self.query_one("#categories", DataTable).add_columns(
            "Category", "Owner", "Rows", "Oldest", "Newest")
        self.query_one("#events", DataTable).add_columns(
            "Time", "Actor", "Action", "Target", "Outcome")
        self.query_one("#sessions", DataTable).add_columns(
            "User", "Channel", "From", "Since")
        self.query_one("#requests-due", DataTable).add_columns(
            "#", "Kind", "Person", "Due", "")
        support = self.query_one("#support-access", DataTable)
        for label, key in (("Engineer", "engineer"), ("Scope", "scope"), ("Until", "until"),
                           ("Left", "left"), ("Grant", "grant")):
            support.add_column(label, key=key)
        self.support_until: dict[str, object] = {}
        self.set_interval(1.0, self._countdown)
        self._agreement()
        self.action_refresh()

    def action_refresh(self) -> None:
        self.call(dashboard.overview, on_done=self._show,
                  due_soon_days=self.console.settings.requests.due_soon_days)

    def _show(self, data: dashboard.Overview) -> None:
        tz = self.console.settings.ui.timezone
        self._show_support(data, tz)
        self._show_requests(data)
        table = self.query_one("#categories", DataTable)
        table.clear()
        for c in data.categories:
            table.add_row(literal(c.title), c.owner, f"{c.rows:,}", _when(c.oldest, tz),
                          _when(c.newest, tz), key=c.name)
        events = self.query_one("#events", DataTable)
        events.clear()
        for e in data.recent_events:
            events.add_row(local_time(e.at, tz, "%m-%d %H:%M:%S"), literal(e.actor, max_len=24),
                           literal(e.action), literal(e.target, max_len=30), e.outcome)
        sessions = self.query_one("#sessions", DataTable)
        sessions.clear()
        for s in data.sessions:
            sessions.add_row(literal(s.principal), s.channel, literal(s.source or "local"),
                             local_time(s.started_at, tz))
        principal = self.console.principal
        for part in ("events", "sessions"):
            visible = bool(principal) and (
                bool(data.recent_events) if part == "events" else bool(data.sessions))
            self.query_one(f"#{part}-title").display = visible
            self.query_one(f"#{part}").display = visible


    def _show_requests(self, data: dashboard.Overview) -> None:
        """Overdue first, then due soon; the section hides when nothing is due."""
        table = self.query_one("#requests-due", DataTable)
        table.clear()
        due = data.requests
        rows = [*due.overdue, *due.due_soon] if due else []
        for r in rows:
            when = (Text(f"OVERDUE {-r.days_left}d", style="bold reverse") if r.overdue
                    else Text("today" if r.days_left == 0 else f"in {r.days_left}d",
                              style="bold"))
            table.add_row(f"#{r.id}", r.kind, literal(r.subject), str(r.due_on), when,
                          key=f"request:{r.id}")
        self.query_one("#requests-title").display = bool(rows)
        table.display = bool(rows)

    def _show_support(self, data: dashboard.Overview, tz: str) -> None:
        table = self.query_one("#support-access", DataTable)
        table.clear()
        self.support_until = {}
        for g in data.support_access or []:
            key = f"grant:{g.id}"
            self.support_until[key] = g.ends_at
            table.add_row(literal(g.engineer), literal(",".join(g.scope)),
                          local_time(g.ends_at, tz, "%m-%d %H:%M"), countdown(
                              (g.ends_at - clock.now()).total_seconds()), f"#{g.id}", key=key)
        shown = data.support_access is not None
        self.query_one("#support-title").display = shown
        table.display = bool(data.support_access)
        none = self.query_one("#support-none", Static)
        none.display = shown and not data.support_access
        none.update("Nobody from FlowPro has access right now.")

    def _agreement(self) -> None:
        """The service agreement's end: days left, or the termination workflow's cue."""
        line = self.query_one("#agreement", Static)
        days = termination.countdown(self.console.settings)
        line.display = days is not None
        if days is None:
            return
        end = self.console.settings.agreement.end_date
        if days > 0:
            text = f"Service agreement ends {end}: {days} day{'s' if days != 1 else ''} left"
        else:
            since = "today" if days == 0 else f"{-days} day{'s' if days != -1 else ''} ago"
            text = (f"Service agreement ended {end} ({since}): termination mode — "
                    "Retention area, key t, or `flowpro-console termination status`")
        line.update(literal(text))
        line.set_class(days <= 30, "warning-line")

    def _countdown(self) -> None:
        table = self.query_one("#support-access", DataTable)
        for key, until in self.support_until.items():
            left = (until - clock.now()).total_seconds()  # type: ignore[operator]
            if left <= 0:
                self.action_refresh()
                return
            table.update_cell(key, "left", countdown(left))


def _when(value: object, tz: str) -> str:
    from datetime import datetime

    if value is None:
        return ""
    if isinstance(value, datetime):
        return local_time(value, tz, "%Y-%m-%d")
    return str(value)
