"""Log in: username and password, the same answer for every failure."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Center, Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, Static

from console.display import literal
from console.errors import AuthenticationFailed, ConsoleError
from console.principal import ssh_source
from screens.messages import LoggedIn


class UsernameInput(Input):
    """Enter moves to the password at once, so typed-ahead keys land in the right field."""

    async def action_submit(self) -> None:
        self.screen.set_focus(self.screen.query_one("#password", Input))


class LoginScreen(Screen[None]):
    CSS_PATH = "login.tcss"
    BINDINGS = [Binding("escape", "clear", "Clear", id="login.clear")]
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
        yield Footer()

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
        from console.auth import authenticate

        app = self.app
        try:
            runtime = app.wait_until_ready()  # type: ignore[attr-defined]
            with runtime.database.scope() as db:
                principal = authenticate(runtime.database, db, runtime.settings.security,
                                         username, password, channel="tui",
                                         source=ssh_source())
        except AuthenticationFailed as exc:
            app.call_from_thread(self._failed, exc.message)
            return
        except ConsoleError as exc:
            app.call_from_thread(self._failed, exc.message)
            return
        app.call_from_thread(app.post_message, LoggedIn(principal))

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
