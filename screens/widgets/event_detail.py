"""One audit event in full: every field, details as pretty JSON, the chain hashes."""

from __future__ import annotations

import json

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from console.display import printable
from models.audit import AuditEvent


class EventDetailScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    EventDetailScreen { align: center middle; }
    EventDetailScreen > VerticalScroll {
        width: 90%; height: 90%; border: round $primary; background: $surface; padding: 0 1;
    }
    """
    BINDINGS = [Binding("escape,q,enter", "dismiss", "Close", id="event.close")]

    def __init__(self, event: AuditEvent, details: dict[str, object]) -> None:
        super().__init__()
        self.event = event
        self.details = details

    def compose(self) -> ComposeResult:
        e = self.event
        text = Text(end="")
        rows = [("id", e.id), ("time (UTC)", e.at.isoformat(timespec="seconds")),
                ("actor", f"{e.actor} ({e.actor_kind})"), ("session", e.session_id or ""),
                ("source", e.source or ""), ("action", e.action), ("target", e.target),
                ("outcome", e.outcome), ("hash", e.hash), ("previous", e.prev_hash)]
        for label, value in rows:
            text.append(f"{label:>11}  ", style="bold")
            text.append(printable(value) + "\n")
        text.append("\n    details\n", style="bold")
        pretty = json.dumps(self.details, indent=2, ensure_ascii=False, default=str)
        for line in pretty.splitlines():
            text.append("  " + printable(line) + "\n")
        with VerticalScroll():
            yield Static(text, markup=False)
