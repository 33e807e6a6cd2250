"""Create a role, or rename / describe / re-permission one (built-ins keep their name).
The service refuses what the administrator does not hold, a vendor member's ceiling and
leaving no administrator; the form shows why and stays open."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Checkbox, Label, SelectionList, Static
from textual.widgets.selection_list import Selection

from console.display import literal
from console.permissions import Permission
from console.roles import (
    RoleInfo,
    create_role,
    permission_catalog,
    update_role,
    validate_description,
    validate_role_name,
)
from screens.widgets.form import FormField, FormScreen


def permission_prompt(permission: Permission, description: str) -> Text:
    text = literal(f"{permission.value:<17}", style="bold")
    text.append_text(literal(description, style="dim", max_len=52))
    return text


class RoleFormScreen(FormScreen[str | None]):
    """Dismisses with the role's (new) name, or None."""

    CSS_PATH = "role_form.tcss"

    def __init__(self, role: RoleInfo | None = None) -> None:
        super().__init__()
        self.role = role

    def compose(self) -> ComposeResult:
        role = self.role
        title = (f"Edit role {role.name}" + (" (built-in: name fixed)" if role.builtin else "")
                 if role else "Create a role")
        with Vertical(id="role-box"):
            yield Static(literal(title), classes="form-title")
            yield FormField("Name", name="role_name", value=role.name if role else "",
                            check=validate_role_name, max_length=64,
                            placeholder="e.g. payroll-auditor",
                            disabled=bool(role and role.builtin))
            yield FormField("Description", name="description",
                            value=role.description if role else "",
                            check=validate_description, max_length=255)
            yield Checkbox("Members must use TOTP", value=bool(role and role.requires_mfa),
                           id="requires-mfa")
            yield Label("Permissions (space to toggle)")
            yield SelectionList[str](
                *(Selection(permission_prompt(p, d), p.value,
                            bool(role and p in role.permissions))
                  for p, d in permission_catalog()), id="permissions")
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
        name, description = fields["role_name"], fields["description"]
        permissions = frozenset(Permission(v) for v in
                                self.query_one("#permissions", SelectionList).selected)
        requires_mfa = self.query_one("#requires-mfa", Checkbox).value
        if self.role is None:
            self.run(create_role, name, permissions=permissions, description=description,
                     requires_mfa=requires_mfa, on_done=lambda info: self.dismiss(info.name))
            return
        self.run(update_role, self.role.name,
                 rename=None if self.role.builtin or name == self.role.name else name,
                 description=description, permissions=permissions, requires_mfa=requires_mfa,
                 on_done=lambda info: self.dismiss(info.name))
