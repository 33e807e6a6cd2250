"""Dialogs of the log browser: one entry in full, pick from a list, type a value."""

from __future__ import annotations

import json

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, SelectionList, Static

from console.display import literal, printable


def literal_block(value: str) -> Text:
    """Several lines shown exactly: each line's control characters escaped, no markup."""
    return Text("\n".join(printable(line) for line in value.split("\n")), no_wrap=False)


class DetailScreen(ModalScreen[None]):
    """Every field of one entry, its extra fields as pretty JSON, and the raw text."""

    DEFAULT_CSS = """
    DetailScreen { align: center middle; }
    DetailScreen > Vertical { width: 100%; height: 100%; border: thick $accent;
        background: $surface; padding: 0 1; }
    DetailScreen #detail-body { height: 1fr; }
    DetailScreen Static { height: auto; }
    DetailScreen .section-title { margin-top: 0; }
    """
    BINDINGS = [Binding("escape,q", "dismiss_detail", "Close", id="logs.detail_close")]

    def __init__(self, fields: dict[str, object], raw: str) -> None:
        super().__init__()
        self.fields = fields
        self.raw = raw

    def compose(self) -> ComposeResult:
        with Vertical():
            with VerticalScroll(id="detail-body"):
                yield Static("Fields", classes="section-title")
                pretty = json.dumps(self.fields, indent=2, ensure_ascii=False, default=str)
                yield Static(literal_block(pretty), id="detail-fields")
                yield Static("Raw", classes="section-title")
                yield Static(literal_block(self.raw), id="detail-raw")
            yield Static("esc closes", classes="hint")

    def action_dismiss_detail(self) -> None:
        self.dismiss(None)


class PickScreen(ModalScreen[list[str] | None]):
    """Choose some of `options` (space toggles, enter applies; none chosen = all)."""

    DEFAULT_CSS = """
    PickScreen { align: center middle; }
    PickScreen > Vertical { width: 50; max-width: 100%; height: auto; max-height: 90%;
        border: thick $accent; background: $surface; padding: 0 1; }
    PickScreen SelectionList { height: auto; max-height: 16; }
    PickScreen Horizontal { height: auto; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="logs.pick_cancel"),
                Binding("enter", "apply", "Apply", id="logs.pick_apply", priority=True)]

    def __init__(self, title: str, options: list[tuple[str, str]], chosen: set[str]) -> None:
        super().__init__()
        self.title_text = title
        self.options = options
        self.chosen = chosen

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(literal(self.title_text), classes="section-title")
            yield SelectionList[str](*[(literal(label), value, value in self.chosen)
                                       for label, value in self.options], id="pick")
            yield Static("space toggles · enter applies · none = all", classes="hint")
            with Horizontal():
                yield Button("Apply", id="apply", variant="primary")
                yield Button("Cancel", id="cancel")

    @on(Button.Pressed, "#apply")
    def action_apply(self) -> None:
        self.dismiss(list(self.query_one(SelectionList).selected))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class AskScreen(ModalScreen[str | None]):
    """One line of input (a search, a time, a regex, a path)."""

    DEFAULT_CSS = """
    AskScreen { align: center bottom; }
    AskScreen > Vertical { width: 100%; height: auto; border: tall $accent;
        background: $surface; padding: 0 1; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="logs.ask_cancel")]

    def __init__(self, prompt: str, value: str = "", placeholder: str = "") -> None:
        super().__init__()
        self.prompt = prompt
        self.value = value
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(literal(self.prompt))
            yield Input(value=self.value, placeholder=self.placeholder, id="ask")

    @on(Input.Submitted, "#ask")
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
