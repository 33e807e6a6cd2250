"""Console accounts: create and look up. (Issue 3 adds the full lifecycle.)"""

from __future__ import annotations

import re
from enum import StrEnum

from sqlmodel import Session, select

from console import audit, clock
from console.config import SecuritySettings
from console.contract import service
from console.db import writing
from console.errors import Conflict, NotFound, ValidationError
from console.passwords import check_policy, hash_password
from console.permissions import Permission
from console.principal import Principal
from models.identity import Role, User, UserRole

USERNAME_RE = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")


class AccountKind(StrEnum):
    STAFF = "staff"
    VENDOR = "vendor"
    SERVICE = "service"


def validate_username(username: str) -> str:
    if not USERNAME_RE.fullmatch(username or ""):
        raise ValidationError("username", "use 2-64 characters: lowercase letters, digits, "
                              "'.', '_' or '-', starting with a letter")
    return username


def get_user(db: Session, username: str) -> User:
    user = db.exec(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound(f"no user named {username!r}; see `flowpro-console users list`")
    return user


@service("users.add")
def create_user(db: Session, actor: Principal, username: str, *, security: SecuritySettings,
                password: str | None, kind: AccountKind = AccountKind.STAFF,
                roles: tuple[str, ...] = (), display_name: str = "", email: str = "",
                must_change_password: bool = False) -> User:
    """Create an account. Needs users.write (and roles.write to give it roles).

    Raises ValidationError for a bad username or a weak password, Conflict when the name
    is taken, NotFound for an unknown role.
    """
    actor.require(Permission.USERS_WRITE)
    if roles:
        actor.require(Permission.ROLES_WRITE)
    validate_username(username)
    kind = AccountKind(kind)
    if password is not None:
        check_policy(security, password, username=username, user_inputs=(display_name, email))
    with writing(db):
        if db.exec(select(User.id).where(User.username == username)).first() is not None:
            raise Conflict(f"a user named {username!r} exists already")
        user = User(username=username, display_name=display_name, email=email, kind=kind.value,
                    password_hash=hash_password(security, password) if password else None,
                    password_changed_at=clock.now() if password else None,
                    must_change_password=must_change_password,
                    created_at=clock.now(), created_by=actor.name)
        db.add(user)
        db.flush()
        for name in roles:
            role = db.exec(select(Role).where(Role.name == name)).first()
            if role is None:
                raise NotFound(f"no role named {name!r}; see `flowpro-console roles list`")
            db.add(UserRole(user_id=user.id, role_id=role.id))
        audit.record(db, actor, "users.add", target=f"user:{username}",
                     details={"kind": kind.value, "roles": list(roles),
                              "display_name": display_name})
    return user
