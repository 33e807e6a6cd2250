"""Logging in and out, login sessions, and the live authorizer of user principals.

A user principal's permissions are re-read at every `require`: a disabled account, an ended
session or a changed role takes effect at the user's next action, not at the next login.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlmodel import Session, col, select

from console import audit, clock
from console.config import SecuritySettings
from console.db import Database, writing
from console.errors import AuthenticationFailed, SessionEnded
from console.passwords import hash_password, needs_rehash, verify_password
from console.permissions import SUPPORT_CEILING, Permission
from console.principal import Principal, PrincipalKind
from console.roles import user_permissions
from models.identity import LoginSession, User

ACTIVE_SESSION_WINDOW = timedelta(minutes=3)  # a session unseen this long counts as gone


def _anonymous(username: str, source: str | None) -> Principal:
    return Principal(name=f"anonymous:{username[:64]}", kind=PrincipalKind.USER, source=source)


def vendor_scope(db: Session, user: User) -> frozenset[Permission]:
    """A vendor account's permissions from its active support grant (none without one),
    looked up against the clock at every call: expiry and revocation hold at once."""
    from console.support_rules import active_scope

    return active_scope(db, user.id or 0)


def live_permissions(db: Session, user: User) -> tuple[tuple[str, ...], frozenset[Permission]]:
    roles, permissions = user_permissions(db, user.id or 0)
    if user.kind == "vendor":
        permissions = permissions & SUPPORT_CEILING & vendor_scope(db, user)
    return roles, permissions


def user_authorizer(database: Database):
    """The authorizer closure for a logged-in user's Principal."""

    def authorize(principal: Principal) -> frozenset[Permission]:
        with database.scope() as db:
            user = db.get(User, principal.user_id)
            if user is None or user.disabled:
                raise SessionEnded("your account has been disabled: this session is over")
            session = db.get(LoginSession, principal.session_id) if principal.session_id \
                else None
            if session is not None and session.ended_at is not None:
                raise SessionEnded(f"this session has ended ({session.end_reason}): "
                                   "log in again")
            permissions = live_permissions(db, user)[1]
            if user.kind == "vendor":  # grant scope only inside a live support session
                from console.support_sessions import session_permissions

                return session_permissions(db, user, session, permissions)
            return permissions

    return authorize


def _register_failure(user: User, security: SecuritySettings) -> None:
    now = clock.now()
    window = timedelta(minutes=security.lockout_window_minutes)
    if user.failed_password_since is None or now - user.failed_password_since > window:
        user.failed_password_since, user.failed_password_count = now, 0
    user.failed_password_count += 1
    if user.failed_password_count >= security.lockout_threshold:
        user.locked_until = now + timedelta(minutes=security.lockout_minutes)


def authenticate(database: Database, db: Session, security: SecuritySettings, username: str,
                 password: str, *, channel: str = "tui", source: str | None = None) -> Principal:
    """Check a username and password and open a login session.

    Every failure (unknown user, wrong password, locked, disabled) raises the same
    AuthenticationFailed after the same argon2 work, and is audited.
    """
    if db.in_transaction():
        db.rollback()
    user = db.exec(select(User).where(User.username == username)).first()
    ok = verify_password(security, user.password_hash if user else None, password)
    now = clock.now()
    with writing(db):
        if user is not None:
            db.refresh(user)
        locked = user is not None and user.locked_until is not None and user.locked_until > now
        if user is None or not ok or locked or user.disabled:
            reason = ("unknown user" if user is None else "disabled" if user.disabled
                      else "locked" if locked else "wrong password")
            if user is not None and not ok and not user.disabled:
                _register_failure(user, security)
                db.add(user)
                if user.locked_until and user.locked_until > now and not locked:
                    audit.record(db, _anonymous(username, source), "auth.lock",
                                 target=f"user:{username}",
                                 details={"until": user.locked_until.isoformat(),
                                          "failures": user.failed_password_count})
            audit.record(db, _anonymous(username, source), "auth.login",
                         target=f"user:{username}", outcome=audit.Outcome.DENIED,
                         details={"reason": reason, "channel": channel})
            failed = True
        else:
            failed = False
            user.failed_password_count, user.failed_password_since = 0, None
            user.locked_until = None
            if user.password_hash and needs_rehash(security, user.password_hash):
                user.password_hash = hash_password(security, password)
            user.last_login_at = now
            db.add(user)
            session = LoginSession(id=str(uuid.uuid4()), user_id=user.id,
                                   principal=user.username, channel=channel, source=source,
                                   started_at=now, last_seen_at=now)
            db.add(session)
            roles, permissions = live_permissions(db, user)
            principal = Principal(
                name=user.username, kind=PrincipalKind.USER, permissions=permissions,
                user_id=user.id, account_kind=user.kind, roles=roles, session_id=session.id,
                source=source, authorizer=user_authorizer(database))
            audit.record(db, principal, "auth.login", target=f"user:{username}",
                         details={"channel": channel, "roles": list(roles)})
    if failed:
        raise AuthenticationFailed()
    return principal


def touch_session(db: Session, principal: Principal) -> None:
    """Mark the session as still alive (the TUI calls this every minute)."""
    if not principal.session_id:
        return
    with writing(db):
        session = db.get(LoginSession, principal.session_id)
        if session is not None and session.ended_at is None:
            session.last_seen_at = clock.now()
            db.add(session)


def end_session(db: Session, principal: Principal, *, reason: str = "logout") -> None:
    """Close the login session and record the logout (idempotent)."""
    if db.in_transaction():
        db.rollback()
    with writing(db):
        session = db.get(LoginSession, principal.session_id) if principal.session_id else None
        if session is not None and session.ended_at is not None:
            return
        if session is not None:
            session.ended_at, session.end_reason = clock.now(), reason[:64]
            db.add(session)
        audit.record(db, principal, "auth.logout", target=f"user:{principal.name}",
                     details={"reason": reason})


def active_sessions(db: Session) -> list[LoginSession]:
    """Sessions open and seen recently, newest first."""
    since = clock.now() - ACTIVE_SESSION_WINDOW
    return list(db.exec(select(LoginSession).where(col(LoginSession.ended_at).is_(None))
                        .where(col(LoginSession.last_seen_at) >= since)
                        .order_by(col(LoginSession.started_at).desc())).all())
