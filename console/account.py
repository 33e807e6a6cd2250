"""Self-service for the logged-in user: change the password, set up TOTP, and the idle
lock of the terminal UI (lock, and unlock with the password and code again).

These act on the actor's own account only, so they need no permission: being logged in as
that user is the authority. Each is audited.
"""

from __future__ import annotations

from sqlmodel import Session

from console import audit, clock, mfa
from console.auth import Enrolment, is_locked, register_failure
from console.config import SecuritySettings
from console.contract import service
from console.db import writing
from console.errors import (
    AccessDenied,
    AuthenticationFailed,
    Conflict,
    SessionEnded,
    ValidationError,
)
from console.keys import KeyStore
from console.passwords import check_policy, hash_password, verify_password
from console.principal import Principal
from models.identity import LoginSession, User


def _own_account(db: Session, actor: Principal) -> User:
    if actor.user_id is None:
        raise AccessDenied(f"{actor.name} is not a console user: only console users have a "
                           "password and a second factor here")
    if db.in_transaction():
        db.rollback()
    user = db.get(User, actor.user_id, populate_existing=True)
    if user is None or user.disabled:
        raise SessionEnded("your account has been disabled: this session is over")
    return user


def _end_this_session(db: Session, actor: Principal, reason: str) -> None:
    session = db.get(LoginSession, actor.session_id) if actor.session_id else None
    if session is not None and session.ended_at is None:
        session.ended_at, session.end_reason = clock.now(), reason[:64]
        db.add(session)


@service("auth.password_change")
def change_password(db: Session, actor: Principal, *, security: SecuritySettings, new: str,
                    current: str | None = None) -> None:
    """Change the actor's own password. Any logged-in console user may.

    The current password is required, except right after logging in with a temporary
    password (must_change_password), where the login has just checked it. A wrong current
    password counts toward the lockout. Raises ValidationError naming the rule that failed
    (policy, same as before, wrong current password), AccessDenied for a non-user actor,
    SessionEnded when the account was disabled.
    """
    user = _own_account(db, actor)
    now = clock.now()
    if current is not None or not user.must_change_password:
        if not current:
            raise ValidationError("current password", "enter your current password")
        ok = verify_password(security, user.password_hash, current)
        if not ok or is_locked(user, now):
            with writing(db):
                db.refresh(user, with_for_update=True)
                if not is_locked(user, now):
                    register_failure(db, user, security, now, actor)
                audit.record(db, actor, "auth.password_change", target=f"user:{user.username}",
                             outcome=audit.Outcome.DENIED,
                             details={"reason": "locked" if ok else "wrong current password"})
            if ok:
                raise ValidationError("current password", "the account is locked after too "
                                      "many failures: try again later")
            raise ValidationError("current password", "is not correct")
    check_policy(security, new, username=user.username,
                 user_inputs=(user.display_name, user.email))
    if user.password_hash and verify_password(security, user.password_hash, new):
        raise ValidationError("new password", "must differ from the current one")
    forced = user.must_change_password
    with writing(db):
        user.password_hash = hash_password(security, new)
        user.password_changed_at = now
        user.must_change_password = False
        db.add(user)
        audit.record(db, actor, "auth.password_change", target=f"user:{user.username}",
                     details={"forced": forced})


@service("auth.totp_enrol")
def enrol_totp(db: Session, actor: Principal, *, keys: KeyStore) -> Enrolment:
    """Start setting up TOTP for the actor's own account (a new, unconfirmed secret; any
    earlier unconfirmed one is replaced). Confirm with `confirm_totp`.

    Raises Conflict when TOTP is already set up (an administrator resets it first).
    """
    user = _own_account(db, actor)
    if user.totp_confirmed:
        raise Conflict("TOTP is set up already; to move it to a new device, ask an "
                       "administrator to reset it (users mfa-reset)")
    secret = mfa.new_secret()
    with writing(db):
        mfa.store_secret(keys, user, secret)
        db.add(user)
        audit.record(db, actor, "auth.totp_enrol", target=f"user:{user.username}",
                     details={"stage": "started"})
    return Enrolment(secret=mfa.secret_base32(secret),
                     uri=mfa.provisioning_uri(secret, user.username))


