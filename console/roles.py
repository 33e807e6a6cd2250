"""Roles: named sets of permissions from the fixed catalog."""

from __future__ import annotations

from sqlmodel import Session, col, select

from console import clock
from console.permissions import BUILTIN_ROLES, Permission
from models.identity import Role, RolePermission, UserRole


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
