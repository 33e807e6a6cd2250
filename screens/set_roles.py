"""Choose an account's roles. The service refuses (and the form shows why) a role the
administrator does not fully hold, a role beyond a vendor's ceiling, or taking the last
administrator's powers."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, SelectionList, Static
from textual.widgets.selection_list import Selection

from console.display import literal
from console.roles import RoleInfo
from console.user_directory import UserInfo
from console.users import set_roles
from screens.user_form import role_prompt
from screens.widgets.form import FormScreen


class SetRolesScreen(FormScreen[tuple[str, ...] | None]):
    """Dismisses with the roles saved, or None."""

    CSS_PATH = "set_roles.tcss"

    def __init__(self, user: UserInfo, roles: list[RoleInfo]) -> None:
        super().__init__()
        self.user = user
        self.roles = roles

    def compose(self) -> ComposeResult:
        with Vertical(id="roles-box"):
            yield Static(literal(f"Roles of {self.user.username} ({self.user.kind})"),
                         classes="form-title")
            if self.user.kind == "vendor":
                yield Static("FlowPro accounts can only hold roles within the support "
                             "ceiling; their grant narrows it further.", classes="hint")
            yield SelectionList[str](
                *(Selection(role_prompt(r), r.name, r.name in self.user.roles)
                  for r in self.roles), id="roles")
            yield Static("", id="form-error", classes="error-line")
            with Horizontal(classes="form-buttons"):
                yield Button("Save", id="save", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            event.stop()
            chosen = tuple(self.query_one("#roles", SelectionList).selected)
            self.run(set_roles, self.user.username, chosen,
                     on_done=lambda _u: self.dismiss(chosen))
