"""Roles: the roles, and a permission matrix (which role holds which permission, with what
each permission allows). Create, edit (rename, describe, set permissions) and delete."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.command import Hit, Hits, Provider
from textual.widgets import DataTable, Static

from console.display import literal
from console.permissions import Permission
from console.roles import RoleInfo, delete_role, list_roles, permission_catalog
from screens.base import AreaScreen
from screens.widgets.confirm import ConfirmScreen

HELD, NOT_HELD = "✓", "·"
ACTIONS: dict[str, str] = {"add": "Create a role", "edit": "Edit role",
                           "delete": "Delete role"}


def _permissions(_db: object, actor: Any) -> frozenset[Permission]:
    return actor.effective_permissions()


class RoleCommands(Provider):
    """Command palette: create a role; edit or delete the highlighted one."""

    async def search(self, query: str) -> Hits:
        screen = self.screen
        if not isinstance(screen, RolesScreen):
            return
        matcher = self.matcher(query)
        role = screen.selected()
        for action, label in ACTIONS.items():
            if not screen.check_action(action, ()):
                continue
            text = label if action == "add" or role is None else f"{label} {role.name}"
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), getattr(screen, f"action_{action}"),
                          help=f"roles: {action}")


class RolesScreen(AreaScreen):
    AREA = "roles"
    CSS_PATH = "roles.tcss"
    COMMANDS = {RoleCommands}
    BINDINGS = [
        Binding("a,c", "add", "Create", id="roles.add"),
        Binding("e", "edit", "Edit", id="roles.edit"),
        Binding("delete,x", "delete", "Delete", id="roles.delete"),
        Binding("f5,R", "refresh", "Refresh", id="roles.refresh", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.roles: list[RoleInfo] = []
        self.permissions: frozenset[Permission] = frozenset()

    def compose_body(self) -> ComposeResult:
        yield DataTable(id="roles-table", cursor_type="row", zebra_stripes=True)
        yield DataTable(id="matrix", cursor_type="row")
        yield Static("", id="permission-detail")

    def on_mount(self) -> None:
        table = self.query_one("#roles-table", DataTable)
        table.add_column("Role", key="name", width=16)
        table.add_column("Built-in", key="builtin", width=8)
        table.add_column("TOTP", key="mfa", width=6)
        table.add_column("Members", key="members", width=7)
        table.add_column("Description", key="description", width=28)
        table.focus()
        self.action_refresh()

    def action_refresh(self) -> None:
        self.call(_permissions, on_done=self._set_permissions, group="permissions")
        self.call(list_roles, security=self.console.settings.security, on_done=self._show)

    def _set_permissions(self, permissions: frozenset[Permission]) -> None:
        self.permissions = permissions
        self.refresh_bindings()

    def _show(self, roles: list[RoleInfo]) -> None:
        current = self.selected()
        self.roles = roles
        table = self.query_one("#roles-table", DataTable)
        table.clear()
        for r in roles:
            mfa = "yes" if r.requires_mfa else "config" if r.mfa_by_config else "no"
            table.add_row(literal(r.name, max_len=15), "yes" if r.builtin else "no", mfa,
                          str(len(r.members)), literal(r.description, max_len=27), key=r.name)
        if current is not None and any(r.name == current.name for r in roles):
            table.move_cursor(row=table.get_row_index(current.name))
        self._show_matrix()

    def _show_matrix(self) -> None:
        matrix = self.query_one("#matrix", DataTable)
        selected = self.selected()
        cursor = matrix.cursor_row
        matrix.clear(columns=True)
        matrix.add_column("Permission", key="permission", width=16)
        for r in self.roles:
            label = literal(r.name[:10], style="reverse" if r is selected else "")
            matrix.add_column(label, key=f"role:{r.name}", width=max(3, min(len(r.name), 10)))
        matrix.add_column("Allows", key="description")
        for permission, description in permission_catalog():
            matrix.add_row(permission.value,
                           *(HELD if permission in r.permissions else NOT_HELD
                             for r in self.roles),
                           literal(description), key=permission.value)
        if matrix.row_count:
            matrix.move_cursor(row=min(cursor, matrix.row_count - 1))
        self._show_detail()

    def selected(self) -> RoleInfo | None:
        table = self.query_one("#roles-table", DataTable)
        if not self.roles or table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((r for r in self.roles if r.name == key), None)

    @on(DataTable.RowHighlighted, "#roles-table")
    def _role_highlighted(self) -> None:
        self._show_matrix()
        self.refresh_bindings()

    @on(DataTable.RowSelected, "#roles-table")
    def _role_selected(self) -> None:
        if self.check_action("edit", ()):
            self.action_edit()

    @on(DataTable.RowHighlighted, "#matrix")
    def _permission_highlighted(self) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        matrix = self.query_one("#matrix", DataTable)
        panel = self.query_one("#permission-detail", Static)
        if matrix.row_count == 0:
            panel.update("")
            return
        key = matrix.coordinate_to_cell_key(matrix.cursor_coordinate).row_key.value
        permission = Permission(str(key))
        holders = [r.name for r in self.roles if permission in r.permissions]
        text = Text(f"{permission.value}: ", style="bold")
        text.append_text(literal(permission.description))
        text.append("\nheld by: ")
        text.append_text(literal(", ".join(holders) or "no role", max_len=70))
        role = self.selected()
        if role is not None:
            text.append("\nmembers of ")
            text.append_text(literal(role.name, style="bold"))
            text.append(": ")
            text.append_text(literal(", ".join(role.members) or "none", max_len=56))
        panel.update(text)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action not in ACTIONS:
            return True
        if Permission.ROLES_WRITE not in self.permissions:
            return False
        role = self.selected()
        if action == "delete":
            return None if role is None else not role.builtin and not role.members
        if action == "edit":
            return None if role is None else True
        return True

    def _changed(self, message: str) -> None:
        self.notify(message, markup=False)
        self.action_refresh()

    def action_add(self) -> None:
        from screens.role_form import RoleFormScreen

        self.app.push_screen(RoleFormScreen(),
                             lambda name: name and self._changed(f"Created role {name}."))

    def action_edit(self) -> None:
        from screens.role_form import RoleFormScreen

        role = self.selected()
        if role is not None:
            self.app.push_screen(RoleFormScreen(role),
                                 lambda name: name and self._changed(f"Saved role {name}."))

    def action_delete(self) -> None:
        role = self.selected()
        if role is None:
            return

        def confirmed(ok: bool | None) -> None:
            if ok:
                self.call(delete_role, role.name, group="change",
                          on_done=lambda _r: self._changed(f"Deleted role {role.name}."))

        self.app.push_screen(ConfirmScreen(
            f"Delete role {role.name}?", "Nobody holds it; this cannot be undone.",
            confirm_label="Delete", phrase=role.name), confirmed)
