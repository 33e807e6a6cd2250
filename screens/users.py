"""Users: the accounts with a filter, a detail panel, and every account action by key and
from the command palette (each calls the same service as the CLI)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.command import Hit, Hits, Provider
from textual.css.query import NoMatches
from textual.widgets import DataTable, Input, Static

from console.display import literal, local_time
from console.permissions import Permission
from console.roles import RoleInfo, list_roles
from console.user_directory import UserInfo, UserStatus, list_users
from console.users import (
    delete_user,
    disable_user,
    enable_user,
    reset_mfa,
    reset_password,
    unlock_user,
)
from screens.base import AreaScreen
from screens.widgets.confirm import ConfirmScreen

FILTER_KEYS = ("kind", "status", "role")
STATUS_STYLE = {UserStatus.DISABLED: "dim", UserStatus.LOCKED: "bold",
                UserStatus.MUST_CHANGE: "italic", UserStatus.NO_PASSWORD: "dim"}
# action -> (palette label, permission needed, does it need a selected user)
ACTIONS: dict[str, tuple[str, Permission, bool]] = {
    "add": ("Add a user", Permission.USERS_WRITE, False),
    "edit": ("Edit name and email of", Permission.USERS_WRITE, True),
    "set_roles": ("Set the roles of", Permission.ROLES_WRITE, True),
    "reset_password": ("Reset the password of", Permission.USERS_WRITE, True),
    "disable": ("Disable", Permission.USERS_WRITE, True),
    "enable": ("Enable", Permission.USERS_WRITE, True),
    "unlock": ("Unlock", Permission.USERS_WRITE, True),
    "mfa_reset": ("Reset the TOTP of", Permission.USERS_WRITE, True),
    "delete": ("Delete", Permission.USERS_WRITE, True),
}


def parse_filter(value: str) -> dict[str, str]:
    """'ali kind:vendor status:locked role:admin' -> text and the three filters."""
    result: dict[str, str] = {"text": ""}
    words = []
    for word in value.split():
        key, sep, rest = word.partition(":")
        if sep and key in FILTER_KEYS and rest:
            result[key] = rest
        else:
            words.append(word)
    result["text"] = " ".join(words)
    return result


def _permissions(_db: object, actor: Any) -> frozenset[Permission]:
    return actor.effective_permissions()


class UserCommands(Provider):
    """Command palette: every account action that applies to the highlighted user."""

    async def search(self, query: str) -> Hits:
        screen = self.screen
        if not isinstance(screen, UsersScreen):
            return
        matcher = self.matcher(query)
        user = screen.selected()
        for action, (label, _permission, needs_user) in ACTIONS.items():
            if needs_user and user is None:
                continue
            if not screen.check_action(action, ()):
                continue
            text = f"{label} {user.username}" if needs_user and user else label
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text),
                          getattr(screen, f"action_{action}"),
                          help=f"users: {action.replace('_', ' ')}")


class UsersScreen(AreaScreen):
    AREA = "users"
    CSS_PATH = "users.tcss"
    COMMANDS = {UserCommands}
    BINDINGS = [
        Binding("a", "add", "Add", id="users.add"),
        Binding("e", "edit", "Edit", id="users.edit"),
        Binding("r", "set_roles", "Roles", id="users.set_roles"),
        Binding("p", "reset_password", "Password", id="users.reset_password"),
        Binding("d", "disable", "Disable", id="users.disable"),
        Binding("n", "enable", "Enable", id="users.enable"),
        Binding("u", "unlock", "Unlock", id="users.unlock"),
        Binding("m", "mfa_reset", "TOTP reset", id="users.mfa_reset", show=False),
        Binding("delete,x", "delete", "Delete", id="users.delete", show=False),
        Binding("slash", "filter", "Filter", id="users.filter", show=False),
        Binding("f5,R", "refresh", "Refresh", id="users.refresh", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.users: dict[str, UserInfo] = {}
        self.permissions: frozenset[Permission] = frozenset()
        self._filter_timer: Any = None

    def compose_body(self) -> ComposeResult:
        yield Input(placeholder="filter: text  kind:vendor  status:locked  role:admin",
                    id="filter", compact=True)
        yield DataTable(id="users-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="user-detail")

    def on_mount(self) -> None:
        table = self.query_one("#users-table", DataTable)
        table.add_column("Username", key="username", width=14)
        table.add_column("Kind", key="kind", width=7)
        table.add_column("Roles", key="roles", width=18)
        table.add_column("Status", key="status", width=13)
        table.add_column("Last login", key="last_login", width=11)
        table.add_column("MFA", key="mfa", width=3)
        table.focus()
        self.action_refresh()

    # -- loading ---------------------------------------------------------------------

    def action_refresh(self) -> None:
        self.call(_permissions, on_done=self._set_permissions, group="permissions")
        filters = parse_filter(self.query_one("#filter", Input).value)
        self.call(list_users, security=self.console.settings.security,
                  text=filters["text"], kind=filters.get("kind"),
                  status=filters.get("status"), role=filters.get("role"),
                  on_done=self._show)

    def _set_permissions(self, permissions: frozenset[Permission]) -> None:
        self.permissions = permissions
        self.refresh_bindings()

    def _show(self, found: list[UserInfo]) -> None:
        table = self.query_one("#users-table", DataTable)
        current = self.selected()
        tz = self.console.settings.ui.timezone
        self.users = {u.username: u for u in found}
        table.clear()
        for u in found:
            table.add_row(
                literal(u.username, max_len=13), literal(u.kind),
                literal(",".join(u.roles) or "-", max_len=17),
                literal(u.status.value, style=STATUS_STYLE.get(u.status, "")),
                local_time(u.last_login_at, tz, "%m-%d %H:%M") or "never",
                literal(u.mfa), key=u.username)
        if current is not None and current.username in self.users:
            table.move_cursor(row=table.get_row_index(current.username))
        self._show_detail()
        self.refresh_bindings()

    def selected(self) -> UserInfo | None:
        try:
            table = self.query_one("#users-table", DataTable)
        except NoMatches:  # the screen is being taken down (its keys still asked for)
            return None
        if not self.users or table.row_count == 0:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:  # noqa: BLE001 - no row under the cursor
            return None
        return self.users.get(str(key))

    @on(DataTable.RowHighlighted, "#users-table")
    def _highlighted(self) -> None:
        self._show_detail()
        self.refresh_bindings()

    def _show_detail(self) -> None:
        panel = self.query_one("#user-detail", Static)
        user = self.selected()
        if user is None:
            panel.update(Text("No user matches the filter." if not self.users else ""))
            return
        tz = self.console.settings.ui.timezone
        text = literal(user.username, style="bold")
        if user.display_name:
            text.append_text(literal(f" · {user.display_name}", max_len=40))
        if user.email:
            text.append_text(literal(f" <{user.email}>", max_len=40))
        text.append(f"\n{user.kind} account · roles: ")
        text.append_text(literal(", ".join(user.roles) or "none", max_len=50))
        text.append("\nstatus: ")
        text.append_text(literal(user.status.value, style="bold"))
        if user.status is UserStatus.DISABLED and user.disabled_reason:
            text.append_text(literal(f" ({user.disabled_reason})", max_len=50))
        if user.locked_until:
            text.append(f" until {local_time(user.locked_until, tz, '%Y-%m-%d %H:%M')}")
        text.append(f" · TOTP {user.mfa}")
        text.append(f"\nlast login {local_time(user.last_login_at, tz) or 'never'} · "
                    f"created {local_time(user.created_at, tz, '%Y-%m-%d')} by ")
        text.append_text(literal(user.created_by, max_len=30))
        panel.update(text)

    # -- filter ----------------------------------------------------------------------

    def action_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
        self._filter_timer = self.set_timer(0.25, self.action_refresh)

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        self.action_refresh()
        self.query_one("#users-table", DataTable).focus()

    # -- actions ---------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action not in ACTIONS:
            return True
        _label, permission, needs_user = ACTIONS[action]
        if permission not in self.permissions:
            return False
        user = self.selected()
        if not needs_user:
            return True
        if user is None:
            return False
        state = {"disable": user.status is not UserStatus.DISABLED,
                 "enable": user.status is UserStatus.DISABLED,
                 "unlock": user.locked_until is not None,
                 "mfa_reset": user.mfa_enrolled,
                 "delete": user.last_login_at is None}
        return state.get(action, True)

    def _done(self, message: str) -> Callable[[Any], None]:
        def show(_result: Any) -> None:
            self.notify(message, markup=False)
            self.action_refresh()
        return show

    def _with_roles(self, then: Callable[[list[RoleInfo]], None]) -> None:
        self.call(list_roles, security=self.console.settings.security, on_done=then,
                  group="roles")

    def action_add(self) -> None:
        from screens.secret import SecretScreen
        from screens.user_form import Added, UserFormScreen

        def added(result: Added | str | None) -> None:
            if not isinstance(result, Added):
                return
            self.action_refresh()
            self.app.push_screen(SecretScreen(
                f"Temporary password for {result.username}", result.temporary_password,
                f"Shown once. Give it to {result.username} over a safe channel; it must "
                "be changed at the first login."))

        self._with_roles(lambda roles: self.app.push_screen(UserFormScreen(roles=roles),
                                                            added))

    def action_edit(self) -> None:
        from screens.user_form import UserFormScreen

        user = self.selected()
        if user is not None:
            self.app.push_screen(UserFormScreen(user=user),
                                 lambda name: name and self._done(f"Updated {name}.")(name))

    def action_set_roles(self) -> None:
        from screens.set_roles import SetRolesScreen

        user = self.selected()
        if user is None:
            return

        def saved(chosen: tuple[str, ...] | None) -> None:
            if chosen is not None:
                self._done(f"{user.username}: {', '.join(chosen) or 'no roles'}.")(chosen)

        self._with_roles(lambda roles: self.app.push_screen(SetRolesScreen(user, roles),
                                                            saved))

    def _with_reason(self, title: str, message: str, label: str,
                     fn: Callable[..., Any], done: str) -> None:
        from screens.reason import ReasonScreen

        user = self.selected()
        if user is None:
            return
        self.app.push_screen(
            ReasonScreen(title.format(user.username), message.format(user.username),
                         confirm_label=label, fn=fn, target=user.username),
            lambda reason: reason and self._done(done.format(user.username))(reason))

    def action_disable(self) -> None:
        self._with_reason("Disable {}?", "{} will not be able to log in; open sessions end "
                          "at their next action. The account and its history are kept.",
                          "Disable", disable_user, "Disabled {}.")

    def action_enable(self) -> None:
        self._with_reason("Enable {}?", "{} will be able to log in again.", "Enable",
                          enable_user, "Enabled {}.")

    def action_unlock(self) -> None:
        self._with_reason("Unlock {}?", "Lifts the lockout after failed logins now.",
                          "Unlock", unlock_user, "Unlocked {}.")

    def action_mfa_reset(self) -> None:
        self._with_reason("Reset the TOTP of {}?", "Removes {}'s authenticator; if TOTP is "
                          "required, a new one is enrolled at the next login.", "Reset",
                          reset_mfa, "TOTP removed from {}.")

    def action_reset_password(self) -> None:
        from screens.secret import SecretScreen

        user = self.selected()
        if user is None:
            return

        def show(password: str) -> None:
            self.action_refresh()
            self.app.push_screen(SecretScreen(
                f"Temporary password for {user.username}", password,
                f"Shown once. {user.username} must change it at the next login; open "
                "sessions of this account have ended."))

        def confirmed(ok: bool | None) -> None:
            if ok:
                self.call(reset_password, user.username,
                          security=self.console.settings.security, on_done=show,
                          group="change")

        self.app.push_screen(ConfirmScreen(
            f"Reset the password of {user.username}?",
            "A new temporary password replaces the current one and is shown once.",
            confirm_label="Reset password"), confirmed)

    def action_delete(self) -> None:
        user = self.selected()
        if user is None:
            return

        def confirmed(ok: bool | None) -> None:
            if ok:
                self.call(delete_user, user.username, group="change",
                          on_done=self._done(f"Deleted {user.username}."))

        self.app.push_screen(ConfirmScreen(
            f"Delete {user.username}?", "Only accounts that never logged in can be deleted; "
            "this cannot be undone.", confirm_label="Delete", phrase=user.username),
            confirmed)
