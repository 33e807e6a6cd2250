"""Asks how to open an encrypted bundle: an age identity file, or its passphrase."""

from __future__ import annotations

from dataclasses import dataclass, field

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from console.display import literal


@dataclass(frozen=True)
class Opening:
    identity: str = ""
    passphrase: str | None = field(default=None, repr=False)


class OpenBundleScreen(ModalScreen[Opening | None]):
    DEFAULT_CSS = """
    OpenBundleScreen { align: center middle; }
    OpenBundleScreen > Vertical {
        width: 70; max-width: 100%; height: auto; border: round $primary; padding: 0 1;
        background: $surface;
    }
    OpenBundleScreen #open-title { text-style: bold; color: $accent; }
    OpenBundleScreen Input { margin-bottom: 1; }
    OpenBundleScreen Horizontal { height: 1; }
    OpenBundleScreen Button { margin-right: 2; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="open_bundle.cancel")]

    def __init__(self, title: str, protection: str) -> None:
        super().__init__()
        self.title_text = title
        self.protection = protection

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(literal(self.title_text), id="open-title")
            if self.protection == "recipients":
                yield Label("age identity file (age-keygen output) on this server")
                yield Input(placeholder="/path/to/key.txt", id="identity", compact=True)
            elif self.protection == "passphrase":
                yield Label("Passphrase")
                yield Input(password=True, id="passphrase", compact=True)
            else:
                yield Static("The bundle is not encrypted.")
            with Horizontal():
                yield Button("Verify", id="go", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        inputs = self.query(Input)
        (inputs.first() if inputs else self.query_one("#go", Button)).focus()

    @on(Button.Pressed, "#go")
    @on(Input.Submitted)
    def _go(self) -> None:
        identity = self.query("#identity")
        passphrase = self.query("#passphrase")
        self.dismiss(Opening(identity.first(Input).value.strip() if identity else "",
                             passphrase.first(Input).value if passphrase else None))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
