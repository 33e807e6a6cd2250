"""The dashboard: the data under governance, recent activity, who is logged in."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from console import dashboard
from console.display import literal, local_time
from screens.base import AreaScreen


class DashboardScreen(AreaScreen):
    AREA = "dashboard"
    CSS_PATH = "dashboard.tcss"
    BINDINGS = [Binding("f5,R", "refresh", "Refresh", id="dashboard.refresh")]

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="dashboard-body"):
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
        self.action_refresh()

    def action_refresh(self) -> None:
        self.call(dashboard.overview, on_done=self._show)

    def _show(self, data: dashboard.Overview) -> None:
        tz = self.console.settings.ui.timezone
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


def _when(value: object, tz: str) -> str:
    from datetime import datetime

    if value is None:
        return ""
    if isinstance(value, datetime):
        return local_time(value, tz, "%Y-%m-%d")
    return str(value)
