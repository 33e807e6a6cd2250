"""Support sessions: what the SSH gate's forced command opens, after TOTP.

A support session is a login session on the `support` channel plus a SupportSession row
with the same id, tied to the grant it was opened under. Its permissions are the vendor's
role ∩ the support ceiling ∩ the grant's scope, and they hold only while that grant (or the
extension that superseded it) is active: `session_permissions`, called by the user
authorizer at every `require`, raises SessionEnded the moment it is not, saying why.
Logged in any other way (the login screen, `--user` on the CLI), a vendor account holds no
permission at all: it can only ask for access and follow its requests.

Closing a session signs its receipt (console.receipts). Its transcript is every audit
event carrying its id: screens opened, queries, reveals, denials.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from console import audit, clock
from console.auth import ACTIVE_SESSION_WINDOW, end_session, live_permissions, user_authorizer
from console.config import SecuritySettings
from console.contract import service
from console.db import Database, writing
from console.errors import AccessDenied, SessionEnded
from console.keys import KeyStore
from console.masking import mask_text, sees_pii
from console.permissions import Permission
from console.principal import Principal, PrincipalKind
from console.support_rules import (
    GrantStatus,
    active_grant,
    get_grant,
    grant_status,
    latest_in_chain,
    scope_of,
    utc_text,
)
from models.audit import AuditEvent
from models.identity import LoginSession, User
from models.support import SupportGrant, SupportReceipt, SupportSession

CHANNEL = "support"
FEED_KEEP = timedelta(minutes=10)  # the monitor keeps showing a session this long after it ends


def end_message(grant: SupportGrant, now: datetime | None = None) -> str:
    """Why a grant no longer gives access, in words for the engineer."""
    status = grant_status(grant, now)
    if status == GrantStatus.REVOKED:
        return (f"support access ended: grant #{grant.id} was revoked by {grant.ended_by}"
                f" ({grant.end_note})")
    if status == GrantStatus.EXPIRED:
        return f"support access ended: grant #{grant.id} expired at {utc_text(grant.ends_at)}"
    return f"support access ended: grant #{grant.id} is {status}"


def session_permissions(db: Session, user: User, login: LoginSession | None,
                        permissions: frozenset[Permission]) -> frozenset[Permission]:
    """A vendor's permissions in this login session right now (see the module docstring).
    Raises SessionEnded when the support session or its grant has ended."""
    if login is None or login.channel != CHANNEL:
        return frozenset()
    record = db.get(SupportSession, login.id)
    if record is None or record.engineer_id != user.id:
        return frozenset()
    if record.ended_at is not None:
        raise SessionEnded(f"this support session has ended ({record.end_reason})")
    grant = latest_in_chain(db, get_grant(db, record.grant_id))
    now = clock.now()
    if grant_status(grant, now) != GrantStatus.ACTIVE:
        raise SessionEnded(end_message(grant, now))
    return permissions & scope_of(grant.scope)


def _engineer_principal(record: SupportSession) -> Principal:
    return Principal(name=record.engineer, kind=PrincipalKind.USER, user_id=record.engineer_id,
                     account_kind="vendor", session_id=record.id, source=record.source)


# -- opening -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Admission:
    """An engineer that may start a support session now (TOTP still to check)."""

    user_id: int
    engineer: str
    grant_id: int
    ends_at: datetime
    scope: tuple[str, ...]


def admit(db: Session, engineer: str, *, source: str | None = None) -> Admission:
    """Check that `engineer` may start a support session now: an enabled vendor account,
    not locked, with an active grant and TOTP set up. A refusal is audited and raised as
    AccessDenied with a message for the engineer."""
    user = db.exec(select(User).where(User.username == engineer)).first()
    now = clock.now()
    grant = active_grant(db, user.id or 0, now) if user is not None else None
    if user is None or user.kind != "vendor":
        problem = f"{engineer} is not a FlowPro support account"
    elif user.disabled:
        problem = f"the account {engineer} is disabled"
    elif user.locked_until is not None and user.locked_until > now:
        problem = (f"the account {engineer} is locked after failed attempts until "
                   f"{utc_text(user.locked_until)}")
    elif grant is None:
        problem = (f"{engineer} has no active support grant: ask the client to approve your "
                   "request (flowpro-console support request)")
    elif user.totp_secret is None or not user.totp_confirmed:
        problem = (f"TOTP is not set up for {engineer}: a client administrator must enrol it "
                   "before a support session can start")
    else:
        return Admission(user.id or 0, user.username, grant.id or 0, grant.ends_at,
                         tuple(sorted(scope_of(grant.scope))))
    actor = Principal(name=engineer[:64], kind=PrincipalKind.USER,
                      user_id=user.id if user else None, account_kind="vendor", source=source)
    audit.record_alone(db, actor, "support.session.start", target=f"user:{engineer[:64]}",
                       outcome=audit.Outcome.DENIED, details={"reason": problem})
    raise AccessDenied(problem)


def verify_totp(db: Session, security: SecuritySettings, keys: KeyStore, admission: Admission,
                code: str, *, source: str | None = None) -> bool:
    """The engineer's second factor (console.mfa: one use per code, lockout, audited)."""
    from console.mfa import verify_code

    return verify_code(db, security, keys, admission.user_id, code, source=source)


