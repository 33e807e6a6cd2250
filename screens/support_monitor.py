"""The live support monitor: support sessions open now and what the engineers do in them,
as it happens, with a key to revoke the grant on the spot."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Log, Static

from console.display import literal, local_time, printable
from console.support_sessions import FeedItem, LiveSession, feed, live_sessions
from screens.base import AreaScreen
from screens.widgets.support_banner import countdown

POLL_SECONDS = 1.0


class SupportMonitorScreen(AreaScreen):
    AREA = "support"
    CSS_PATH = "support_monitor.tcss"
    BINDINGS = [
        Binding("escape,b", "back", "Back", id="support-monitor.back"),
        Binding("r", "revoke", "Revoke grant", id="support-monitor.revoke"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.sessions: dict[str, LiveSession] = {}
        self.last_event = 0
        self.feed_lines = 0

    def compose_body(self) -> ComposeResult:
        yield Static("Support sessions now", classes="section-title")
        yield DataTable(id="live-sessions", cursor_type="row")
        yield Static("What they do (live)", classes="section-title")
        yield Log(id="live-feed", max_lines=2000, auto_scroll=True)

    def on_mount(self) -> None:
        table = self.query_one("#live-sessions", DataTable)
        for label, key in (("Engineer", "engineer"), ("Grant", "grant"), ("Scope", "scope"),
                           ("From", "source"), ("Since", "since"), ("Left", "left")):
            table.add_column(label, key=key)
        self.set_interval(POLL_SECONDS, self.poll)
        self.poll()

    def poll(self) -> None:
        self.call(live_sessions, on_done=self._sessions, group="monitor-sessions")
        self.call(feed, after_id=self.last_event, on_done=self._feed, group="monitor-feed")

    def _sessions(self, sessions: list[LiveSession]) -> None:
        from console import clock

        tz = self.console.settings.ui.timezone
        table = self.query_one("#live-sessions", DataTable)
        selected = None
        if table.row_count:
            selected = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        self.sessions = {s.id: s for s in sessions}
        table.clear()
        for s in sessions:
            left = (s.grant_ends_at - clock.now()).total_seconds()
            state = (f"ended: {s.end_reason}" if s.ended_at else
                     countdown(left) if left > 0 else "ending")
            table.add_row(literal(s.engineer), f"#{s.grant_id}", literal(",".join(s.scope)),
                          literal(s.source or "local"), local_time(s.started_at, tz, "%H:%M:%S"),
                          literal(state, max_len=40), key=s.id)
        if selected in self.sessions:
            table.move_cursor(row=table.get_row_index(selected))
        if not sessions:
            table.add_row("nobody", "", "", "", "", "", key="-")
        self.refresh_bindings()

    def _feed(self, items: list[FeedItem]) -> None:
        if not items:
            return
        tz = self.console.settings.ui.timezone
        log = self.query_one("#live-feed", Log)
        for item in items:
            flag = "" if item.outcome == "ok" else f" [{item.outcome}]"
            log.write_line(printable(f"{local_time(item.at, tz, '%H:%M:%S')} {item.engineer}: "
                                     f"{item.text}{flag}"))
        self.last_event = max(self.last_event, items[-1].id)

    def _selected(self) -> LiveSession | None:
        table = self.query_one("#live-sessions", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.sessions.get(key or "")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "revoke":
            selected = self._selected()
            return selected is not None and selected.ended_at is None
        return True

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_revoke(self) -> None:
        from screens.support import revoke

        session = self._selected()
        if session is None or session.ended_at is not None:
            self.notify("Select an open support session first.", severity="warning")
            return
        revoke(self, session.grant_id, session.engineer,
               on_done=lambda _: self.notify(f"Revoked grant #{session.grant_id}: the "
                                             "session closes within a second."))
