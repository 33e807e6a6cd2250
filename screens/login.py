"""Log in: username and password, the same answer for every failure; then the TOTP code
(or a first TOTP enrolment) when the account needs one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Center, Vertical
from textual.screen import Screen
from textual.widgets import Button, Input, Label, Static

from console.display import literal
from console.errors import ConsoleError
from console.principal import Principal, ssh_source
from screens.messages import LoggedIn
from screens.widgets.key_bar import KeyBar

if TYPE_CHECKING:
    from console.auth import PendingLogin


class UsernameInput(Input):
    """Enter moves to the password (see LoginScreen.action_enter)."""

    async def action_submit(self) -> None:
        self.screen.set_focus(self.screen.query_one("#password", Input))


class LoginScreen(Screen[None]):
    CSS_PATH = "login.tcss"
    # Enter is a priority binding: the app handles it before forwarding the next keys, so
    # a password typed ahead (over a slow SSH link, or by a password manager) lands in the
    # password field. As a plain Input binding, the keys after it were already queued for
    # the username field when the focus moved (seen over ssh under load). Tab likewise:
    # "admin<Tab>password" typed ahead put the whole line in the username field.
    BINDINGS = [Binding("escape", "clear", "Clear", id="login.clear"),
                Binding("enter", "enter", "Next", id="login.enter", show=False,
                        priority=True),
                Binding("tab", "next_field", "Next field", id="login.next_field",
                        show=False, priority=True),
                Binding("shift+tab", "previous_field", "Previous field",
                        id="login.previous_field", show=False, priority=True)]
    AUTO_FOCUS = "#username"

    def __init__(self, *, banner: str = "", message: str = "") -> None:
        super().__init__()
        self.banner = banner
        self.message = message

    def compose(self) -> ComposeResult:
        with Center(), Vertical(id="login-box"):
            yield Static("FlowPro Console", id="login-title")
            if self.banner:
                yield Static(literal(self.banner), id="login-banner")
            yield Label("Username")
            yield UsernameInput(id="username", max_length=64, placeholder="username")
            yield Label("Password")
            yield Input(id="password", password=True, max_length=1024, placeholder="password")
            yield Button("Log in", id="login", variant="primary")
            yield Static(literal(self.message), id="login-message", classes="error-line")
        yield KeyBar()

    def action_enter(self) -> None:
        focused = self.focused
        if focused is not None and focused.id == "username":
            self.set_focus(self.query_one("#password", Input))
        elif focused is not None and focused.id in ("password", "login"):
            # After the keys already queued for the field (the end of the password).
            focused.call_later(self._submit_unless_busy)

    def action_next_field(self) -> None:
        self.focus_next()

    def action_previous_field(self) -> None:
        self.focus_previous()

    def _submit_unless_busy(self) -> None:
        if not self.query_one("#login", Button).disabled:
            self._submit()

    @on(Input.Submitted, "#password")
    @on(Button.Pressed, "#login")
    def _submit(self) -> None:
        username = self.query_one("#username", Input).value.strip()
        password = self.query_one("#password", Input).value
        if not username or not password:
            self._show("Enter a username and a password.")
            return
        self.query_one("#login", Button).disabled = True
        self._show("Checking…")
        self._authenticate(username, password)

    @work(thread=True, exclusive=True, exit_on_error=False, group="login")
    def _authenticate(self, username: str, password: str) -> None:
        from console.auth import LoginStep, begin_login, finish_login

        app = self.app
        principal = None
        try:
            runtime = app.wait_until_ready()  # type: ignore[attr-defined]
            with runtime.database.scope() as db:
                pending = begin_login(runtime.database, db, runtime.settings.security,
                                      username, password, channel="tui", source=ssh_source())
                if pending.step is LoginStep.DONE:
                    principal = finish_login(runtime.database, db, runtime.settings.security,
                                             runtime.keys, pending)
        except ConsoleError as exc:
            app.call_from_thread(self._failed, exc.message)
            return
        app.call_from_thread(self._show, "")
        if principal is None:
            app.call_from_thread(self._second_factor, pending)
            return
        app.call_from_thread(app.post_message,
                             LoggedIn(principal, pending.must_change_password))

    def _second_factor(self, pending: PendingLogin) -> None:
        """The password was right; the code (or a first TOTP enrolment) completes the login."""
        from console.auth import LoginStep
        from screens.totp_enrol import TotpEnrolScreen
        from screens.totp_prompt import TotpPromptScreen

        def done(principal: Principal | None) -> None:
            if principal is None:
                self._failed("Login cancelled: start again.")
                return
            self.app.post_message(LoggedIn(principal, pending.must_change_password))

        screen = (TotpPromptScreen(pending) if pending.step is LoginStep.TOTP
                  else TotpEnrolScreen(pending))
        self.app.push_screen(screen, done)

    def _failed(self, message: str) -> None:
        self.query_one("#login", Button).disabled = False
        password = self.query_one("#password", Input)
        password.value = ""
        password.focus()
        self._show(message)

    def _show(self, message: str) -> None:
        self.query_one("#login-message", Static).update(literal(message))

    def action_clear(self) -> None:
        self.query_one("#username", Input).value = ""
        self.query_one("#password", Input).value = ""
        self.query_one("#username", Input).focus()
        self._show("")
