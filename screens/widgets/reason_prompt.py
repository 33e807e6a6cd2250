"""Asking for the reason of a decision (deny a request, revoke a grant) before it is made;
the reason is required and checked as the user types."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from console.display import literal
from console.errors import ValidationError
from console.support_rules import check_text


class ReasonPrompt(ModalScreen[str | None]):
    """Dismisses with the reason, or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="reason.cancel")]
    DEFAULT_CSS = """
    ReasonPrompt { align: center middle; }
    ReasonPrompt > Vertical {
        width: 70; max-width: 100%; height: auto; border: thick $warning; padding: 0 1;
        background: $surface;
    }
    ReasonPrompt #reason-title { text-style: bold; margin-bottom: 1; }
    ReasonPrompt #reason-error { color: $error; height: 1; }
    ReasonPrompt Horizontal { height: 1; margin-top: 1; }
    ReasonPrompt Button { margin-right: 2; }
    """

    def __init__(self, title: str, message: str, *, action_label: str) -> None:
        super().__init__()
        self.title_text = title
        self.message = message
        self.action_label = action_label

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(literal(self.title_text), id="reason-title")
            yield Static(literal(self.message))
            yield Input(id="reason", placeholder="reason (required)", max_length=500,
                        compact=True)
            yield Static("", id="reason-error")
            with Horizontal():
                yield Button(self.action_label, id="go", variant="warning", compact=True,
                             disabled=True)
                yield Button("Cancel", id="cancel", compact=True)

    def _valid(self) -> str | None:
        try:
            reason = check_text("reason", self.query_one("#reason", Input).value)
        except ValidationError as exc:
            self.query_one("#reason-error", Static).update(literal(exc.message))
            return None
        self.query_one("#reason-error", Static).update("")
        return reason

    @on(Input.Changed, "#reason")
    def _changed(self) -> None:
        self.query_one("#go", Button).disabled = self._valid() is None

    @on(Input.Submitted, "#reason")
    @on(Button.Pressed, "#go")
    def _go(self) -> None:
        reason = self._valid()
        if reason is not None:
            self.dismiss(reason)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
