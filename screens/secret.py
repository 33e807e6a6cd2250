"""Show a one-time secret (a temporary password) once; it is never shown again."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from console.display import literal
from screens.widgets.form import wrapped


class SecretScreen(ModalScreen[None]):
    CSS_PATH = "secret.tcss"
    BINDINGS = [Binding("escape", "done", "Done", id="secret.done")]

    def __init__(self, title: str, secret: str, note: str) -> None:
        super().__init__()
        self.title_text = title
        self.secret = secret
        self.note = note

    def compose(self) -> ComposeResult:
        with Vertical(id="secret-box"):
            yield Static(literal(self.title_text), classes="form-title")
            yield Static(literal(self.secret), id="secret-value")
            yield Static(wrapped(self.note), classes="hint")
            yield Button("Done", id="done", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one("#done", Button).focus()

    def on_button_pressed(self) -> None:
        self.action_done()

    def action_done(self) -> None:
        self.dismiss(None)
