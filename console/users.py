"""Console accounts: the whole lifecycle, under the rules of console/safety.py.

Accounts are disabled, never deleted, once they have logged in (their history stays
attributable); only an account that never logged in can be deleted. Listing and reading
accounts is in console/user_directory.py.
"""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import Iterable
from enum import StrEnum

from sqlmodel import Session, col, select

from console import audit, clock
from console.config import SecuritySettings
from console.contract import service
from console.db import writing
from console.errors import Conflict, NotFound, ValidationError
from console.passwords import check_policy, hash_password
from console.permissions import Permission
from console.principal import Principal
from console.roles import get_role, role_permissions, roles_of
from console.safety import (
    check_vendor_ceiling,
    forbid_self,
    keeping_an_administrator,
    require_held,
    serialize_access_changes,
)
from models.identity import LoginSession, Role, User, UserRole

USERNAME_RE = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# No look-alikes (0/O, 1/l/I), so a temporary password read aloud or retyped survives.
TEMP_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


class AccountKind(StrEnum):
    STAFF = "staff"
    VENDOR = "vendor"
    SERVICE = "service"


# -- validation ----------------------------------------------------------------------


def validate_username(username: str) -> str:
    if not USERNAME_RE.fullmatch(username or ""):
        raise ValidationError("username", "use 2-64 characters: lowercase letters, digits, "
                              "'.', '_' or '-', starting with a letter")
    return username


def validate_display_name(value: str) -> str:
    if len(value) > 128:
        raise ValidationError("display name", f"at most 128 characters (has {len(value)})")
    if not value.isprintable():
        raise ValidationError("display name", "must be one line of printable text")
    return value


def validate_email(value: str) -> str:
    if value and (len(value) > 254 or not EMAIL_RE.fullmatch(value) or not value.isprintable()):
        raise ValidationError("email", "must look like name@example.com (or be empty)")
    return value


def validate_reason(value: str) -> str:
    value = (value or "").strip()
    if len(value) < 3:
        raise ValidationError("reason", "say why in a few words (at least 3 characters); "
                              "it goes into the audit trail")
    if len(value) > 255 or not value.isprintable():
        raise ValidationError("reason", "one line of printable text, at most 255 characters")
    return value


def temporary_password(security: SecuritySettings, username: str = "") -> str:
    """A random password that passes the policy: groups of 5 from an unambiguous alphabet."""
    groups = max(4, math.ceil(security.password_min_length / 5))
    while True:
        candidate = "-".join("".join(secrets.choice(TEMP_ALPHABET) for _ in range(5))
                             for _ in range(groups))
        try:
            check_policy(security, candidate, username=username)
        except ValidationError:
            continue
        return candidate


def get_user(db: Session, username: str) -> User:
    user = db.exec(select(User).where(User.username == username)
                   .execution_options(populate_existing=True)).first()
    if user is None:
        raise NotFound(f"no user named {username!r}; see `flowpro-console users list`")
    return user


# -- changes ------------------------------------------------------------------------


def _end_sessions(db: Session, user: User, reason: str) -> int:
    sessions = db.exec(select(LoginSession).where(LoginSession.user_id == user.id)
                       .where(col(LoginSession.ended_at).is_(None))).all()
    for session in sessions:
        session.ended_at, session.end_reason = clock.now(), reason[:64]
        db.add(session)
    return len(sessions)


def _check_roles(db: Session, actor: Principal, username: str, kind: str,
                 current: list[Role], wanted: list[Role]) -> None:
    """No escalation (the actor holds every permission of each role added or removed) and
    the vendor ceiling (over all the wanted roles)."""
    changed = {r.id for r in wanted} ^ {r.id for r in current}
    touched = [r for r in [*wanted, *current] if r.id in changed]
    require_held(actor, role_permissions(db, [r.id or 0 for r in touched]),
                 f"give or take role(s) {', '.join(sorted({r.name for r in touched}))}")
    check_vendor_ceiling(username, kind, role_permissions(db, [r.id or 0 for r in wanted]),
                         [r.name for r in wanted])


def _roles_named(db: Session, names: Iterable[str]) -> list[Role]:
    unique = list(dict.fromkeys(n.strip() for n in names if n.strip()))
    return [get_role(db, name) for name in unique]


