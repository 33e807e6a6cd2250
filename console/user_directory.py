"""Reading the console's accounts: the list with filters, one account's details, and the
status and TOTP state shown for each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlmodel import Session, col, select

from console import clock
from console.config import SecuritySettings
from console.mfa import mfa_required_for
from console.permissions import Permission
from console.principal import Principal
from console.roles import roles_of
from console.users import get_user
from models.identity import User


class UserStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"
    LOCKED = "locked"
    MUST_CHANGE = "temp-password"  # must change the password at the next login
    NO_PASSWORD = "no-password"


@dataclass(frozen=True)
class UserInfo:
    username: str
    display_name: str
    email: str
    kind: str
    roles: tuple[str, ...]
    status: UserStatus
    disabled_reason: str
    locked_until: datetime | None
    last_login_at: datetime | None
    created_at: datetime
    created_by: str
    mfa_enrolled: bool
    mfa_required: bool

    @property
    def mfa(self) -> str:
        """on | due (required, not enrolled yet) | off"""
        return "on" if self.mfa_enrolled else "due" if self.mfa_required else "off"



def status_of(user: User, now: datetime | None = None) -> UserStatus:
    now = now or clock.now()
    if user.disabled:
        return UserStatus.DISABLED
    if user.locked_until is not None and user.locked_until > now:
        return UserStatus.LOCKED
    if user.password_hash is None:
        return UserStatus.NO_PASSWORD
    if user.must_change_password:
        return UserStatus.MUST_CHANGE
    return UserStatus.ACTIVE


def _info(db: Session, user: User, security: SecuritySettings, now: datetime) -> UserInfo:
    roles = roles_of(db, user.id or 0)
    return UserInfo(
        username=user.username, display_name=user.display_name, email=user.email,
        kind=user.kind, roles=tuple(r.name for r in roles), status=status_of(user, now),
        disabled_reason=user.disabled_reason,
        locked_until=user.locked_until if user.locked_until and user.locked_until > now
        else None,
        last_login_at=user.last_login_at, created_at=user.created_at,
        created_by=user.created_by, mfa_enrolled=user.totp_confirmed,
        mfa_required=mfa_required_for(user, roles, security))


def list_users(db: Session, actor: Principal, *, security: SecuritySettings, text: str = "",
               kind: str | None = None, status: str | None = None,
               role: str | None = None) -> list[UserInfo]:
    """Accounts sorted by name, filtered by text (in name, display name or email), kind,
    status and role. Needs users.read."""
    actor.require(Permission.USERS_READ)
    now = clock.now()
    needle = text.strip().lower()
    result = []
    for user in db.exec(select(User).order_by(col(User.username))).all():
        if kind and user.kind != kind:
            continue
        if needle and not any(needle in v.lower()
                              for v in (user.username, user.display_name, user.email)):
            continue
        info = _info(db, user, security, now)
        if (status and info.status != status) or (role and role not in info.roles):
            continue
        result.append(info)
    return result


def user_info(db: Session, actor: Principal, username: str, *,
              security: SecuritySettings) -> UserInfo:
    """One account's details. Needs users.read; raises NotFound."""
    actor.require(Permission.USERS_READ)
    return _info(db, get_user(db, username), security, clock.now())
