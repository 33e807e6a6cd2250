"""Roles: built-ins editable not deletable, custom roles' lifecycle, the matrix data."""

from __future__ import annotations

import pytest

from console import roles
from console.errors import Conflict, NotFound, ValidationError
from console.permissions import BUILTIN_ROLES, Permission
from tests.conftest import ADMIN
from tests.idhelp import add_user, details, last_event, login

LOGS = frozenset({Permission.LOGS_READ})


def test_custom_role_lifecycle_is_audited(runtime, db, admin) -> None:
    info = roles.create_role(db, admin, "log-reader", permissions=LOGS,
                             description="Reads the processing logs")
    assert info.permissions == LOGS and not info.builtin
    event = last_event(db, "roles.add", target="role:log-reader")
    assert event.actor == ADMIN and details(event)["permissions"] == ["logs.read"]
    roles.update_role(db, admin, "log-reader", rename="log-readers",
                      permissions=LOGS | {Permission.AUDIT_READ}, requires_mfa=True)
    edit = details(last_event(db, "roles.edit"))
    assert edit["renamed"] == {"from": "log-reader", "to": "log-readers"}
    assert edit["added"] == ["audit.read"] and edit["removed"] == [] and edit["requires_mfa"]
    listed = {r.name: r for r in roles.list_roles(db, admin)}
    assert listed["log-readers"].permissions == LOGS | {Permission.AUDIT_READ}
    assert listed["log-readers"].mfa_required
    add_user(runtime, db, "bob", "log-readers")
    with pytest.raises(Conflict, match="still held by bob"):
        roles.delete_role(db, admin, "log-readers")
    from console.users import set_roles

    set_roles(db, admin, "bob", [])
    roles.delete_role(db, admin, "log-readers")
    assert last_event(db, "roles.delete").target == "role:log-readers"
    with pytest.raises(NotFound):
        roles.delete_role(db, admin, "log-readers")


def test_builtin_roles_are_editable_but_not_deletable_or_renamable(runtime, db, admin) -> None:
    for name in BUILTIN_ROLES:
        with pytest.raises(Conflict, match="built-in"):
            roles.delete_role(db, admin, name)
    with pytest.raises(Conflict, match="cannot be renamed"):
        roles.update_role(db, admin, "auditor", rename="readers")
    roles.update_role(db, admin, "auditor", description="Reads everything read-only",
                      permissions=BUILTIN_ROLES["auditor"][1] | {Permission.USERS_READ})
    auditor = {r.name: r for r in roles.list_roles(db, admin)}["auditor"]
    assert Permission.USERS_READ in auditor.permissions
    assert auditor.description == "Reads everything read-only"
    assert last_event(db, "roles.delete").outcome == "error"


def test_bad_names_and_duplicates(runtime, db, admin) -> None:
    with pytest.raises(ValidationError, match="role name"):
        roles.create_role(db, admin, "Bad Role", permissions=LOGS)
    with pytest.raises(ValidationError, match="description"):
        roles.create_role(db, admin, "ok-name", permissions=LOGS, description="two\nlines")
    with pytest.raises(Conflict, match="exists already"):
        roles.create_role(db, admin, "auditor", permissions=LOGS)
    roles.create_role(db, admin, "first", permissions=LOGS)
    with pytest.raises(Conflict, match="exists already"):
        roles.update_role(db, admin, "first", rename="operator")


def test_list_shows_members_and_config_mfa(runtime, db, admin) -> None:
    add_user(runtime, db, "audrey", "auditor")
    security = runtime.settings.security.model_copy(update={"mfa_required_roles": ("auditor",)})
    listed = {r.name: r for r in roles.list_roles(db, admin, security=security)}
    assert listed["auditor"].members == ("audrey",)
    assert listed["auditor"].mfa_by_config and not listed["auditor"].requires_mfa
    assert listed["admin"].members == (ADMIN,)
    assert list(listed) [:4] == sorted(BUILTIN_ROLES)


def test_roles_need_roles_write(runtime, db) -> None:
    from console.errors import AccessDenied

    add_user(runtime, db, "audrey", "auditor")
    audrey = login(runtime, db, "audrey")
    with pytest.raises(AccessDenied, match="users.read"):
        roles.list_roles(db, audrey)
    with pytest.raises(AccessDenied, match="roles.write"):
        roles.create_role(db, audrey, "mine", permissions=LOGS)
    assert last_event(db, "roles.add").outcome == "denied"


def test_every_permission_has_a_description() -> None:
    catalog = roles.permission_catalog()
    assert len(catalog) == len(Permission) >= 15
    assert all(description and description[0].isupper() for _, description in catalog)
