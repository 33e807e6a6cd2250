"""The idle lock: after [security] idle_lock_minutes without input the console hides
everything and asks for the password again (and the TOTP code, if the account has one)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Center, Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, Input, Label, Static

from console import account
from console.display import literal
from console.errors import ConsoleError
from screens.widgets.form import wrapped
from screens.widgets.key_bar import KeyBar


class LockScreen(Screen[bool]):
    """Dismisses with True once unlocked. A failed unlock that locks the account ends the
    session (the app returns to the login screen)."""

    CSS_PATH = "lock.tcss"
    AUTO_FOCUS = "#lock-password"
    BINDINGS = [Binding("ctrl+l", "logout", "Log out", id="lock.logout")]

    def __init__(self, username: str, *, minutes: int | None) -> None:
        super().__init__()
        self.username = username
        self.minutes = minutes
        self.needs_code = False

    def compose(self) -> ComposeResult:
        why = (f"after {self.minutes} minute(s) without input" if self.minutes
               else "on request")
        with Center(), Vertical(id="lock-box"):
            yield Static("FlowPro Console is locked", id="lock-title")
            yield Static(wrapped(f"Locked {why}. Enter the password of {self.username} to "
                                 "continue, or log out."))
            yield Label(literal(f"Password for {self.username}"))
            yield Input(id="lock-password", password=True, max_length=1024, compact=True)
            yield Label("TOTP code", id="lock-code-label")
            yield Input(id="lock-code", max_length=7, restrict=r"[0-9 ]*", compact=True,
                        placeholder="123456")
            with Horizontal(classes="form-buttons"):
                yield Button("Unlock", id="unlock", variant="primary", compact=True)
                yield Button("Log out", id="logout", compact=True)
            yield Static("", id="lock-error", classes="error-line")
        yield KeyBar()

    def on_mount(self) -> None:
        self._set_code_visible(False)
        self.app.run_service(self, lambda db, actor: account.uses_totp(db, actor),  # type: ignore[attr-defined]
                             on_done=self._set_code_visible, group="lock-info")

    def _set_code_visible(self, visible: bool) -> None:
        if not self.is_mounted:  # the session ended while the answer was on its way
            return
        self.needs_code = visible
        self.query_one("#lock-code-label").display = visible
        self.query_one("#lock-code").display = visible

    @on(Input.Submitted)
    @on(Button.Pressed, "#unlock")
    def _submit(self, event: Input.Submitted | Button.Pressed) -> None:
        if isinstance(event, Input.Submitted) and event.input.id == "lock-password" \
                and self.needs_code:
            self.query_one("#lock-code", Input).focus()
            return
        password = self.query_one("#lock-password", Input).value
        code = self.query_one("#lock-code", Input).value.replace(" ", "") or None
        if not password or (self.needs_code and not code):
            self._show("Enter the password" + (" and the code." if self.needs_code else "."))
            return
        self.query_one("#unlock", Button).disabled = True
        self._show("Checking…")
        runtime = self.app.runtime  # type: ignore[attr-defined]
        self.app.run_service(self, account.unlock_session,  # type: ignore[attr-defined]
                             security=runtime.settings.security, keys=runtime.keys,
                             password=password, code=code, on_done=self._unlocked,
                             on_error=self._failed, group="unlock")

    def _unlocked(self, _result: object) -> None:
        self.dismiss(True)

    def _failed(self, error: ConsoleError) -> None:
        self.query_one("#unlock", Button).disabled = False
        for selector in ("#lock-password", "#lock-code"):
            self.query_one(selector, Input).value = ""
        self.query_one("#lock-password", Input).focus()
        self._show(error.message)

    def _show(self, message: str) -> None:
        self.query_one("#lock-error", Static).update(wrapped(message))

    @on(Button.Pressed, "#logout")
    def action_logout(self) -> None:
        self.app.action_logout()  # type: ignore[attr-defined]
