"""One job run in full: parameters, progress, owner, result, error, checkpoint."""

from __future__ import annotations

import json

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from console.display import local_time, printable
from console.jobs import RunView, summary
from screens.widgets.job_progress import duration, progress_bar, rate_text


class RunDetailScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    RunDetailScreen { align: center middle; }
    RunDetailScreen > Vertical {
        width: 78; max-width: 100%; height: auto; max-height: 100%;
        border: thick $accent; padding: 0 1; background: $surface;
    }
    RunDetailScreen #detail-title { text-style: bold; }
    RunDetailScreen VerticalScroll { height: auto; max-height: 18; }
    RunDetailScreen #detail-hint { color: $foreground-muted; }
    """
    BINDINGS = [Binding("escape,q", "close", "Close", id="jobs.detail.close")]

    def __init__(self, run: RunView, timezone: str = "local") -> None:
        super().__init__()
        self.run = run
        self.timezone = timezone

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(printable(f"Run #{self.run.id}: {self.run.title}")),
                         id="detail-title")
            with VerticalScroll():
                yield Static(self._body(), markup=False)
            yield Static("escape: close", id="detail-hint")

    def _body(self) -> Text:
        r, tz = self.run, self.timezone
        fmt = "%Y-%m-%d %H:%M:%S"
        progress = f"{r.done:,}" + (f" of {r.total:,}" if r.total is not None else "")
        rows = [
            ("Kind", r.kind),
            ("State", r.state.value + (" (cancel requested)" if r.cancel_requested
                                       and r.state == "running" else "")),
            ("Progress", progress),
            ("Rate / ETA", f"{rate_text(r.rate)} {duration(r.eta_seconds)}".strip()),
            ("Message", r.message),
            ("Parameters", json.dumps(r.params, sort_keys=True)),
            ("Started by", r.started_by + (f" (schedule {r.schedule})" if r.schedule else "")),
            ("Runs in", "the scheduler" if r.executor == "scheduler" else
             "the console or `jobs run` that started it"),
            ("Owner", r.owner),
            ("Created", local_time(r.created_at, tz, fmt)),
            ("Started", local_time(r.started_at, tz, fmt)),
            ("Ended", local_time(r.ended_at, tz, fmt)),
            ("Heartbeat", local_time(r.heartbeat_at, tz, fmt)),
            ("Took", duration(r.elapsed_seconds)),
            ("Attempts", f"{r.attempts} (found dead {r.interruptions}x)"),
            ("Stop reason", r.stop_reason),
            ("Error", r.error),
            ("Result", summary(r.result, limit=2000)),
            ("Checkpoint", json.dumps(r.checkpoint, sort_keys=True) if r.checkpoint else ""),
        ]
        text = Text(end="")
        text.append_text(progress_bar(r.fraction, 30))
        text.append("\n")
        for label, value in rows:
            if value:
                text.append(f"{label:<12}", style="bold")
                text.append(printable(value) + "\n")
        return text

    def action_close(self) -> None:
        self.dismiss(None)
