"""The console app's account side: the idle lock, and changing one's own password or TOTP
(issue 3). A mixin of ConsoleApp, kept apart so the app module stays about navigation,
sessions and service calls."""

from __future__ import annotations

from datetime import timedelta

from textual import events

from console import clock

# Input that counts as activity for the idle lock (not mouse movement: a cat on the desk).
ACTIVITY = (events.Key, events.MouseDown, events.MouseScrollDown, events.MouseScrollUp,
            events.Paste)
LOCKED_ACTIONS = {"go", "command_palette"}  # what must not get past the lock screen


class AccountMixin:
    """Idle lock and self-service for ConsoleApp (which provides principal, locked,
    last_input, settings, run_service and the Textual App methods)."""

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, ACTIVITY) and not getattr(event, "is_forwarded", False):
            self.last_input = clock.now()
        await super().on_event(event)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.locked and action in LOCKED_ACTIONS:
            return False
        return super().check_action(action, parameters)

    def check_idle_lock(self) -> None:
        """Lock after [security] idle_lock_minutes without input (checked every second)."""
        if self.principal is None or self.locked:
            return
        minutes = self.settings.security.idle_lock_minutes
        if clock.now() - self.last_input >= timedelta(minutes=minutes):
            self.lock(idle_minutes=minutes)

    def lock(self, idle_minutes: int | None = None) -> None:
        """Hide everything behind the lock screen until the password is given again."""
        from console.account import record_idle_lock
        from screens.lock import LockScreen

        principal = self.principal
        if principal is None or self.locked:
            return
        self.locked = True
        self.run_service(self, record_idle_lock, idle_minutes=idle_minutes, group="idle-lock")

        def unlocked(_ok: bool | None) -> None:
            self.locked = False
            self.last_input = clock.now()

        self.push_screen(LockScreen(principal.name, minutes=idle_minutes), unlocked)

    def force_password_change(self) -> None:
        """After a login with a temporary password: change it, or log out."""
        from screens.password import ChangePasswordScreen

        def done(changed: bool | None) -> None:
            if changed:
                self.notify("Password changed.")
                self.action_go("dashboard")
            else:
                self.end_session("password not changed", notice="Logged out: the temporary "
                                 "password was not changed.")

        self.push_screen(ChangePasswordScreen(forced=True), done)

    def change_password(self) -> None:
        from screens.password import ChangePasswordScreen

        self.push_screen(ChangePasswordScreen(), lambda changed: changed and self.notify(
            "Password changed."))

    def enrol_totp(self) -> None:
        from screens.totp_enrol import TotpEnrolScreen

        self.push_screen(TotpEnrolScreen(), lambda done: done and self.notify(
            "TOTP is set up: every login now asks for a code."))
