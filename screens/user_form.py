"""Add an account, or edit its display name and email. Fields check the services' rules
as you type; a new account gets a temporary password, shown once after saving."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Label, Select, SelectionList, Static
from textual.widgets.selection_list import Selection

from console.display import literal
from console.roles import RoleInfo
from console.user_directory import UserInfo
from console.users import (
    AccountKind,
    create_user,
    edit_user,
    temporary_password,
    validate_display_name,
    validate_email,
    validate_username,
)
from screens.widgets.form import FormField, FormScreen


@dataclass(frozen=True)
class Added:
    username: str
    temporary_password: str


def role_prompt(role: RoleInfo) -> Text:
    text = literal(role.name, style="bold")
    if role.description:
        text.append_text(literal(f"  {role.description}", style="dim", max_len=60))
    return text


class UserFormScreen(FormScreen[Added | str | None]):
    """Dismisses with `Added` (new account), the username (edited) or None (cancelled)."""

    CSS_PATH = "user_form.tcss"

    def __init__(self, *, roles: list[RoleInfo] | None = None,
                 user: UserInfo | None = None) -> None:
        super().__init__()
        self.roles = roles or []
        self.user = user

    def compose(self) -> ComposeResult:
        user = self.user
        with Vertical(id="form-box"):
            yield Static(literal(f"Edit {user.username}" if user else "Add a user"),
                         classes="form-title")
            with Horizontal(id="form-columns"):
                with Vertical(id="form-left"):
                    yield FormField("Username", name="username",
                                    value=user.username if user else "",
                                    placeholder="e.g. alice", check=validate_username,
                                    max_length=64, disabled=user is not None)
                    yield FormField("Display name", name="display_name",
                                    value=user.display_name if user else "",
                                    check=validate_display_name, max_length=128)
                    yield FormField("Email", name="email", value=user.email if user else "",
                                    placeholder="name@example.com", check=validate_email,
                                    max_length=254)
                    if user is None:
                        yield Label("Kind")
                        yield Select([(k.value, k.value) for k in AccountKind],
                                     value=AccountKind.STAFF.value, allow_blank=False,
                                     id="kind", compact=True)
                if user is None:
                    with Vertical(id="form-right"):
                        yield Label("Roles (space to toggle)")
                        yield SelectionList[str](
                            *(Selection(role_prompt(r), r.name) for r in self.roles),
                            id="roles")
            if user is None:
                yield Static("A temporary password is made and shown once; the user must "
                             "change it at the first login.", classes="hint")
            yield Static("", id="form-error", classes="error-line")
            with Horizontal(classes="form-buttons"):
                yield Button("Save", id="save", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            event.stop()
            self.save()

    def save(self) -> None:
        fields = {f.field_name: f.value for f in self.query(FormField)}
        security = self.app.settings.security  # type: ignore[attr-defined]
        if self.user is not None:
            name = self.user.username
            self.run(edit_user, name, display_name=fields["display_name"],
                     email=fields["email"], on_done=lambda _user: self.dismiss(name))
            return
        username = fields["username"]
        password = temporary_password(security, username)
        roles = tuple(self.query_one("#roles", SelectionList).selected)
        kind = self.query_one("#kind", Select).value
        self.run(create_user, username, security=security, password=password,
                 kind=AccountKind(str(kind)), roles=roles,
                 display_name=fields["display_name"], email=fields["email"],
                 must_change_password=True,
                 on_done=lambda _user: self.dismiss(Added(username, password)))
