"""Roles: named sets of permissions from the fixed catalog.

Built-in roles (admin, auditor, operator, support) can be edited but not deleted or
renamed; custom roles can be created, renamed, given permissions and deleted once unused.
Every change obeys the rules in console/safety.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlmodel import Session, col, select

from console import audit, clock
from console.config import SecuritySettings
from console.contract import service
from console.db import writing
from console.errors import Conflict, NotFound, ValidationError
from console.permissions import BUILTIN_ROLES, SUPPORT_CEILING, Permission
from console.principal import Principal
from console.safety import keeping_an_administrator, require_held, serialize_access_changes
from models.identity import Role, RolePermission, User, UserRole

ROLE_NAME_RE = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")


@dataclass(frozen=True)
class RoleInfo:
    name: str
    description: str
    builtin: bool
    requires_mfa: bool  # set on the role
    mfa_by_config: bool  # listed in [security] mfa_required_roles
    permissions: frozenset[Permission]
    members: tuple[str, ...]

    @property
    def mfa_required(self) -> bool:
        return self.requires_mfa or self.mfa_by_config


def ensure_builtin_roles(db: Session) -> None:
    """Create the built-in roles that are missing (inside the caller's write transaction).
    Existing ones are left as edited."""
    existing = set(db.exec(select(Role.name)).all())
    for name, (description, permissions) in BUILTIN_ROLES.items():
        if name in existing:
            continue
        role = Role(name=name, description=description, builtin=True, created_at=clock.now())
        db.add(role)
        db.flush()
        for permission in sorted(permissions):
            db.add(RolePermission(role_id=role.id, permission=permission.value))
    db.flush()


def role_permissions(db: Session, role_ids: list[int]) -> frozenset[Permission]:
    if not role_ids:
        return frozenset()
    names = db.exec(select(RolePermission.permission)
                    .where(col(RolePermission.role_id).in_(role_ids))).all()
    known = {p.value for p in Permission}
    return frozenset(Permission(n) for n in names if n in known)


def roles_of(db: Session, user_id: int) -> list[Role]:
    return list(db.exec(select(Role).join(UserRole, col(UserRole.role_id) == col(Role.id))
                        .where(UserRole.user_id == user_id).order_by(Role.name)).all())


def user_permissions(db: Session, user_id: int) -> tuple[tuple[str, ...], frozenset[Permission]]:
    """(role names, union of their permissions) for one user."""
    roles = roles_of(db, user_id)
    return tuple(r.name for r in roles), role_permissions(db, [r.id for r in roles if r.id])


def get_role(db: Session, name: str) -> Role:
    role = db.exec(select(Role).where(Role.name == name)).first()
    if role is None:
        raise NotFound(f"no role named {name!r}; see `flowpro-console roles list`")
    return role


def validate_role_name(name: str) -> str:
    if not ROLE_NAME_RE.fullmatch(name or ""):
        raise ValidationError("role name", "use 2-64 characters: lowercase letters, digits, "
                              "'.', '_' or '-', starting with a letter")
    return name


def validate_description(description: str) -> str:
    if len(description) > 255:
        raise ValidationError("description", f"at most 255 characters (has {len(description)})")
    if not description.isprintable():
        raise ValidationError("description", "must be one line of printable text")
    return description


def _members(db: Session, role_id: int) -> list[User]:
    return list(db.exec(select(User).join(UserRole, col(UserRole.user_id) == col(User.id))
                        .where(UserRole.role_id == role_id).order_by(User.username)).all())


def _info(db: Session, role: Role, security: SecuritySettings | None) -> RoleInfo:
    return RoleInfo(
        name=role.name, description=role.description, builtin=role.builtin,
        requires_mfa=role.requires_mfa,
        mfa_by_config=security is not None and role.name in security.mfa_required_roles,
        permissions=role_permissions(db, [role.id or 0]),
        members=tuple(u.username for u in _members(db, role.id or 0)))


def permission_catalog() -> list[tuple[Permission, str]]:
    """Every permission with its description, in catalog order."""
    return [(p, p.description) for p in Permission]


def list_roles(db: Session, actor: Principal, *,
               security: SecuritySettings | None = None) -> list[RoleInfo]:
    """All roles with their permissions and members. Needs users.read."""
    actor.require(Permission.USERS_READ)
    roles = db.exec(select(Role).order_by(col(Role.builtin).desc(), col(Role.name))).all()
    return [_info(db, role, security) for role in roles]


def _check_vendor_members(db: Session, role: Role, permissions: frozenset[Permission]) -> None:
    outside = sorted(permissions - SUPPORT_CEILING)
    if not outside:
        return
    if role.name == "support":
        raise Conflict("the support role is the ceiling for FlowPro accounts and can never "
                       f"hold {', '.join(p.value for p in outside)}")
    vendors = [u.username for u in _members(db, role.id or 0) if u.kind == "vendor"]
    if vendors:
        raise Conflict(f"role {role.name!r} is held by vendor account(s) {', '.join(vendors)}, "
                       f"which can never hold {', '.join(p.value for p in outside)}: take the "
                       "role from them first")


def _set_permissions(db: Session, role: Role, permissions: frozenset[Permission]) -> None:
    for row in db.exec(select(RolePermission).where(RolePermission.role_id == role.id)).all():
        if Permission(row.permission) not in permissions:
            db.delete(row)
    have = role_permissions(db, [role.id or 0])
    for permission in sorted(permissions - have):
        db.add(RolePermission(role_id=role.id, permission=permission.value))


@service("roles.add", audit_errors=True, target_prefix="role:")
def create_role(db: Session, actor: Principal, name: str, *,
                permissions: frozenset[Permission], description: str = "",
                requires_mfa: bool = False) -> RoleInfo:
    """Create a custom role. Needs roles.write, and every permission given to the role.

    Raises ValidationError for a bad name or description, Conflict when the name is taken,
    AccessDenied when the actor lacks one of the permissions.
    """
    actor.require(Permission.ROLES_WRITE)
    validate_role_name(name)
    validate_description(description)
    permissions = frozenset(permissions)
    require_held(actor, permissions, f"create role {name!r}")
    with writing(db):
        if db.exec(select(Role.id).where(Role.name == name)).first() is not None:
            raise Conflict(f"a role named {name!r} exists already")
        role = Role(name=name, description=description, builtin=False,
                    requires_mfa=requires_mfa, created_at=clock.now())
        db.add(role)
        db.flush()
        _set_permissions(db, role, permissions)
        db.flush()
        audit.record(db, actor, "roles.add", target=f"role:{name}",
                     details={"permissions": sorted(p.value for p in permissions),
                              "requires_mfa": requires_mfa, "description": description})
        return _info(db, role, None)


@service("roles.edit", audit_errors=True, target_prefix="role:")
def update_role(db: Session, actor: Principal, name: str, *, rename: str | None = None,
                description: str | None = None,
                permissions: frozenset[Permission] | None = None,
                add: frozenset[Permission] = frozenset(),
                remove: frozenset[Permission] = frozenset(),
                requires_mfa: bool | None = None) -> RoleInfo:
    """Rename a custom role, change any role's description, permissions (replace them, or
    `add` and `remove` some) or MFA requirement. Needs roles.write, and every permission
    added or removed.

    Raises NotFound, ValidationError, Conflict (built-in renamed, name taken, a vendor
    member would exceed the support ceiling, no administrator would be left) and
    AccessDenied.
    """
    actor.require(Permission.ROLES_WRITE)
    if rename is not None:
        validate_role_name(rename)
    if description is not None:
        validate_description(description)
    with writing(db):
        serialize_access_changes(db)
        role = get_role(db, name)
        changes: dict[str, object] = {}
        if rename is not None and rename != role.name:
            if role.builtin:
                raise Conflict(f"{role.name!r} is a built-in role: it cannot be renamed")
            if db.exec(select(Role.id).where(Role.name == rename)).first() is not None:
                raise Conflict(f"a role named {rename!r} exists already")
            changes["renamed"] = {"from": role.name, "to": rename}
            role.name = rename
        if description is not None and description != role.description:
            changes["description"] = description
            role.description = description
        if requires_mfa is not None and requires_mfa != role.requires_mfa:
            changes["requires_mfa"] = requires_mfa
            role.requires_mfa = requires_mfa
        if permissions is not None or add or remove:
            current = role_permissions(db, [role.id or 0])
            base = current if permissions is None else frozenset(permissions)
            permissions = (base | frozenset(add)) - frozenset(remove)
            added, removed = permissions - current, current - permissions
            require_held(actor, added | removed, f"change the permissions of role {name!r}")
            _check_vendor_members(db, role, permissions)
            with keeping_an_administrator(db, f"changing the permissions of role {name!r}"):
                _set_permissions(db, role, permissions)
            if added or removed:
                changes["added"] = sorted(p.value for p in added)
                changes["removed"] = sorted(p.value for p in removed)
        if not changes:
            return _info(db, role, None)
        db.add(role)
        db.flush()
        audit.record(db, actor, "roles.edit", target=f"role:{name}", details=changes)
        return _info(db, role, None)


@service("roles.delete", audit_errors=True, target_prefix="role:")
def delete_role(db: Session, actor: Principal, name: str) -> None:
    """Delete a custom role that nobody holds (so nobody loses a permission). Needs
    roles.write.

    Raises NotFound, Conflict (built-in, or still assigned) and AccessDenied.
    """
    actor.require(Permission.ROLES_WRITE)
    with writing(db):
        role = get_role(db, name)
        if role.builtin:
            raise Conflict(f"{name!r} is a built-in role: it can be edited but not deleted")
        members = [u.username for u in _members(db, role.id or 0)]
        if members:
            raise Conflict(f"role {name!r} is still held by {', '.join(members)}: take it "
                           "from them first (`flowpro-console users set-roles`)")
        permissions = role_permissions(db, [role.id or 0])
        for row in db.exec(select(RolePermission).where(RolePermission.role_id == role.id)).all():
            db.delete(row)
        db.flush()  # rows first: the ORM does not know they depend on the role
        db.delete(role)
        db.flush()
        audit.record(db, actor, "roles.delete", target=f"role:{name}",
                     details={"permissions": sorted(p.value for p in permissions)})
