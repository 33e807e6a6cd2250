"""Set up TOTP: a QR code of the otpauth:// URI drawn in the terminal (and the key to type
by hand), confirmed by a first code. At login (required for vendors and some roles) or on
request from the command palette."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from console import account, mfa
from console.auth import Enrolment, PendingLogin
from console.display import literal, printable
from console.errors import ConsoleError
from screens.widgets.form import wrapped


class TotpEnrolScreen(ModalScreen[Any]):
    """At login (`pending` given) dismisses with the Principal; for the logged-in user with
    True. None when cancelled."""

    CSS_PATH = "totp_enrol.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="totp_enrol.cancel")]
    AUTO_FOCUS = "#code"

    def __init__(self, pending: PendingLogin | None = None) -> None:
        super().__init__()
        self.pending = pending

    @property
    def username(self) -> str:
        if self.pending is not None:
            return self.pending.username
        principal = self.app.principal  # type: ignore[attr-defined]
        return principal.name if principal else ""

    def compose(self) -> ComposeResult:
        with Horizontal(id="enrol-box"):
            yield Static("", id="qr")
            with Vertical(id="enrol-side"):
                yield Static(literal(f"Set up TOTP for {self.username}"), classes="form-title")
                yield Static(wrapped("Scan the code with an authenticator app (or type the "
                                     "key), then enter the 6 digits it shows."))
                yield Label("Key")
                yield Static("", id="secret")
                yield Static("", id="uri")
                yield Label("Code")
                yield Input(id="code", placeholder="123456", max_length=7,
                            restrict=r"[0-9 ]*", compact=True)
                yield Static("", id="enrol-error", classes="error-line")
                with Horizontal(classes="form-buttons"):
                    yield Button("Confirm", id="confirm", variant="primary", compact=True,
                                 disabled=True)
                    yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        self._show("Preparing…")
        if self.pending is not None:
            self._start_at_login()
        else:
            runtime = self.app.runtime  # type: ignore[attr-defined]
            self.app.run_service(self, account.enrol_totp,  # type: ignore[attr-defined]
                                 keys=runtime.keys, on_done=self._ready,
                                 on_error=lambda e: self._show(e.message), group="enrol")

    @work(thread=True, exclusive=True, exit_on_error=False, group="enrol")
    def _start_at_login(self) -> None:
        from console.auth import start_enrolment

        app = self.app
        runtime = app.runtime  # type: ignore[attr-defined]
        try:
            with runtime.database.scope() as db:
                enrolment = start_enrolment(db, runtime.keys, self.pending)  # type: ignore[arg-type]
        except ConsoleError as exc:
            app.call_from_thread(self._show, exc.message)
            return
        app.call_from_thread(self._ready, enrolment)

    def _ready(self, enrolment: Enrolment) -> None:
        self.query_one("#qr", Static).update(
            Text("\n".join(mfa.qr_lines(enrolment.uri)), no_wrap=True, end=""))
        self.query_one("#secret", Static).update(literal(mfa.grouped(enrolment.secret)))
        self.query_one("#uri", Static).update(Text(printable(enrolment.uri), end=""))
        self.query_one("#confirm", Button).disabled = False
        self._show("")

    @on(Input.Submitted, "#code")
    @on(Button.Pressed, "#confirm")
    def _submit(self) -> None:
        if self.query_one("#confirm", Button).disabled:
            return
        code = self.query_one("#code", Input).value.replace(" ", "")
        if len(code) != 6:
            self._show("Type the 6 digits your app shows.")
            return
        self.query_one("#confirm", Button).disabled = True
        self._show("Checking…")
        if self.pending is not None:
            self._finish_login(code)
            return
        runtime = self.app.runtime  # type: ignore[attr-defined]
        self.app.run_service(self, account.confirm_totp,  # type: ignore[attr-defined]
                             security=runtime.settings.security, keys=runtime.keys, code=code,
                             on_done=lambda _r: self.dismiss(True), on_error=self._failed,
                             group="enrol")

    @work(thread=True, exclusive=True, exit_on_error=False, group="enrol")
    def _finish_login(self, code: str) -> None:
        from console.auth import finish_login

        app = self.app
        runtime = app.runtime  # type: ignore[attr-defined]
        try:
            with runtime.database.scope() as db:
                principal = finish_login(runtime.database, db, runtime.settings.security,
                                         runtime.keys, self.pending,  # type: ignore[arg-type]
                                         code=code)
        except ConsoleError as exc:
            app.call_from_thread(self._failed, exc)
            return
        app.call_from_thread(self.dismiss, principal)

    def _failed(self, error: ConsoleError) -> None:
        self.query_one("#confirm", Button).disabled = False
        code = self.query_one("#code", Input)
        code.value = ""
        code.focus()
        self._show(error.message)

    def _show(self, message: str) -> None:
        self.query_one("#enrol-error", Static).update(wrapped(message))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