def open_session(database: Database, db: Session, admission: Admission, *,
                 source: str | None = None) -> Principal:
    """Start the support session (after TOTP): the login session, its SupportSession
    record and the principal the console runs as. Raises AccessDenied when the grant ended
    in the meantime."""
    now = clock.now()
    with writing(db):
        user = db.get(User, admission.user_id)
        grant = active_grant(db, admission.user_id, now)
        if user is None or user.disabled or grant is None:
            raise AccessDenied(f"{admission.engineer} has no active support grant any more")
        login = LoginSession(id=str(uuid.uuid4()), user_id=user.id, principal=user.username,
                             channel=CHANNEL, source=source, started_at=now, last_seen_at=now)
        db.add(login)
        db.add(SupportSession(id=login.id, engineer_id=user.id, engineer=user.username,
                              grant_id=grant.id, source=source, started_at=now))
        user.last_login_at = now
        db.add(user)
        db.flush()
        roles, permissions = live_permissions(db, user)
        principal = Principal(
            name=user.username, kind=PrincipalKind.USER, permissions=permissions,
            user_id=user.id, account_kind=user.kind, roles=roles, session_id=login.id,
            source=source, authorizer=user_authorizer(database))
        audit.record(db, principal, "support.session.start", target=f"support-grant:{grant.id}",
                     details={"grant": grant.id, "scope": grant.scope,
                              "until": grant.ends_at.isoformat(), "channel": CHANNEL})
    return principal


# -- closing -----------------------------------------------------------------------------


def close_session(db: Session, keys: KeyStore, session_id: str, reason: str
                  ) -> SupportReceipt | None:
    """End a support session (idempotent) and sign its receipt; returns the receipt, or
    None when there is no such session."""
    from console.receipts import make_receipt

    record = db.get(SupportSession, session_id)
    if record is None:
        return None
    login = db.get(LoginSession, session_id)
    if login is not None and login.ended_at is None:
        end_session(db, _engineer_principal(record), reason=reason)
    with writing(db):
        db.refresh(record)
        if record.ended_at is None:
            record.ended_at, record.end_reason = clock.now(), reason[:255]
            db.add(record)
            audit.record(db, _engineer_principal(record), "support.session.end",
                         target=f"support-grant:{record.grant_id}",
                         details={"reason": reason[:255]})
        receipt = db.exec(select(SupportReceipt)
                          .where(SupportReceipt.session_id == record.id)).first()
        if receipt is None:
            receipt = make_receipt(db, keys, record)
    return receipt


