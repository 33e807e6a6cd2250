"""Who acts: the `Principal` every service function receives first."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum

from console.errors import AccessDenied
from console.permissions import ALL_PERMISSIONS, Permission


class PrincipalKind(StrEnum):
    USER = "user"  # a console account (staff, vendor or service) that logged in
    OS = "os"  # the deployment's OS owner, trusted like PostgreSQL peer auth
    SCHEDULER = "scheduler"  # the scheduler process


# Re-evaluates the principal's permissions now (against the clock and the database).
# Raises SessionEnded when the session may not continue at all.
Authorizer = Callable[["Principal"], frozenset[Permission]]


@dataclass(frozen=True)
class Principal:
    name: str
    kind: PrincipalKind
    permissions: frozenset[Permission] = frozenset()
    user_id: int | None = None
    account_kind: str | None = None  # staff | vendor | service, for USER principals
    roles: tuple[str, ...] = ()
    session_id: str | None = None
    source: str | None = None
    authorizer: Authorizer | None = field(default=None, compare=False, repr=False)

    @property
    def is_vendor(self) -> bool:
        return self.account_kind == "vendor"

    def effective_permissions(self) -> frozenset[Permission]:
        """The permissions that hold right now; may raise SessionEnded."""
        if self.authorizer is None:
            return self.permissions
        return self.authorizer(self)

    def has(self, permission: Permission) -> bool:
        return permission in self.effective_permissions()

    def require(self, permission: Permission) -> None:
        """Raise AccessDenied unless the principal holds `permission` at this moment."""
        if permission not in self.effective_permissions():
            raise AccessDenied(
                f"{self.name} lacks the permission {permission.value} "
                f"({permission.description.lower()}); ask an administrator",
                permission=permission.value)

    def checked(self) -> Principal:
        """This principal with the permissions that hold now, fixed: for one service call
        that asks several times within milliseconds (each live check costs a few
        database reads). May raise SessionEnded."""
        if self.authorizer is None:
            return self
        return replace(self, permissions=self.authorizer(self), authorizer=None)

    def with_session(self, session_id: str | None) -> Principal:
        return replace(self, session_id=session_id)


def ssh_source(environ: dict[str, str] | None = None) -> str | None:
    """The client address of the SSH session, from SSH_CONNECTION ('ip port ip port')."""
    value = (environ if environ is not None else os.environ).get("SSH_CONNECTION", "")
    parts = value.split()
    return f"{parts[0]}:{parts[1]}" if len(parts) >= 2 else None


def os_principal(user: str, *, source: str | None = None) -> Principal:
    """The trusted OS owner of the deployment: every permission, like a superuser."""
    return Principal(name=f"os:{user}", kind=PrincipalKind.OS, permissions=ALL_PERMISSIONS,
                     source=source)


def scheduler_principal() -> Principal:
    return Principal(name="scheduler", kind=PrincipalKind.SCHEDULER, permissions=ALL_PERMISSIONS)


def system_principal(name: str = "system") -> Principal:
    """For internal bookkeeping (migrations, init) outside any person's session."""
    return Principal(name=name, kind=PrincipalKind.OS, permissions=ALL_PERMISSIONS)
