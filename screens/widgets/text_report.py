"""A modal that shows lines of text literally (a verification report, a request's
details), scrolling when long."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from console.display import printable


class TextReportScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    TextReportScreen { align: center middle; }
    TextReportScreen > Vertical {
        width: 78; max-width: 100%; height: auto; max-height: 100%;
        border: thick $accent; padding: 0 1; background: $surface;
    }
    TextReportScreen #report-title { text-style: bold; }
    TextReportScreen VerticalScroll { height: auto; max-height: 18; }
    TextReportScreen #report-hint { color: $foreground-muted; }
    """
    BINDINGS = [Binding("escape,q", "close", "Close", id="report.close")]

    def __init__(self, title: str, lines: list[str], *, style: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.lines = lines
        self.style = style

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(printable(self.title_text), style=self.style), id="report-title")
            with VerticalScroll():
                # Wrapped, never markup: every line is shown exactly as it is.
                yield Static(Text("\n".join(printable(line) for line in self.lines)),
                             markup=False)
            yield Static("escape: close", id="report-hint")

    def action_close(self) -> None:
        self.dismiss(None)
