"""The second login step: the 6-digit code from the authenticator app."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from console.auth import PendingLogin
from console.display import literal
from console.errors import ConsoleError
from console.principal import Principal
from screens.widgets.form import wrapped


class TotpPromptScreen(ModalScreen[Principal | None]):
    """Dismisses with the logged-in Principal, or None when cancelled."""

    CSS_PATH = "totp_prompt.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="totp.cancel")]
    AUTO_FOCUS = "#code"

    def __init__(self, pending: PendingLogin) -> None:
        super().__init__()
        self.pending = pending

    def compose(self) -> ComposeResult:
        with Vertical(id="totp-box"):
            yield Static(literal(f"Two-factor sign-in for {self.pending.username}"),
                         classes="form-title")
            yield Label("Code from your authenticator app")
            yield Input(id="code", placeholder="123456", max_length=7, restrict=r"[0-9 ]*",
                        compact=True)
            yield Static("", id="totp-error", classes="error-line")
            with Horizontal(classes="form-buttons"):
                yield Button("Verify", id="verify", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    @on(Input.Submitted, "#code")
    @on(Button.Pressed, "#verify")
    def _submit(self) -> None:
        code = self.query_one("#code", Input).value.replace(" ", "")
        if len(code) != 6:
            self._show("Type the 6 digits your app shows.")
            return
        self.query_one("#verify", Button).disabled = True
        self._show("Checking…")
        self._verify(code)

    @work(thread=True, exclusive=True, exit_on_error=False, group="totp")
    def _verify(self, code: str) -> None:
        from console.auth import finish_login

        app = self.app
        runtime = app.runtime  # type: ignore[attr-defined]
        try:
            with runtime.database.scope() as db:
                principal = finish_login(runtime.database, db, runtime.settings.security,
                                         runtime.keys, self.pending, code=code)
        except ConsoleError as exc:
            app.call_from_thread(self._failed, exc.message)
            return
        app.call_from_thread(self.dismiss, principal)

    def _failed(self, message: str) -> None:
        self.query_one("#verify", Button).disabled = False
        code = self.query_one("#code", Input)
        code.value = ""
        code.focus()
        self._show(message)

    def _show(self, message: str) -> None:
        self.query_one("#totp-error", Static).update(wrapped(message))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
