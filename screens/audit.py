"""The audit trail: browse, filter, open an event, verify the chain, sign a checkpoint."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.command import Hit, Hits, Provider
from textual.containers import Horizontal
from textual.widgets import DataTable, Input, Select, Static

from console import audit
from console.display import literal, local_time
from models.audit import AuditEvent
from screens.base import AreaScreen
from screens.widgets.event_detail import EventDetailScreen

PAGE = 200
OUTCOMES = [("any outcome", ""), ("ok", "ok"), ("denied", "denied"), ("error", "error")]


class AuditCommands(Provider):
    async def search(self, query: str) -> Hits:
        screen = self.screen
        assert isinstance(screen, AuditScreen)
        matcher = self.matcher(query)
        for label, action, help_text in (
                ("Verify the audit chain", screen.action_verify, "walk every hash and signature"),
                ("Sign a checkpoint now", screen.action_checkpoint, "attest the current head"),
                ("Load older events", screen.action_more, "next page back in time")):
            score = matcher.match(label)
            if score > 0:
                yield Hit(score, matcher.highlight(label), action, help=help_text)


class AuditScreen(AreaScreen):
    AREA = "audit"
    CSS_PATH = "audit.tcss"
    COMMANDS = {AuditCommands}
    BINDINGS = [
        Binding("v", "verify", "Verify", id="audit.verify"),
        Binding("c", "checkpoint", "Checkpoint", id="audit.checkpoint"),
        Binding("m", "more", "Older", id="audit.more"),
        Binding("slash", "focus_filter", "Filter", id="audit.filter"),
        Binding("f5,R", "reload", "Reload", id="audit.reload"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.events: dict[int, AuditEvent] = {}
        self.oldest_id: int | None = None

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="audit-filters"):
            yield Input(placeholder="actor", id="f-actor")
            yield Input(placeholder="action prefix, e.g. users.", id="f-action")
            yield Input(placeholder="target, e.g. user:alice", id="f-target")
            yield Select(OUTCOMES, value="", allow_blank=False, id="f-outcome")
        yield DataTable(id="audit-events", cursor_type="row", zebra_stripes=True)
        yield Static("", id="audit-status", classes="hint")

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("Id", "Time", "Actor", "Action", "Target",
                                              "Outcome")
        self.action_reload()

    def _filters(self) -> dict[str, str | None]:
        return {"actor_name": self.query_one("#f-actor", Input).value.strip() or None,
                "action_prefix": self.query_one("#f-action", Input).value.strip() or None,
                "target": self.query_one("#f-target", Input).value.strip() or None,
                "outcome": str(self.query_one("#f-outcome", Select).value or "") or None}

    def action_reload(self) -> None:
        self.events.clear()
        self.oldest_id = None
        self.query_one(DataTable).clear()
        self.call(audit.recent, limit=PAGE, **self._filters(), on_done=self._add_page)

    def action_more(self) -> None:
        if self.oldest_id is None:
            return
        self.call(audit.recent, limit=PAGE, before_id=self.oldest_id, **self._filters(),
                  on_done=self._add_page)

    def _add_page(self, events: list[AuditEvent]) -> None:
        table = self.query_one(DataTable)
        tz = self.console.settings.ui.timezone
        for e in events:
            if e.id is None or e.id in self.events:
                continue
            self.events[e.id] = e
            table.add_row(str(e.id), local_time(e.at, tz, "%Y-%m-%d %H:%M:%S"),
                          literal(e.actor, max_len=20), literal(e.action),
                          literal(e.target, max_len=28), literal(e.outcome,
                                                                 style=_outcome_style(e)),
                          key=str(e.id))
        if events:
            self.oldest_id = min(e.id for e in events if e.id is not None)
        more = "  m: older" if len(events) == PAGE else "  (start of trail)"
        self._status(f"{len(self.events)} event(s) shown{more}")

    @on(Input.Submitted)
    @on(Select.Changed)
    def _filter_changed(self) -> None:
        self.action_reload()
        self.query_one(DataTable).focus()

    @on(DataTable.RowSelected)
    def _open(self, event: DataTable.RowSelected) -> None:
        audit_event = self.events.get(int(str(event.row_key.value)))
        if audit_event is not None:
            self.app.push_screen(EventDetailScreen(audit_event, audit.details_of(audit_event)))

    def action_focus_filter(self) -> None:
        self.query_one("#f-actor", Input).focus()

    def action_verify(self) -> None:
        self._status("Verifying the chain…")
        self.call(audit.verify, self.console.runtime.keys, on_done=self._verified,
                  group="verify")

    def _verified(self, report: audit.VerifyReport) -> None:
        self._status(report.summary())
        self.notify(report.summary(), severity="information" if report.ok else "error",
                    timeout=10, markup=False)

    def action_checkpoint(self) -> None:
        self.call(audit.checkpoint, self.console.runtime.keys, on_done=self._checkpointed,
                  group="verify")

    def _checkpointed(self, cp: object) -> None:
        message = (f"Signed checkpoint at event {cp.last_event_id}." if cp is not None
                   else "Nothing new to sign.")
        self.notify(message, markup=False)
        self.action_reload()

    def _status(self, text: str) -> None:
        self.query_one("#audit-status", Static).update(literal(text))


def _outcome_style(event: AuditEvent) -> str:
    return {"denied": "bold", "error": "bold reverse"}.get(event.outcome, "")