@service("users.add", audit_errors=True, target_prefix="user:")
def create_user(db: Session, actor: Principal, username: str, *, security: SecuritySettings,
                password: str | None, kind: AccountKind = AccountKind.STAFF,
                roles: tuple[str, ...] = (), display_name: str = "", email: str = "",
                must_change_password: bool = False) -> User:
    """Create an account. Needs users.write (and roles.write plus every permission of the
    roles to give it roles).

    Raises ValidationError for a bad username, display name, email or a weak password,
    Conflict when the name is taken or a vendor would exceed the support ceiling,
    NotFound for an unknown role, AccessDenied.
    """
    actor.require(Permission.USERS_WRITE)
    if roles:
        actor.require(Permission.ROLES_WRITE)
    validate_username(username)
    validate_display_name(display_name)
    validate_email(email)
    kind = AccountKind(kind)
    if password is not None:
        check_policy(security, password, username=username, user_inputs=(display_name, email))
    with writing(db):
        if db.exec(select(User.id).where(User.username == username)).first() is not None:
            raise Conflict(f"a user named {username!r} exists already")
        wanted = _roles_named(db, roles)
        _check_roles(db, actor, username, kind.value, [], wanted)
        user = User(username=username, display_name=display_name, email=email, kind=kind.value,
                    password_hash=hash_password(security, password) if password else None,
                    password_changed_at=clock.now() if password else None,
                    must_change_password=must_change_password,
                    created_at=clock.now(), created_by=actor.name)
        db.add(user)
        db.flush()
        for role in wanted:
            db.add(UserRole(user_id=user.id, role_id=role.id))
        audit.record(db, actor, "users.add", target=f"user:{username}",
                     details={"kind": kind.value, "roles": [r.name for r in wanted],
                              "display_name": display_name,
                              "must_change": must_change_password})
    return user


@service("users.edit", audit_errors=True, target_prefix="user:")
def edit_user(db: Session, actor: Principal, username: str, *,
              display_name: str | None = None, email: str | None = None) -> User:
    """Change an account's display name and/or email. Needs users.write.
    Raises NotFound, ValidationError."""
    actor.require(Permission.USERS_WRITE)
    if display_name is not None:
        validate_display_name(display_name)
    if email is not None:
        validate_email(email)
    with writing(db):
        user = get_user(db, username)
        changed: list[str] = []
        if display_name is not None and display_name != user.display_name:
            user.display_name = display_name
            changed.append("display_name")
        if email is not None and email != user.email:
            user.email = email
            changed.append("email")
        if changed:
            db.add(user)
            audit.record(db, actor, "users.edit", target=f"user:{username}",
                         details={"changed": changed, "display_name": user.display_name})
    return user


@service("users.disable", audit_errors=True, target_prefix="user:")
def disable_user(db: Session, actor: Principal, username: str, *, reason: str) -> User:
    """Disable an account: it cannot log in, and its open sessions end at their next action.
    Needs users.write; not one's own account.

    Raises NotFound, ValidationError (no reason), Conflict (already disabled, or the last
    active administrator), AccessDenied.
    """
    actor.require(Permission.USERS_WRITE)
    reason = validate_reason(reason)
    with writing(db):
        serialize_access_changes(db)
        user = get_user(db, username)
        forbid_self(actor, user, "disable")
        if user.disabled:
            raise Conflict(f"{username} is disabled already")
        with keeping_an_administrator(db, f"disabling {username}"):
            user.disabled, user.disabled_at, user.disabled_reason = True, clock.now(), reason
            db.add(user)
        ended = _end_sessions(db, user, "account disabled")
        audit.record(db, actor, "users.disable", target=f"user:{username}",
                     details={"reason": reason, "sessions_ended": ended})
    return user


@service("users.enable", audit_errors=True, target_prefix="user:")
def enable_user(db: Session, actor: Principal, username: str, *, reason: str) -> User:
    """Enable a disabled account. Needs users.write; not one's own account.
    Raises NotFound, ValidationError, Conflict (not disabled), AccessDenied."""
    actor.require(Permission.USERS_WRITE)
    reason = validate_reason(reason)
    with writing(db):
        user = get_user(db, username)
        forbid_self(actor, user, "enable")
        if not user.disabled:
            raise Conflict(f"{username} is not disabled")
        user.disabled, user.disabled_at, user.disabled_reason = False, None, ""
        db.add(user)
        audit.record(db, actor, "users.enable", target=f"user:{username}",
                     details={"reason": reason})
    return user


@service("users.unlock", audit_errors=True, target_prefix="user:")
def unlock_user(db: Session, actor: Principal, username: str, *, reason: str) -> User:
    """Lift a lockout (password or TOTP failures) now. Needs users.write; not one's own
    account. The OS owner can always do this from the CLI, so even the last administrator
    is never locked out for longer than it takes to run `users unlock`.

    Raises NotFound, ValidationError, Conflict (not locked), AccessDenied.
    """
    actor.require(Permission.USERS_WRITE)
    reason = validate_reason(reason)
    with writing(db):
        user = get_user(db, username)
        forbid_self(actor, user, "unlock")
        if user.locked_until is None or user.locked_until <= clock.now():
            raise Conflict(f"{username} is not locked")
        until = user.locked_until
        user.locked_until = None
        user.failed_password_count, user.failed_password_since = 0, None
        user.failed_totp_count, user.failed_totp_since = 0, None
        db.add(user)
        audit.record(db, actor, "users.unlock", target=f"user:{username}",
                     details={"reason": reason, "was_locked_until": until.isoformat()})
    return user


