"""FlowPro support access: requests, approvals, grants, extensions and revocation.

The rules this module keeps (issue 5):
- A grant's scope is always within the `support` ceiling (SUPPORT_CEILING); `pii.read` is
  there only when named. Reason required; ticket id matches `[support] ticket_pattern`.
- Windows: `default_hours` when none is named, never above `max_hours`.
- Approval needs support.approve and a person other than the requester (and other than
  the engineer); `approvers_required = 2` needs two different approvers. Approvers may
  shorten the window or narrow the scope, never widen either.
- A request nobody answers expires after `request_expiry_hours`.
- An extension is a new request; only its approval supersedes the old grant.
- Anyone with support.grant may revoke an active grant, with a reason.

A grant is active while it has not ended and `starts_at <= now < ends_at`; expiry needs no
writer, so access ends on time even if nothing runs at that moment.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from console import audit, clock
from console.config import SupportSettings
from console.contract import service
from console.db import writing
from console.errors import AccessDenied, Conflict, NotFound, ValidationError
from console.permissions import Permission
from console.principal import Principal, system_principal
from console.support_rules import (
    GrantStatus,
    RequestStatus,
    active_grant,
    check_text,
    check_ticket,
    duration_text,
    get_grant,
    get_request,
    grant_status,
    parse_scope,
    scope_of,
    scope_text,
    utc_text,
    window_minutes,
)
from models.identity import User
from models.support import SupportApproval, SupportGrant, SupportRequest


def vendor_account(db: Session, username: str) -> User:
    """The enabled vendor account `username`. Raises NotFound, ValidationError (not a
    vendor account), Conflict (disabled)."""
    user = db.exec(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound(f"no user named {username!r}; see `flowpro-console users list`")
    if user.kind != "vendor":
        raise ValidationError("engineer", f"{username} is not a FlowPro (vendor) account; "
                              "support access is only for vendor accounts")
    if user.disabled:
        raise Conflict(f"{username} is disabled; enable the account first")
    return user


def _requester(actor: Principal, engineer: str | None) -> str:
    """Who the request is for. A vendor asks for itself; staff with support.grant may file
    a request for an engineer (and then cannot approve it)."""
    if actor.is_vendor:
        actor.effective_permissions()  # the session must still be alive
        if engineer not in (None, "", actor.name):
            raise AccessDenied("a FlowPro account can only ask for access for itself")
        return actor.name
    actor.require(Permission.SUPPORT_GRANT)
    if not engineer:
        raise ValidationError("engineer", "name the FlowPro engineer the access is for")
    return engineer


def expire_due(db: Session, now: datetime) -> None:
    """Mark pending requests whose time ran out as expired (inside a write transaction),
    one audit event each, by the console itself."""
    due = db.exec(select(SupportRequest).where(SupportRequest.status == RequestStatus.PENDING)
                  .where(col(SupportRequest.expires_at) <= now)).all()
    for request in due:
        request.status = RequestStatus.EXPIRED
        request.decided_at = request.expires_at
        request.decision_note = "expired unanswered"
        db.add(request)
        audit.record(db, system_principal("console"), "support.request.expire",
                     target=f"support-request:{request.id}",
                     details={"engineer": request.engineer,
                              "expired_at": request.expires_at.isoformat()})


def _no_open_request(db: Session, engineer_id: int, extends: int | None) -> None:
    query = select(SupportRequest).where(SupportRequest.engineer_id == engineer_id) \
        .where(SupportRequest.status == RequestStatus.PENDING)
    query = query.where(col(SupportRequest.extends_grant_id).is_(None) if extends is None
                        else SupportRequest.extends_grant_id == extends)
    pending = db.exec(query).first()
    if pending is not None:
        raise Conflict(f"request #{pending.id} for {pending.engineer} is still waiting for "
                       f"approval (until {utc_text(pending.expires_at)})")


# -- requests --------------------------------------------------------------------------


@service("support.request", audit_errors=True)
def request_access(db: Session, actor: Principal, *, settings: SupportSettings,
                   scope: str | Iterable[str], reason: str, ticket: str,
                   hours: float | None = None, engineer: str | None = None) -> SupportRequest:
    """Ask for support access: a vendor account for itself, or staff with support.grant
    for a named engineer. Raises ValidationError (scope, window, reason, ticket), Conflict
    (a request already waiting, or access already active), NotFound (unknown engineer)."""
    name = _requester(actor, engineer)
    permissions = parse_scope(scope)
    minutes = window_minutes(settings, hours)
    reason = check_text("reason", reason)
    ticket = check_ticket(settings, ticket)
    now = clock.now()
    with writing(db):
        user = vendor_account(db, name)
        expire_due(db, now)
        current = active_grant(db, user.id or 0, now)
        if current is not None:
            raise Conflict(f"{name} has active access (grant #{current.id} until "
                           f"{utc_text(current.ends_at)}); ask for more time with "
                           f"`flowpro-console support extend {current.id}`")
        _no_open_request(db, user.id or 0, None)
        request = SupportRequest(
            engineer_id=user.id, engineer=user.username, scope=scope_text(permissions),
            minutes=minutes, reason=reason, ticket=ticket, requested_by=actor.name,
            requested_at=now, expires_at=now + timedelta(hours=settings.request_expiry_hours))
        db.add(request)
        db.flush()
        audit.record(db, actor, "support.request", target=f"support-request:{request.id}",
                     details={"engineer": name, "scope": request.scope, "minutes": minutes,
                              "ticket": ticket, "reason": reason})
    return request


@service("support.extend", audit_errors=True)
def request_extension(db: Session, actor: Principal, grant_id: int, *,
                      settings: SupportSettings, reason: str, hours: float | None = None,
                      ticket: str | None = None, scope: str | Iterable[str] | None = None
                      ) -> SupportRequest:
    """Ask for more time on an active grant: a new request that needs approval like any
    other; until then nothing changes. The engineer asks for its own grant; staff with
    support.grant may ask for any. Raises NotFound, Conflict (grant not active, an
    extension already waiting), ValidationError."""
    now = clock.now()
    grant = get_grant(db, grant_id)
    name = _requester(actor, grant.engineer)
    permissions = parse_scope(scope) if scope is not None else scope_of(grant.scope)
    minutes = window_minutes(settings, hours)
    reason = check_text("reason", reason)
    ticket = check_ticket(settings, ticket if ticket is not None else grant.ticket)
    with writing(db):
        db.refresh(grant)
        if grant_status(grant, now) != GrantStatus.ACTIVE:
            raise Conflict(f"grant #{grant.id} is {grant_status(grant, now)}: ask for new "
                           "access with `flowpro-console support request`")
        expire_due(db, now)
        _no_open_request(db, grant.engineer_id, grant.id)
        request = SupportRequest(
            engineer_id=grant.engineer_id, engineer=name, scope=scope_text(permissions),
            minutes=minutes, reason=reason, ticket=ticket, extends_grant_id=grant.id,
            requested_by=actor.name, requested_at=now,
            expires_at=now + timedelta(hours=settings.request_expiry_hours))
        db.add(request)
        db.flush()
        audit.record(db, actor, "support.extend", target=f"support-request:{request.id}",
                     details={"grant": grant.id, "engineer": name, "scope": request.scope,
                              "minutes": minutes, "ticket": ticket, "reason": reason})
    return request


@dataclass(frozen=True)
class Approval:
    request: SupportRequest
    grant: SupportGrant | None  # None while more approvals are needed
    approvals_needed: int


def _pending(db: Session, request_id: int, now: datetime) -> SupportRequest:
    request = get_request(db, request_id)
    expire_due(db, now)
    db.refresh(request)
    if request.status == RequestStatus.EXPIRED:
        raise Conflict(f"request #{request.id} expired unanswered at "
                       f"{utc_text(request.expires_at)}; the engineer must ask again")
    if request.status != RequestStatus.PENDING:
        raise Conflict(f"request #{request.id} is {request.status} already")
    return request


@service("support.approve", audit_errors=True)
def approve_request(db: Session, actor: Principal, request_id: int, *,
                    settings: SupportSettings, hours: float | None = None,
                    scope: str | Iterable[str] | None = None, note: str = "") -> Approval:
    """Approve a waiting request, optionally shorter or narrower (never longer or wider
    than requested, nor than an earlier approver allowed). Needs support.approve and a
    person who neither asked for it nor is the engineer (AccessDenied otherwise). With
    `approvers_required = 2` the first approval leaves it waiting for a second approver.
    Raises Conflict (expired, decided, engineer already has access), ValidationError."""
    actor.require(Permission.SUPPORT_APPROVE)
    note = check_text("note", note, required=False)
    now = clock.now()
    with writing(db):
        request = _pending(db, request_id, now)
        if actor.name == request.requested_by or actor.user_id == request.engineer_id:
            raise AccessDenied(f"{actor.name} asked for this access and cannot approve it: "
                               "another person with support.approve must",
                               permission=Permission.SUPPORT_APPROVE.value)
        earlier = list(db.exec(select(SupportApproval)
                               .where(SupportApproval.request_id == request.id)).all())
        if any(a.approver == actor.name for a in earlier):
            raise Conflict(f"{actor.name} approved request #{request.id} already; it needs "
                           "another approver")
        allowed_minutes = min([request.minutes, *(a.minutes for a in earlier)])
        allowed_scope = scope_of(request.scope)
        for approval in earlier:
            allowed_scope &= scope_of(approval.scope)
        minutes = allowed_minutes if hours is None else window_minutes(settings, hours)
        if minutes > allowed_minutes:
            raise ValidationError("hours", f"{duration_text(minutes)} is longer than the "
                                  f"{duration_text(allowed_minutes)} asked for; an approver "
                                  "may shorten the window, never lengthen it")
        permissions = allowed_scope if scope is None else parse_scope(scope)
        wider = permissions - allowed_scope
        if wider:
            raise ValidationError("scope", f"{scope_text(wider)} was not asked for; an "
                                  "approver may narrow the scope, never widen it")
        db.add(SupportApproval(request_id=request.id, approver=actor.name,
                               approver_user_id=actor.user_id, minutes=minutes,
                               scope=scope_text(permissions), note=note, at=now))
        needed = settings.approvers_required - len(earlier) - 1
        details = {"engineer": request.engineer, "scope": scope_text(permissions),
                   "minutes": minutes, "note": note, "approvals_needed": max(needed, 0)}
        if needed > 0:
            audit.record(db, actor, "support.approve", target=f"support-request:{request.id}",
                         details=details)
            return Approval(request, None, needed)
        grant = _grant_from(db, actor, request, permissions, minutes, now,
                            approvers=[*(a.approver for a in earlier), actor.name], note=note)
        audit.record(db, actor, "support.approve", target=f"support-request:{request.id}",
                     details={**details, "grant": grant.id})
    return Approval(request, grant, 0)


def _grant_from(db: Session, actor: Principal, request: SupportRequest,
                permissions: frozenset[Permission], minutes: int, now: datetime, *,
                approvers: list[str], note: str) -> SupportGrant:
    previous = db.get(SupportGrant, request.extends_grant_id) if request.extends_grant_id \
        else None
    current = active_grant(db, request.engineer_id, now)
    if current is not None and (previous is None or current.id != previous.id):
        raise Conflict(f"{request.engineer} already has active access (grant #{current.id}); "
                       "revoke it first or approve an extension of it")
    user = db.get(User, request.engineer_id)
    if user is None or user.disabled:
        raise Conflict(f"{request.engineer} is disabled; enable the account first")
    grant = SupportGrant(
        engineer_id=request.engineer_id, engineer=request.engineer,
        scope=scope_text(permissions), reason=request.reason, ticket=request.ticket,
        request_id=request.id, requested_by=request.requested_by,
        requested_minutes=request.minutes, approved_by=", ".join(approvers), minutes=minutes,
        created_at=now, starts_at=now, ends_at=now + timedelta(minutes=minutes))
    db.add(grant)
    db.flush()
    details: dict[str, object] = {"engineer": grant.engineer, "scope": grant.scope,
                                  "minutes": minutes, "until": grant.ends_at.isoformat(),
                                  "ticket": grant.ticket, "request": request.id}
    if previous is not None and grant_status(previous, now) == GrantStatus.ACTIVE:
        previous.ended_at, previous.end_reason = now, GrantStatus.SUPERSEDED.value
        previous.ended_by, previous.superseded_by = actor.name, grant.id
        previous.end_note = f"extended by grant #{grant.id}"
        db.add(previous)
        details["supersedes"] = previous.id
    request.status, request.decided_at = RequestStatus.APPROVED.value, now
    request.decided_by, request.decision_note = ", ".join(approvers), note
    db.add(request)
    audit.record(db, actor, "support.grant", target=f"support-grant:{grant.id}", details=details)
    return grant


@service("support.deny", audit_errors=True)
def deny_request(db: Session, actor: Principal, request_id: int, *, reason: str
                 ) -> SupportRequest:
    """Refuse a waiting request, saying why. Needs support.approve. Raises NotFound,
    Conflict (expired or decided already), ValidationError (no reason)."""
    actor.require(Permission.SUPPORT_APPROVE)
    reason = check_text("reason", reason)
    now = clock.now()
    with writing(db):
        request = _pending(db, request_id, now)
        request.status, request.decided_at = RequestStatus.DENIED.value, now
        request.decided_by, request.decision_note = actor.name, reason
        db.add(request)
        audit.record(db, actor, "support.deny", target=f"support-request:{request.id}",
                     details={"engineer": request.engineer, "reason": reason})
    return request


# -- grants ----------------------------------------------------------------------------


@service("support.grant", audit_errors=True)
def create_grant(db: Session, actor: Principal, *, settings: SupportSettings, engineer: str,
                 scope: str | Iterable[str], reason: str, ticket: str,
                 hours: float | None = None) -> SupportGrant:
    """Give an engineer access now, without a request. Needs support.grant; refused
    (Conflict) when config requires two approvers or the engineer already has access.
    Raises ValidationError, NotFound."""
    actor.require(Permission.SUPPORT_GRANT)
    if settings.approvers_required > 1:
        raise Conflict("[support] approvers_required = 2: access needs a request and two "
                       "approvers other than the requester (`flowpro-console support "
                       "request --engineer NAME ...`)")
    permissions = parse_scope(scope)
    minutes = window_minutes(settings, hours)
    reason = check_text("reason", reason)
    ticket = check_ticket(settings, ticket)
    now = clock.now()
    with writing(db):
        user = vendor_account(db, engineer)
        current = active_grant(db, user.id or 0, now)
        if current is not None:
            raise Conflict(f"{engineer} already has active access (grant #{current.id} until "
                           f"{utc_text(current.ends_at)}); revoke it first")
        grant = SupportGrant(
            engineer_id=user.id, engineer=user.username, scope=scope_text(permissions),
            reason=reason, ticket=ticket, requested_by=actor.name, requested_minutes=minutes,
            approved_by=actor.name, minutes=minutes, created_at=now, starts_at=now,
            ends_at=now + timedelta(minutes=minutes))
        db.add(grant)
        db.flush()
        audit.record(db, actor, "support.grant", target=f"support-grant:{grant.id}",
                     details={"engineer": engineer, "scope": grant.scope, "minutes": minutes,
                              "until": grant.ends_at.isoformat(), "ticket": ticket,
                              "reason": reason})
    return grant


@service("support.revoke", audit_errors=True)
def revoke_grant(db: Session, actor: Principal, grant_id: int, *, reason: str) -> SupportGrant:
    """End an active grant now; the engineer's session closes within a second and the SSH
    key stops working. Needs support.grant. Waiting extensions of it are cancelled.
    Raises NotFound, Conflict (not active), ValidationError (no reason)."""
    actor.require(Permission.SUPPORT_GRANT)
    reason = check_text("reason", reason)
    now = clock.now()
    with writing(db):
        grant = get_grant(db, grant_id)
        db.refresh(grant)
        status = grant_status(grant, now)
        if status != GrantStatus.ACTIVE:
            raise Conflict(f"grant #{grant.id} is {status} already; nothing to revoke")
        grant.ended_at, grant.end_reason = now, GrantStatus.REVOKED.value
        grant.ended_by, grant.end_note = actor.name, reason
        db.add(grant)
        waiting = db.exec(select(SupportRequest)
                          .where(SupportRequest.extends_grant_id == grant.id)
                          .where(SupportRequest.status == RequestStatus.PENDING)).all()
        for request in waiting:
            request.status, request.decided_at = RequestStatus.CANCELLED.value, now
            request.decided_by = actor.name
            request.decision_note = f"grant #{grant.id} was revoked"
            db.add(request)
        audit.record(db, actor, "support.revoke", target=f"support-grant:{grant.id}",
                     details={"engineer": grant.engineer, "reason": reason,
                              "cancelled_requests": [r.id for r in waiting]})
    return grant