def close_abandoned(db: Session, keys: KeyStore | None, *, engineer_id: int | None = None
                    ) -> int:
    """Close support sessions whose process is gone: the login session ended without
    closing them, or nothing was heard from it for a while (killed, machine lost).
    Returns how many were closed."""
    if keys is None:
        return 0
    if db.in_transaction():
        db.rollback()
    stale = clock.now() - ACTIVE_SESSION_WINDOW
    query = select(SupportSession, LoginSession) \
        .join(LoginSession, col(LoginSession.id) == col(SupportSession.id)) \
        .where(col(SupportSession.ended_at).is_(None)) \
        .where(col(LoginSession.ended_at).is_not(None) | (col(LoginSession.last_seen_at) < stale))
    if engineer_id is not None:
        query = query.where(SupportSession.engineer_id == engineer_id)
    found = list(db.exec(query).all())
    db.rollback()
    for record, login in found:
        reason = login.end_reason if login.ended_at is not None else \
            f"connection lost (last seen {utc_text(login.last_seen_at)})"
        close_session(db, keys, record.id, reason or "ended")
    return len(found)


# -- what the engineer does, and who watches --------------------------------------------


def screen_target(area: str) -> str:
    return f"screen:{area[:64]}"


@service("ui.screen")
def note_screen(db: Session, actor: Principal, target: str) -> None:
    """Record that a vendor account opened a screen (`target`: screen_target(area)); part
    of its support session's transcript. Raises SessionEnded when the session is over."""
    actor.effective_permissions()
    if actor.is_vendor:
        audit.record_alone(db, actor, "ui.screen", target=target[:80])


@dataclass(frozen=True)
class LiveSession:
    id: str
    engineer: str
    grant_id: int
    scope: tuple[str, ...]
    source: str | None
    started_at: datetime
    grant_ends_at: datetime
    ended_at: datetime | None
    end_reason: str


@service("support.monitor")
def live_sessions(db: Session, actor: Principal) -> list[LiveSession]:
    """Support sessions open now, and those that ended in the last minutes. Needs
    support.grant. Closes sessions whose process is gone first."""
    actor.require(Permission.SUPPORT_GRANT)
    close_abandoned(db, db.info.get("keys"))
    since = clock.now() - FEED_KEEP
    records = db.exec(select(SupportSession)
                      .where(col(SupportSession.ended_at).is_(None)
                             | (col(SupportSession.ended_at) >= since))
                      .order_by(col(SupportSession.started_at).desc())).all()
    result = []
    for record in records:
        grant = latest_in_chain(db, get_grant(db, record.grant_id))
        result.append(LiveSession(record.id, record.engineer, grant.id or 0,
                                  tuple(sorted(scope_of(grant.scope))), record.source,
                                  record.started_at, grant.ended_at or grant.ends_at,
                                  record.ended_at, record.end_reason))
    return result


@dataclass(frozen=True)
class FeedItem:
    id: int
    at: datetime
    engineer: str
    session_id: str
    text: str
    outcome: str


@service("support.monitor")
def feed(db: Session, actor: Principal, *, after_id: int = 0, limit: int = 200
         ) -> list[FeedItem]:
    """What engineers do in their support sessions, oldest first, after `after_id` (the
    newest `limit` on the first call). Needs support.grant."""
    from console.receipts import describe_event

    actor.require(Permission.SUPPORT_GRANT)
    since = clock.now() - FEED_KEEP
    ids = list(db.exec(select(SupportSession.id)
                       .where(col(SupportSession.ended_at).is_(None)
                              | (col(SupportSession.ended_at) >= since))).all())
    if not ids:
        return []
    query = select(AuditEvent).where(col(AuditEvent.session_id).in_(ids))
    if after_id:
        events = db.exec(query.where(col(AuditEvent.id) > after_id)
                         .order_by(col(AuditEvent.id)).limit(limit)).all()
    else:
        events = list(reversed(db.exec(query.order_by(col(AuditEvent.id).desc())
                                       .limit(limit)).all()))
    mask = (lambda text: text) if sees_pii(actor) else mask_text
    return [FeedItem(e.id or 0, e.at, e.actor, e.session_id or "", mask(describe_event(e)),
                     e.outcome) for e in events]