@service("users.reset_password", audit_errors=True, target_prefix="user:")
def reset_password(db: Session, actor: Principal, username: str, *,
                   security: SecuritySettings) -> str:
    """Give an account a new random temporary password and return it (show it once, never
    store it). The user must change it at the next login; open sessions end. Needs
    users.write; not one's own account (change your own password instead).

    Raises NotFound, AccessDenied.
    """
    actor.require(Permission.USERS_WRITE)
    with writing(db):
        user = get_user(db, username)
        forbid_self(actor, user, "reset the password of")
        password = temporary_password(security, username)
        user.password_hash = hash_password(security, password)
        user.password_changed_at = clock.now()
        user.must_change_password = True
        user.failed_password_count, user.failed_password_since = 0, None
        db.add(user)
        ended = _end_sessions(db, user, "password reset")
        audit.record(db, actor, "users.reset_password", target=f"user:{username}",
                     details={"must_change": True, "sessions_ended": ended})
    return password


@service("users.set_roles", audit_errors=True, target_prefix="user:")
def set_roles(db: Session, actor: Principal, username: str, roles: Iterable[str]) -> User:
    """Replace an account's roles. Needs roles.write and every permission of each role
    given or taken; not one's own account. A vendor account stays within the support
    ceiling; the last active administrator keeps the admin powers.

    Raises NotFound, Conflict, AccessDenied.
    """
    actor.require(Permission.ROLES_WRITE)
    with writing(db):
        serialize_access_changes(db)
        user = get_user(db, username)
        forbid_self(actor, user, "change the roles of")
        current = roles_of(db, user.id or 0)
        wanted = _roles_named(db, roles)
        _check_roles(db, actor, username, user.kind, current, wanted)
        added = [r for r in wanted if r.id not in {c.id for c in current}]
        removed = [r for r in current if r.id not in {w.id for w in wanted}]
        if not added and not removed:
            return user
        with keeping_an_administrator(db, f"taking role(s) from {username}"):
            for role in removed:
                link = db.get(UserRole, (user.id, role.id))
                if link is not None:
                    db.delete(link)
            for role in added:
                db.add(UserRole(user_id=user.id, role_id=role.id))
        audit.record(db, actor, "users.set_roles", target=f"user:{username}",
                     details={"roles": sorted(r.name for r in wanted),
                              "added": sorted(r.name for r in added),
                              "removed": sorted(r.name for r in removed)})
    return user


@service("users.mfa_reset", audit_errors=True, target_prefix="user:")
def reset_mfa(db: Session, actor: Principal, username: str, *, reason: str) -> User:
    """Remove an account's TOTP secret (a lost phone): it enrols again at the next login
    when TOTP is required. Needs users.write; not one's own account.

    Raises NotFound, ValidationError, Conflict (no TOTP set up), AccessDenied.
    """
    actor.require(Permission.USERS_WRITE)
    reason = validate_reason(reason)
    with writing(db):
        user = get_user(db, username)
        forbid_self(actor, user, "reset the second factor of")
        if user.totp_secret is None:
            raise Conflict(f"{username} has no TOTP set up")
        user.totp_secret, user.totp_confirmed, user.totp_last_step = None, False, None
        user.failed_totp_count, user.failed_totp_since = 0, None
        db.add(user)
        audit.record(db, actor, "users.mfa_reset", target=f"user:{username}",
                     details={"reason": reason})
    return user


@service("users.delete", audit_errors=True, target_prefix="user:")
def delete_user(db: Session, actor: Principal, username: str) -> None:
    """Delete an account that never logged in (a mistake); others are disabled instead.
    Needs users.write; not one's own account.

    Raises NotFound, Conflict (has logged in, or the last active administrator),
    AccessDenied.
    """
    actor.require(Permission.USERS_WRITE)
    with writing(db):
        serialize_access_changes(db)
        user = get_user(db, username)
        forbid_self(actor, user, "delete")
        used = db.exec(select(LoginSession.id).where(LoginSession.user_id == user.id)).first()
        if user.last_login_at is not None or used is not None:
            raise Conflict(f"{username} has logged in before: disable the account instead, "
                           "so its history stays attributable")
        with keeping_an_administrator(db, f"deleting {username}"):
            for link in db.exec(select(UserRole).where(UserRole.user_id == user.id)).all():
                db.delete(link)
            db.flush()  # links first: the ORM does not know they depend on the user
            db.delete(user)
        audit.record(db, actor, "users.delete", target=f"user:{username}",
                     details={"kind": user.kind})
