"""A confirmation dialog for privileged actions, optionally with a phrase to type."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from console.display import literal


class ConfirmScreen(ModalScreen[bool]):
    """Dismisses with True only when confirmed (and the phrase, if any, typed exactly)."""

    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical {
        width: 70; max-width: 100%; height: auto; border: thick $warning; padding: 1 2;
        background: $surface;
    }
    ConfirmScreen #confirm-title { text-style: bold; margin-bottom: 1; }
    ConfirmScreen Horizontal { height: auto; margin-top: 1; }
    ConfirmScreen Button { margin-right: 2; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="confirm.cancel")]

    def __init__(self, title: str, message: str, *, confirm_label: str = "Confirm",
                 phrase: str | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.message = message
        self.confirm_label = confirm_label
        self.phrase = phrase

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(literal(self.title_text), id="confirm-title")
            yield Static(literal(self.message))
            if self.phrase:
                yield Static(literal(f"Type {self.phrase!r} to confirm:"))
                yield Input(id="phrase", placeholder=self.phrase)
            with Horizontal():
                yield Button(self.confirm_label, id="confirm", variant="warning",
                             disabled=bool(self.phrase))
                yield Button("Cancel", id="cancel")

    @on(Input.Changed, "#phrase")
    def _phrase_changed(self, event: Input.Changed) -> None:
        self.query_one("#confirm", Button).disabled = event.value != self.phrase

    @on(Input.Submitted, "#phrase")
    def _phrase_submitted(self, event: Input.Submitted) -> None:
        if event.value == self.phrase:
            self.dismiss(True)

    @on(Button.Pressed, "#confirm")
    def _confirm(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)
