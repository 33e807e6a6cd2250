"""The safety rules of access administration, shared by the user and role services.

- The last active administrator cannot be disabled, demoted or deleted: an administrator is
  an enabled, non-vendor account whose roles give both users.write and roles.write (the
  powers needed to repair access). Checked on the state *after* the change, inside its
  transaction, so every path (role edits, role assignment, disable, delete) is covered.
- Nobody grants, or takes away, a permission they do not hold themselves.
- A vendor account never holds a permission outside the support ceiling (so never admin,
  users.*, roles.*, support.* or settings.*).
- Nobody administers their own access (separation of duties): no one disables, unlocks,
  deletes, resets the password or second factor of, or changes the roles of their own account.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

from sqlalchemy import func
from sqlmodel import Session, col, select

from console.db import backend_of
from console.errors import AccessDenied, Conflict
from console.permissions import SUPPORT_CEILING, Permission
from console.principal import Principal
from models.identity import RolePermission, User, UserRole

ADMIN_POWERS: frozenset[Permission] = frozenset({Permission.USERS_WRITE,
                                                 Permission.ROLES_WRITE})
_PG_ACCESS_LOCK = 0x46500A01  # advisory lock id serializing changes of who may administer


def active_administrators(db: Session) -> list[str]:
    """Names of the enabled, non-vendor accounts whose roles hold users.write and roles.write."""
    rows = db.exec(
        select(User.username, RolePermission.permission)
        .join(UserRole, col(UserRole.user_id) == col(User.id))
        .join(RolePermission, col(RolePermission.role_id) == col(UserRole.role_id))
        .where(col(User.disabled).is_(False), User.kind != "vendor")
        .where(col(RolePermission.permission).in_([p.value for p in ADMIN_POWERS]))).all()
    held: dict[str, set[str]] = {}
    for username, permission in rows:
        held.setdefault(username, set()).add(permission)
    wanted = {p.value for p in ADMIN_POWERS}
    return sorted(name for name, perms in held.items() if perms >= wanted)


def serialize_access_changes(db: Session) -> None:
    """Inside `writing`: wait for any other transaction changing roles or accounts to end,
    so what is read next is current (PostgreSQL; a no-op on SQLite, whose write
    transactions are serialized already). Reentrant within a transaction."""
    if backend_of(db) == "postgresql":
        db.exec(select(func.pg_advisory_xact_lock(_PG_ACCESS_LOCK)))  # type: ignore[call-overload]


@contextlib.contextmanager
def keeping_an_administrator(db: Session, change: str) -> Iterator[None]:
    """Wrap a change (inside `writing`): raise Conflict, rolling it back, when it would leave
    no active administrator where there was one.

    Two administrators demoting each other at the same moment must not both succeed: on
    PostgreSQL (read committed) such changes take one advisory lock first, so the second
    sees the first's result; SQLite's BEGIN IMMEDIATE already serializes writers.
    """
    serialize_access_changes(db)
    before = active_administrators(db)
    yield
    db.flush()
    if before and not active_administrators(db):
        raise Conflict(f"{change} would leave no active administrator (an enabled user "
                       "holding users.write and roles.write): make another user an "
                       "administrator first")


def require_held(actor: Principal, permissions: Iterable[Permission], what: str) -> None:
    """Raise AccessDenied unless `actor` holds every one of `permissions` right now."""
    missing = sorted(set(permissions) - actor.effective_permissions())
    if missing:
        names = ", ".join(p.value for p in missing)
        raise AccessDenied(f"{actor.name} may not {what}: it involves {names}, which "
                           f"{actor.name} does not hold; nobody grants or removes a "
                           "permission they do not hold themselves",
                           permission=missing[0].value)


def check_vendor_ceiling(username: str, kind: str, permissions: Iterable[Permission],
                         roles: Iterable[str] = ()) -> None:
    """Raise Conflict when a vendor account would hold more than the support ceiling."""
    if kind != "vendor":
        return
    outside = sorted(set(permissions) - SUPPORT_CEILING)
    if "admin" in set(roles) or outside:
        names = ", ".join(p.value for p in outside) or "admin"
        raise Conflict(f"vendor account {username!r} can never hold {names}: FlowPro "
                       "accounts are limited to the support ceiling "
                       f"({', '.join(sorted(p.value for p in SUPPORT_CEILING))})")


def forbid_self(actor: Principal, user: User, what: str) -> None:
    """Separation of duties: raise AccessDenied when `actor` is `user`."""
    if actor.user_id is not None and actor.user_id == user.id:
        raise AccessDenied(f"{actor.name} may not {what} their own account: ask another "
                           "administrator (separation of duties)")