@service("auth.totp_enrol")
def confirm_totp(db: Session, actor: Principal, *, security: SecuritySettings,
                 keys: KeyStore, code: str) -> None:
    """Confirm the actor's new TOTP secret with a first code; from then on every login asks
    for a code. Raises ValidationError for a wrong code, Conflict when nothing is pending."""
    user = _own_account(db, actor)
    if user.totp_secret is None or user.totp_confirmed:
        raise Conflict("no TOTP set-up is in progress: start it again")
    if not mfa.verify_code(db, security, keys, user.id or 0, code, source=actor.source):
        raise ValidationError("code", "wrong or expired: type the code your app shows now")
    with writing(db):
        user = db.get(User, actor.user_id, populate_existing=True) or user
        user.totp_confirmed = True
        db.add(user)
        audit.record(db, actor, "auth.totp_enrol", target=f"user:{user.username}",
                     details={"stage": "confirmed"})


def uses_totp(db: Session, actor: Principal) -> bool:
    """Whether the actor's own account has TOTP set up (the lock screen asks for a code)."""
    return _own_account(db, actor).totp_confirmed


def record_idle_lock(db: Session, actor: Principal, *, idle_minutes: int | None) -> None:
    """Audit that the terminal UI locked itself after `idle_minutes` without input (None:
    locked on request)."""
    audit.record_alone(db, actor, "auth.idle_lock", target=f"user:{actor.name}",
                       details={"idle_minutes": idle_minutes} if idle_minutes is not None
                       else {"manual": True})


def unlock_session(db: Session, actor: Principal, *, security: SecuritySettings,
                   keys: KeyStore, password: str, code: str | None = None) -> None:
    """Unlock an idle-locked session with the account's password (and TOTP code if it has
    one). Failures count toward the lockout like a login's.

    Raises AuthenticationFailed for a wrong password or code, SessionEnded when the account
    is disabled or became locked (the session is then over).
    """
    user = _own_account(db, actor)
    now = clock.now()
    ok = verify_password(security, user.password_hash, password)
    if not ok or is_locked(user, now):
        with writing(db):
            db.refresh(user, with_for_update=True)
            was_locked = is_locked(user, now)
            newly = False if was_locked else register_failure(db, user, security, now, actor)
            audit.record(db, actor, "auth.unlock", target=f"user:{user.username}",
                         outcome=audit.Outcome.DENIED,
                         details={"reason": "locked" if was_locked else "wrong password"})
            if was_locked or newly:
                _end_this_session(db, actor, "locked after failed unlock")
        if was_locked or newly:
            raise SessionEnded("too many failed attempts: the account is locked and this "
                               "session is over")
        raise AuthenticationFailed("Wrong password.")
    if user.totp_confirmed and not mfa.verify_code(db, security, keys, user.id or 0,
                                                   code or "", source=actor.source):
        with writing(db):
            user = db.get(User, actor.user_id, populate_existing=True) or user
            audit.record(db, actor, "auth.unlock", target=f"user:{user.username}",
                         outcome=audit.Outcome.DENIED, details={"reason": "wrong code"})
            if is_locked(user, clock.now()):
                _end_this_session(db, actor, "locked after failed unlock")
                locked = True
            else:
                locked = False
        if locked:
            raise SessionEnded("too many failed attempts: the account is locked and this "
                               "session is over")
        raise AuthenticationFailed("Wrong or expired code.")
    with writing(db):
        user.failed_password_count, user.failed_password_since = 0, None
        db.add(user)
        audit.record(db, actor, "auth.unlock", target=f"user:{user.username}")
