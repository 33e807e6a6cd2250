"""Logging in and out, login sessions, and the live authorizer of user principals.

A login is two steps when the account uses TOTP: `begin_login` checks the password (and
says what comes next), `finish_login` checks the code (or confirms a first enrolment) and
opens the session. `authenticate` does both for callers that have everything at once.

A user principal's permissions are re-read at every `require`: a disabled account, an ended
session or a changed role takes effect at the user's next action, not at the next login.
An account that must change its password holds no permission until it has.
"""

from __future__ import annotations

import secrets
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from sqlmodel import Session, col, select

from console import audit, clock, mfa
from console.config import SecuritySettings
from console.db import Database, writing
from console.errors import AuthenticationFailed, ConsoleError, SessionEnded
from console.keys import KeyStore
from console.passwords import hash_password, needs_rehash, verify_password
from console.permissions import SUPPORT_CEILING, Permission
from console.principal import Principal, PrincipalKind
from console.roles import roles_of, user_permissions
from models.identity import LoginSession, User

ACTIVE_SESSION_WINDOW = timedelta(minutes=3)  # a session unseen this long counts as gone
PENDING_LOGIN_TIME = timedelta(minutes=5)  # time to type the code after the password
CODE_FAILED = "Login failed: wrong or expired code."


class LoginStep(StrEnum):
    DONE = "done"  # nothing more: finish_login opens the session
    TOTP = "totp"  # a code from the enrolled authenticator
    ENROL = "enrol"  # TOTP is required but not set up: enrol now, confirm with a first code


@dataclass
class PendingLogin:
    """A login whose password was right. Only `begin_login` makes one (a hand-made one
    carries no issued token and is refused); it is good for one `finish_login`, within
    PENDING_LOGIN_TIME."""

    user_id: int
    username: str
    step: LoginStep
    must_change_password: bool
    channel: str
    source: str | None
    expires_at: datetime
    used: bool = False
    token: str = field(default="", repr=False)


_issued: dict[str, datetime] = {}  # token of each PendingLogin begin_login made -> expiry
_issued_lock = threading.Lock()


def _issue(pending: PendingLogin) -> None:
    pending.token = secrets.token_urlsafe(24)
    now = clock.now()
    with _issued_lock:
        for token in [t for t, until in _issued.items() if until < now]:
            del _issued[token]
        _issued[pending.token] = pending.expires_at


def _check_pending(pending: PendingLogin, now: datetime, *, spend: bool = False) -> None:
    with _issued_lock:
        valid = (not pending.used and now <= pending.expires_at
                 and _issued.get(pending.token) == pending.expires_at)
        if spend or not valid:
            _issued.pop(pending.token, None)
    if not valid:
        raise AuthenticationFailed("Login timed out: start again.")


@dataclass(frozen=True)
class Enrolment:
    """What the user types or scans into an authenticator app (shown once)."""

    secret: str  # base32
    uri: str  # otpauth://


def _anonymous(username: str, source: str | None) -> Principal:
    return Principal(name=f"anonymous:{username[:64]}", kind=PrincipalKind.USER, source=source)


def _as_actor(user: User, source: str | None, session_id: str | None = None) -> Principal:
    return Principal(name=user.username, kind=PrincipalKind.USER, user_id=user.id,
                     account_kind=user.kind, session_id=session_id, source=source)


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
                from console.support_sessions import CHANNEL, session_permissions

                # A support session is opened with the key, the grant and TOTP, never the
                # password: a temporary password (a reset) does not empty it.
                if user.must_change_password and (session is None
                                                  or session.channel != CHANNEL):
                    return frozenset()
                return session_permissions(db, user, session, permissions)
            if user.must_change_password:
                return frozenset()  # nothing until the temporary password is replaced
            return permissions

    return authorize


def is_locked(user: User, now: datetime) -> bool:
    return user.locked_until is not None and user.locked_until > now


def register_failure(db: Session, user: User, security: SecuritySettings, now: datetime,
                      actor: Principal) -> bool:
    """Count a password failure (never while locked); lock at the threshold and audit it.
    Returns True when this failure locked the account."""
    window = timedelta(minutes=security.lockout_window_minutes)
    if user.failed_password_since is None or now - user.failed_password_since > window:
        user.failed_password_since, user.failed_password_count = now, 0
    user.failed_password_count += 1
    locked = user.failed_password_count >= security.lockout_threshold
    if locked:
        user.locked_until = now + timedelta(minutes=security.lockout_minutes)
        audit.record(db, actor, "auth.lock", target=f"user:{user.username}",
                     details={"until": user.locked_until.isoformat(), "factor": "password",
                              "failures": user.failed_password_count})
        # The count starts afresh when the lock expires.
        user.failed_password_count, user.failed_password_since = 0, None
    db.add(user)
    return locked


