"""ConsoleApp: the terminal UI. Screens, navigation, command palette, session checks.

Every database call runs in a worker thread through `run_service`, which opens one session
per call, hands the result back on the UI thread, and turns errors into notifications
(or, when the session is over, back to the login screen).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import socket
import threading
from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.command import Hit, Hits, Provider
from textual.screen import Screen
from textual.widget import Widget
from textual.worker import get_current_worker

from console import clock
from console.areas import AREAS, Area  # noqa: F401 - part of the app's API
from console.errors import ConsoleError, SessionEnded
from console.principal import Principal
from screens.app_account import AccountMixin
from screens.messages import LoggedIn, SessionOver

if TYPE_CHECKING:
    from console.config import Settings
    from console.runtime import Runtime

log = logging.getLogger("flowpro.console")
T = TypeVar("T")

SESSION_CHECK_SECONDS = 1.0  # a revoked grant or disabled account ends the TUI within this
SESSION_TOUCH_SECONDS = 60.0
IDLE_CHECK_SECONDS = 1.0


class AreaCommands(Provider):
    """Command palette: open any area the user may use."""

    async def search(self, query: str) -> Hits:
        app = self.app
        assert isinstance(app, ConsoleApp)
        matcher = self.matcher(query)
        for area in app.visible_areas():
            label = f"Go to {area.title}"
            score = matcher.match(label)
            if score > 0:
                yield Hit(score, matcher.highlight(label), partial(app.action_go, area.id),
                          help=f"key {area.key}")


class ConsoleApp(AccountMixin, App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "FlowPro Console"
    COMMANDS = App.COMMANDS | {AreaCommands}
    BINDINGS = [
        Binding("ctrl+q", "quit_console", "Quit", id="app.quit", priority=True),
        Binding("ctrl+p,colon", "command_palette", "Commands", id="app.palette",
                show=False),
        Binding("ctrl+l,L", "logout", "Log out", id="app.logout", show=False),
        *(Binding(area.key, f"go('{area.id}')", area.title, id=f"nav.{area.id}", show=False)
          for area in AREAS),
    ]

    def __init__(self, runtime: Runtime | None = None, *, settings: Settings | None = None,
                 opener: Callable[[], Runtime] | None = None, host: str | None = None,
                 principal: Principal | None = None, exit_on_session_end: bool = False) -> None:
        """Give a ready `runtime`, or `settings` and an `opener` that makes one: the login
        screen then paints first and the database opens while the user types.

        `principal`: start logged in as it (a support session, authenticated before the
        TUI opened); `exit_on_session_end`: when the session ends, leave the app instead of
        returning to the login screen (`end_reason` then says why)."""
        super().__init__()
        if runtime is None and (settings is None or opener is None):
            raise TypeError("ConsoleApp needs a runtime, or settings and an opener")
        self._runtime = runtime
        self._opener = opener
        self._runtime_ready = threading.Event()
        if runtime is not None:
            self._runtime_ready.set()
        self.settings: Settings = runtime.settings if runtime else settings  # type: ignore[assignment]
        self.host = host or socket.gethostname()
        self.principal: Principal | None = None
        self.current_area: str | None = None
        self.locked = False
        self.last_input = clock.now()
        self._preset = principal
        self.exit_on_session_end = exit_on_session_end
        self.end_reason: str | None = None
        self._local_jobs: Any = None

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            raise ConsoleError("the database is still opening; try again in a moment")
        return self._runtime

    def wait_until_ready(self, timeout: float = 30.0) -> Runtime:
        """From a worker thread: the runtime, once the database has opened."""
        self._runtime_ready.wait(timeout)
        return self.runtime

    @property
    def local_jobs(self) -> Any:
        """Job runs executing in this console's threads (when no scheduler is running)."""
        if self._local_jobs is None:
            from console.jobs import LocalJobs

            self._local_jobs = LocalJobs(self.runtime)
        return self._local_jobs

    def _confirm_stopping_jobs(self, then: Callable[[], None], verb: str) -> None:
        """If jobs run in this console, say what `verb` (quit, log out) does to them
        before doing it."""
        active = self._local_jobs.active() if self._local_jobs is not None else []
        if not active:
            then()
            return
        from screens.widgets.confirm import ConfirmScreen

        runs = ", ".join(f"#{r}" for r in active)

        def stop_then() -> None:  # in a worker thread: steps may take a moment to end
            self.local_jobs.stop_all(f"stopped: its console user chose to {verb}", timeout=10)
            self.call_from_thread(then)

        def decided(confirmed: bool | None) -> None:
            if confirmed:
                self.notify("Stopping the jobs running here at their next step…")
                self.run_worker(stop_then, thread=True, group="stop-jobs", exit_on_error=False)

        self.push_screen(ConfirmScreen(
            f"Jobs are running in this console ({runs})",
            f"If you {verb} now they stop at their next step and are left "
            "interrupted; resume them later from the Jobs area or with `flowpro-console "
            "jobs resume`. (Start the scheduler to keep jobs running without a console.)",
            confirm_label=verb.capitalize()), decided)

    # -- start-up ---------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="open")
    def _open_runtime(self) -> None:
        assert self._opener is not None
        try:
            runtime = self._opener()
        except ConsoleError as exc:
            self.call_from_thread(self.exit, None, exc.exit_code, f"error: {exc.message}")
            return
        except Exception as exc:
            log.exception("opening the installation failed")
            self.call_from_thread(self.exit, None, 1,
                                  f"error: cannot open the installation: {exc}")
            return
        self._runtime = runtime
        self._runtime_ready.set()

    def on_mount(self) -> None:
        if self._runtime is None:
            self._open_runtime()
        if self.settings.ui.theme in self.available_themes:
            self.theme = self.settings.ui.theme
        if self.settings.keys:
            self.set_keymap(dict(self.settings.keys))
        self.set_interval(SESSION_CHECK_SECONDS, self._check_session)
        self.set_interval(SESSION_TOUCH_SECONDS, self._touch_session)
        self.set_interval(IDLE_CHECK_SECONDS, self.check_idle_lock)
        if self._preset is not None:
            self.principal, self._preset = self._preset, None
            self.action_go("dashboard")
        else:
            self.show_login()

    def show_login(self, message: str = "") -> None:
        from screens.login import LoginScreen

        if self.exit_on_session_end:  # a support session never falls back to a login screen
            self.end_reason = self.end_reason or message or "ended"
            self.exit()
            return
        self.principal = None
        self.current_area = None
        self.locked = False
        screen = LoginScreen(banner=self.settings.ui.login_banner, message=message)
        if len(self.screen_stack) > 1:
            while len(self.screen_stack) > 2:
                self.pop_screen()
            self.switch_screen(screen)
        else:
            self.push_screen(screen)

    def on_logged_in(self, message: LoggedIn) -> None:
        self.principal = message.principal
        self.last_input = clock.now()
        if message.must_change_password:
            self.force_password_change()
            return
        # A vendor account logging in here is outside a support session: it can only ask
        # for access and follow its requests.
        self.action_go("support" if message.principal.is_vendor else "dashboard")

    def on_session_over(self, message: SessionOver) -> None:
        self.end_session(message.reason)

    # -- navigation ---------------------------------------------------------------------

    def visible_areas(self) -> list[Area]:
        if self.principal is None:
            return []
        try:
            permissions = self.principal.effective_permissions()
        except SessionEnded:
            return []
        return [a for a in AREAS if a.available
                and (a.permission is None or a.permission in permissions)]

    def nav_items(self) -> list[tuple[str, str, str]]:
        """(area id, key as displayed, title); keys remapped in [keys] show as remapped."""
        keymap = self._keymap
        return [(a.id, self.get_key_display(
                    Binding(keymap.get(f"nav.{a.id}", a.key).split(",")[0], "")), a.title)
                for a in self.visible_areas()]

    def action_go(self, area_id: str) -> None:
        if self.principal is None or self.locked:
            return
        area = next((a for a in AREAS if a.id == area_id), None)
        if area is None or area not in self.visible_areas():
            self.notify(f"{area.title if area else area_id} is not available to you",
                        severity="warning")
            return
        module = importlib.import_module(f"screens.{area.module}")
        screen: Screen[Any] = getattr(module, area.screen)()
        while len(self.screen_stack) > 2:
            self.pop_screen()
        self.current_area = area.id
        if len(self.screen_stack) < 2:
            self.push_screen(screen)
        else:
            self.switch_screen(screen)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        vendor = self.principal is not None and self.principal.is_vendor
        for command in super().get_system_commands(screen):
            if not (vendor and command.title == "Screenshot"):  # no files from support sessions
                yield command
        if self.principal is not None and not self.locked:
            yield SystemCommand("Log out", "End this session and return to the login screen",
                                self.action_logout)
            yield SystemCommand("Lock the screen", "Hide the console until you enter your "
                                "password again", self.lock)
            yield SystemCommand("Change my password", "Choose a new password for this "
                                "account", self.change_password)
            yield SystemCommand("Set up two-factor sign-in (TOTP)", "Enrol an authenticator "
                                "app for this account", self.enrol_totp)

    # -- sessions -------------------------------------------------------------------------

    def action_logout(self) -> None:
        if self.principal is not None:
            self.locked = False
            self._confirm_stopping_jobs(
                lambda: self.end_session("logout", notice="Logged out."), "log out")

    def action_quit_console(self) -> None:
        def leave() -> None:
            if self.principal is not None:
                self._record_logout(self.principal, "quit")
            self.end_reason = self.end_reason or "quit"
            self.exit()

        self._confirm_stopping_jobs(leave, "quit")

    def end_session(self, reason: str, *, notice: str | None = None) -> None:
        principal = self.principal
        if principal is None:
            return
        self._record_logout(principal, reason)
        self.end_reason = reason
        self.show_login(notice or f"Session ended: {reason}")

    def _record_logout(self, principal: Principal, reason: str) -> None:
        self.principal = None
        self.workers.cancel_all()
        from console.auth import end_session

        try:
            with self.runtime.database.scope() as db:
                end_session(db, principal, reason=reason)
        except Exception:  # the logout must not be blocked by a failing database
            log.exception("could not record the logout")

    @work(thread=True, exclusive=True, exit_on_error=False, group="session-check")
    def _check_session(self) -> None:
        principal = self.principal
        if principal is None:
            return
        try:
            principal.effective_permissions()
        except SessionEnded as exc:
            if self.principal is principal:
                self.call_from_thread(self.end_session, exc.message)

    @work(thread=True, exclusive=True, exit_on_error=False, group="session-touch")
    def _touch_session(self) -> None:
        principal = self.principal
        if principal is None:
            return
        from console.auth import touch_session

        with self.runtime.database.scope() as db:
            touch_session(db, principal)

    def terminal_lost(self, reason: str) -> None:
        """Called from the terminal watch thread: record the logout, nothing else (jobs
        running here get a moment to end their step and be left interrupted)."""
        if self._local_jobs is not None and self._local_jobs.active():
            self._local_jobs.stop_all(f"stopped: the console's {reason}", timeout=0.8)
        principal = self.principal
        if principal is not None:
            self.principal = None
            from console.auth import end_session

            with self.runtime.database.scope() as db:
                end_session(db, principal, reason=reason)

    # -- services -------------------------------------------------------------------------

    def run_service(self, owner: Widget, fn: Callable[..., T], *args: Any,
                    on_done: Callable[[T], None] | None = None,
                    on_error: Callable[[ConsoleError], None] | None = None,
                    group: str = "service", exclusive: bool = True, **kwargs: Any) -> None:
        """Call `fn(db, principal, *args, **kwargs)` in a worker thread owned by `owner`;
        deliver the result to `on_done` on the UI thread."""
        principal = self.principal
        if principal is None:
            return

        def job() -> None:
            worker = get_current_worker()
            try:
                with self.runtime.database.scope() as db:
                    result = fn(db, principal, *args, **kwargs)
            except SessionEnded as exc:
                self.call_from_thread(self.end_session, exc.message)
                return
            except ConsoleError as exc:
                if not worker.is_cancelled:
                    self.call_from_thread(on_error or self.show_error, exc)
                return
            except Exception as exc:
                from console.db import storage_error

                fault = storage_error(exc)
                if fault is not None:  # disk full, read-only, busy: say so, it is fixable
                    if not worker.is_cancelled:
                        self.call_from_thread(on_error or self.show_error, fault)
                    return
                log.exception("service call failed")
                if not worker.is_cancelled:
                    self.call_from_thread(self.notify, f"Internal error: {type(exc).__name__}. "
                                          "The change was not applied.", severity="error")
                return
            if on_done is not None and not worker.is_cancelled:
                try:
                    self.call_from_thread(on_done, result)
                except Exception:
                    log.exception("showing a service result failed")
                    self.call_from_thread(self.notify, "Internal error while showing the "
                                          "result; see the console log.", severity="error")

        owner.run_worker(job, thread=True, exclusive=exclusive, group=group,
                         exit_on_error=False)

    def show_error(self, error: ConsoleError) -> None:
        from console.display import printable

        self.notify(printable(error.message), severity="error", timeout=8, markup=False)