def begin_login(database: Database, db: Session, security: SecuritySettings, username: str,
                password: str, *, channel: str = "tui", source: str | None = None
                ) -> PendingLogin:
    """Check a username and password; say what the login needs next.

    Every failure (unknown user, wrong password, locked, disabled) raises the same
    AuthenticationFailed after the same argon2 work, and is audited. A right password
    upgrades the hash when the argon2 parameters changed.
    """
    if db.in_transaction():
        db.rollback()
    user = db.exec(select(User).where(User.username == username)
                   .execution_options(populate_existing=True)).first()
    ok = verify_password(security, user.password_hash if user else None, password)
    now = clock.now()
    pending: PendingLogin | None = None
    with writing(db):
        if user is not None:
            # Row-locked: parallel guesses must not lose each other's failure counts.
            db.refresh(user, with_for_update=True)
        locked = user is not None and is_locked(user, now)
        if user is None or not ok or locked or user.disabled:
            reason = ("unknown user" if user is None else "disabled" if user.disabled
                      else "locked" if locked else "wrong password")
            anonymous = _anonymous(username, source)
            if user is not None and not ok and not user.disabled and not locked:
                register_failure(db, user, security, now, anonymous)
            audit.record(db, anonymous, "auth.login", target=f"user:{username}",
                         outcome=audit.Outcome.DENIED,
                         details={"reason": reason, "channel": channel})
        else:
            user.failed_password_count, user.failed_password_since = 0, None
            if user.password_hash and needs_rehash(security, user.password_hash):
                user.password_hash = hash_password(security, password)
            db.add(user)
            roles = roles_of(db, user.id or 0)
            step = (LoginStep.TOTP if user.totp_confirmed
                    else LoginStep.ENROL if mfa.mfa_required_for(user, roles, security)
                    else LoginStep.DONE)
            pending = PendingLogin(user_id=user.id or 0, username=user.username, step=step,
                                   must_change_password=user.must_change_password,
                                   channel=channel, source=source,
                                   expires_at=now + PENDING_LOGIN_TIME)
            _issue(pending)
            if step is not LoginStep.DONE:
                audit.record(db, _as_actor(user, source), "auth.password",
                             target=f"user:{username}",
                             details={"channel": channel, "next": step.value})
    if pending is None:
        raise AuthenticationFailed()
    return pending


def start_enrolment(db: Session, keys: KeyStore, pending: PendingLogin) -> Enrolment:
    """For a login at step ENROL: make a new TOTP secret (stored encrypted, unconfirmed)
    and return it to show. The login's code confirms it."""
    _check_pending(pending, clock.now())
    if pending.step is not LoginStep.ENROL:
        raise AuthenticationFailed("Login timed out: start again.")
    secret = mfa.new_secret()
    if db.in_transaction():
        db.rollback()
    with writing(db):
        user = db.get(User, pending.user_id, populate_existing=True)
        if user is None:
            raise AuthenticationFailed()
        mfa.store_secret(keys, user, secret)
        db.add(user)
        audit.record(db, _as_actor(user, pending.source), "auth.totp_enrol",
                     target=f"user:{user.username}", details={"stage": "started"})
    return Enrolment(secret=mfa.secret_base32(secret),
                     uri=mfa.provisioning_uri(secret, pending.username))


def finish_login(database: Database, db: Session, security: SecuritySettings,
                 keys: KeyStore | None, pending: PendingLogin, *,
                 code: str | None = None) -> Principal:
    """Check the TOTP code (steps TOTP and ENROL) and open the login session.

    Raises AuthenticationFailed for a wrong, replayed or expired code (counted toward the
    TOTP lockout), a timed-out login, or an account disabled or locked meanwhile.
    """
    now = clock.now()
    _check_pending(pending, now)
    if pending.step is not LoginStep.DONE:
        if keys is None:
            raise ConsoleError("TOTP needs the installation's keys; none were given")
        if not mfa.verify_code(db, security, keys, pending.user_id, code or "",
                               source=pending.source):
            raise AuthenticationFailed(CODE_FAILED)
    _check_pending(pending, now, spend=True)  # one session per login, even if raced
    pending.used = True
    if db.in_transaction():
        db.rollback()
    principal: Principal | None = None
    with writing(db):
        user = db.get(User, pending.user_id, populate_existing=True)
        if user is None or user.disabled or is_locked(user, now):
            reason = "disabled" if user is None or user.disabled else "locked"
            audit.record(db, _anonymous(pending.username, pending.source), "auth.login",
                         target=f"user:{pending.username}", outcome=audit.Outcome.DENIED,
                         details={"reason": reason, "channel": pending.channel})
        else:
            if pending.step is LoginStep.ENROL:
                user.totp_confirmed = True
                audit.record(db, _as_actor(user, pending.source), "auth.totp_enrol",
                             target=f"user:{user.username}", details={"stage": "confirmed"})
            user.last_login_at = now
            db.add(user)
            session = LoginSession(id=str(uuid.uuid4()), user_id=user.id,
                                   principal=user.username, channel=pending.channel,
                                   source=pending.source, started_at=now, last_seen_at=now)
            db.add(session)
            roles, permissions = live_permissions(db, user)
            if user.must_change_password:
                permissions = frozenset()
            principal = Principal(
                name=user.username, kind=PrincipalKind.USER, permissions=permissions,
                user_id=user.id, account_kind=user.kind, roles=roles, session_id=session.id,
                source=pending.source, authorizer=user_authorizer(database))
            audit.record(db, principal, "auth.login", target=f"user:{user.username}",
                         details={"channel": pending.channel, "roles": list(roles),
                                  "mfa": pending.step.value,
                                  "must_change": user.must_change_password})
    if principal is None:
        raise AuthenticationFailed()
    return principal


def authenticate(database: Database, db: Session, security: SecuritySettings, username: str,
                 password: str, *, channel: str = "tui", source: str | None = None,
                 keys: KeyStore | None = None, totp_code: str | None = None) -> Principal:
    """Both login steps at once (password, and the TOTP code when the account uses one).

    Raises AuthenticationFailed; an account that must still enrol TOTP is told to log in
    to the terminal UI once to set it up.
    """
    pending = begin_login(database, db, security, username, password, channel=channel,
                          source=source)
    if pending.step is LoginStep.ENROL:
        raise AuthenticationFailed("Login incomplete: this account must set up TOTP first; "
                                   "log in to the console (terminal UI) once to enrol.")
    if pending.step is LoginStep.TOTP and not totp_code:
        raise AuthenticationFailed("Login incomplete: this account needs a TOTP code.")
    return finish_login(database, db, security, keys or db.info.get("keys"), pending,
                        code=totp_code)


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
