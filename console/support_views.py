"""Reading support access: lists, a grant's history, who has access now.

Staff with support.grant, support.approve or audit.read see everything; a vendor account
sees only its own requests and grants. Free text (reasons, notes) is masked for anyone
without pii.read, FlowPro engineers included.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from console import clock
from console.contract import service
from console.errors import NotFound, ValidationError
from console.masking import mask_text, sees_pii
from console.permissions import Permission
from console.principal import Principal
from console.support_rules import (
    READ_PERMISSIONS,
    GrantStatus,
    RequestStatus,
    get_grant,
    grant_end,
    grant_status,
    latest_in_chain,
    request_status,
    scope_of,
)
from models.audit import AuditEvent
from models.support import (
    SupportApproval,
    SupportGrant,
    SupportReceipt,
    SupportRequest,
    SupportSession,
)


def reader_scope(actor: Principal) -> str | None:
    """None when `actor` may read all support records; else the one engineer it may see.
    Raises AccessDenied (SessionEnded) otherwise."""
    if actor.is_vendor:
        actor.effective_permissions()
        return actor.name
    if not actor.effective_permissions() & READ_PERMISSIONS:
        actor.require(Permission.SUPPORT_APPROVE)
    return None


def _masker(actor: Principal):
    return (lambda text: text) if sees_pii(actor) else mask_text


@dataclass(frozen=True)
class GrantView:
    id: int
    engineer: str
    scope: tuple[str, ...]
    status: str
    reason: str
    ticket: str
    starts_at: datetime
    ends_at: datetime
    ended_at: datetime | None
    end_reason: str
    ended_by: str
    end_note: str
    requested_by: str
    approved_by: str
    request_id: int | None
    minutes: int
    requested_minutes: int
    superseded_by: int | None

    @property
    def until(self) -> datetime:
        return self.ended_at or self.ends_at

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RequestView:
    id: int
    kind: str  # access | extension
    engineer: str
    scope: tuple[str, ...]
    minutes: int
    reason: str
    ticket: str
    status: str
    requested_by: str
    requested_at: datetime
    expires_at: datetime
    decided_at: datetime | None
    decided_by: str
    decision_note: str
    extends_grant_id: int | None
    approvals: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SessionView:
    id: str
    engineer: str
    grant_id: int
    source: str | None
    started_at: datetime
    ended_at: datetime | None
    end_reason: str
    actions: int
    receipt_id: int | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class GrantDetail:
    grant: GrantView
    request: RequestView | None
    sessions: list[SessionView]
    chain: list[int]  # grant ids from the first to the last extension

    def to_dict(self) -> dict[str, Any]:
        return {"grant": self.grant.to_dict(),
                "request": self.request.to_dict() if self.request else None,
                "sessions": [s.to_dict() for s in self.sessions], "chain": self.chain}


def grant_view(grant: SupportGrant, mask, now: datetime) -> GrantView:
    return GrantView(
        id=grant.id or 0, engineer=grant.engineer, scope=tuple(sorted(scope_of(grant.scope))),
        status=grant_status(grant, now).value, reason=mask(grant.reason), ticket=grant.ticket,
        starts_at=grant.starts_at, ends_at=grant.ends_at, ended_at=grant.ended_at,
        end_reason=grant.end_reason or (
            "expired" if grant_status(grant, now) == GrantStatus.EXPIRED else ""),
        ended_by=grant.ended_by, end_note=mask(grant.end_note), requested_by=grant.requested_by,
        approved_by=grant.approved_by, request_id=grant.request_id, minutes=grant.minutes,
        requested_minutes=grant.requested_minutes, superseded_by=grant.superseded_by)


def request_views(db: Session, requests: list[SupportRequest], mask, now: datetime
                  ) -> list[RequestView]:
    """Views of `requests` with their approvals (one query for all of them)."""
    ids = [r.id for r in requests]
    approvals: dict[int, list[SupportApproval]] = {}
    if ids:
        for approval in db.exec(select(SupportApproval)
                                .where(col(SupportApproval.request_id).in_(ids))
                                .order_by(col(SupportApproval.id))).all():
            approvals.setdefault(approval.request_id, []).append(approval)
    return [request_view(r, approvals.get(r.id or 0, []), mask, now) for r in requests]


def request_view(request: SupportRequest, approvals: list[SupportApproval], mask,
                 now: datetime) -> RequestView:
    return RequestView(
        id=request.id or 0, kind="extension" if request.extends_grant_id else "access",
        engineer=request.engineer, scope=tuple(sorted(scope_of(request.scope))),
        minutes=request.minutes, reason=mask(request.reason), ticket=request.ticket,
        status=request_status(request, now).value, requested_by=request.requested_by,
        requested_at=request.requested_at, expires_at=request.expires_at,
        decided_at=request.decided_at or (request.expires_at if request_status(request, now)
                                          == RequestStatus.EXPIRED else None),
        decided_by=request.decided_by, decision_note=mask(request.decision_note),
        extends_grant_id=request.extends_grant_id,
        approvals=[{"approver": a.approver, "minutes": a.minutes,
                    "scope": sorted(scope_of(a.scope)), "note": mask(a.note), "at": a.at}
                   for a in approvals])


_GRANT_FILTERS = {s.value for s in GrantStatus}
_REQUEST_FILTERS = {s.value for s in RequestStatus}


@service("support.list")
def list_grants(db: Session, actor: Principal, *, status: str | None = None,
                engineer: str | None = None, limit: int = 200) -> list[GrantView]:
    """Grants, newest first; `status` filters (active, expired, revoked, superseded).
    Staff readers see all, a vendor account its own. Raises ValidationError, AccessDenied."""
    only = reader_scope(actor)
    if status and status not in _GRANT_FILTERS:
        raise ValidationError("status", f"use one of {', '.join(sorted(_GRANT_FILTERS))}")
    now, mask = clock.now(), _masker(actor)
    query = select(SupportGrant).order_by(col(SupportGrant.id).desc())
    if only or engineer:
        query = query.where(SupportGrant.engineer == (only or engineer))
    if status == GrantStatus.ACTIVE:
        query = query.where(col(SupportGrant.ended_at).is_(None)) \
            .where(col(SupportGrant.starts_at) <= now).where(col(SupportGrant.ends_at) > now)
    elif status == GrantStatus.EXPIRED:
        query = query.where(col(SupportGrant.ended_at).is_(None)) \
            .where(col(SupportGrant.ends_at) <= now)
    elif status:
        query = query.where(SupportGrant.end_reason == status)
    return [grant_view(g, mask, now) for g in db.exec(query.limit(min(limit, 5000))).all()]


@service("support.list")
def list_requests(db: Session, actor: Principal, *, status: str | None = None,
                  engineer: str | None = None, limit: int = 200) -> list[RequestView]:
    """Requests, newest first; `status` filters (pending, approved, denied, expired,
    cancelled). Staff readers see all, a vendor account its own."""
    only = reader_scope(actor)
    if status and status not in _REQUEST_FILTERS:
        raise ValidationError("status", f"use one of {', '.join(sorted(_REQUEST_FILTERS))}")
    now, mask = clock.now(), _masker(actor)
    query = select(SupportRequest).order_by(col(SupportRequest.id).desc())
    if only or engineer:
        query = query.where(SupportRequest.engineer == (only or engineer))
    if status == RequestStatus.PENDING:
        query = query.where(SupportRequest.status == status) \
            .where(col(SupportRequest.expires_at) > now)
    elif status == RequestStatus.EXPIRED:
        query = query.where((SupportRequest.status == status) | (
            (SupportRequest.status == RequestStatus.PENDING)
            & (col(SupportRequest.expires_at) <= now)))
    elif status:
        query = query.where(SupportRequest.status == status)
    return request_views(db, list(db.exec(query.limit(min(limit, 5000))).all()), mask, now)


def session_views(db: Session, sessions: list[SupportSession]) -> list[SessionView]:
    if not sessions:
        return []
    ids = [s.id for s in sessions]
    counts = dict(db.exec(select(AuditEvent.session_id, func.count())
                          .where(col(AuditEvent.session_id).in_(ids))
                          .group_by(AuditEvent.session_id)).all())
    receipts = dict(db.exec(select(SupportReceipt.session_id, SupportReceipt.id)
                            .where(col(SupportReceipt.session_id).in_(ids))).all())
    return [SessionView(id=s.id, engineer=s.engineer, grant_id=s.grant_id, source=s.source,
                        started_at=s.started_at, ended_at=s.ended_at, end_reason=s.end_reason,
                        actions=int(counts.get(s.id, 0)), receipt_id=receipts.get(s.id))
            for s in sessions]


def chain_of(db: Session, grant: SupportGrant) -> list[SupportGrant]:
    """The grant with the grants it extended and the extensions that followed it."""
    chain = [grant]
    while True:  # backwards: the grant this one superseded
        before = db.exec(select(SupportGrant)
                         .where(SupportGrant.superseded_by == chain[0].id)).first()
        if before is None or len(chain) > 100:
            break
        chain.insert(0, before)
    while chain[-1].superseded_by is not None and len(chain) <= 100:
        following = db.get(SupportGrant, chain[-1].superseded_by)
        if following is None:
            break
        chain.append(following)
    return chain


@service("support.show")
def grant_detail(db: Session, actor: Principal, grant_id: int) -> GrantDetail:
    """One grant with its request, approvals and support sessions (receipts included).
    Raises NotFound (also for a vendor asking about another engineer's grant)."""
    only = reader_scope(actor)
    grant = get_grant(db, grant_id)
    if only is not None and grant.engineer != only:  # the answer for a missing grant
        raise NotFound(f"no support grant #{grant_id}; see `flowpro-console support list`")
    now, mask = clock.now(), _masker(actor)
    request = db.get(SupportRequest, grant.request_id) if grant.request_id else None
    chain = chain_of(db, grant)
    sessions = list(db.exec(select(SupportSession)
                            .where(col(SupportSession.grant_id).in_([g.id for g in chain]))
                            .order_by(col(SupportSession.started_at))).all())
    return GrantDetail(grant_view(grant, mask, now),
                       request_views(db, [request], mask, now)[0] if request else None,
                       session_views(db, sessions), [g.id or 0 for g in chain])


@service("support.list")
def current_access(db: Session, actor: Principal) -> list[GrantView]:
    """Who has support access right now, and until when (for the dashboard)."""
    only = reader_scope(actor)
    now = clock.now()
    query = select(SupportGrant).where(col(SupportGrant.ended_at).is_(None)) \
        .where(col(SupportGrant.starts_at) <= now).where(col(SupportGrant.ends_at) > now) \
        .order_by(col(SupportGrant.ends_at))
    if only:
        query = query.where(SupportGrant.engineer == only)
    return [grant_view(g, _masker(actor), now) for g in db.exec(query).all()]


@dataclass(frozen=True)
class MyAccess:
    """What the engineer's banner shows."""

    in_support_session: bool
    grant_id: int | None = None
    scope: tuple[str, ...] = ()
    ends_at: datetime | None = None
    pending_requests: int = 0

    @property
    def pii_visible(self) -> bool:
        return Permission.PII_READ.value in self.scope


@service("support.access")
def my_access(db: Session, actor: Principal) -> MyAccess:
    """For a vendor account: the grant its session runs under (scope, end), or how many
    of its requests are waiting. Raises SessionEnded when the session is over."""
    actor.effective_permissions()
    record = db.get(SupportSession, actor.session_id) if actor.session_id else None
    pending = db.exec(select(func.count()).select_from(SupportRequest)
                      .where(SupportRequest.engineer == actor.name)
                      .where(SupportRequest.status == RequestStatus.PENDING)
                      .where(col(SupportRequest.expires_at) > clock.now())).one()
    if record is None:
        return MyAccess(False, pending_requests=int(pending))
    grant = latest_in_chain(db, get_grant(db, record.grant_id))
    return MyAccess(True, grant.id, tuple(sorted(scope_of(grant.scope))), grant_end(grant),
                    int(pending))


@dataclass(frozen=True)
class Board:
    """Everything the Support screen shows, in one read."""

    vendor: bool
    can_grant: bool
    can_approve: bool
    waiting: list[RequestView]  # staff: requests to decide; a vendor: all of its requests
    active: list[GrantView]
    history: list[GrantView]
    decided: list[RequestView]  # staff: answered or expired requests


@service("support.list")
def board(db: Session, actor: Principal, *, limit: int = 100) -> Board:
    """The Support screen's data: waiting requests, active grants, history. Staff readers
    see all; a vendor account its own. Raises AccessDenied for anyone else."""
    only = reader_scope(actor)
    permissions = actor.effective_permissions()
    now, mask = clock.now(), _masker(actor)
    grants = db.exec((select(SupportGrant).where(SupportGrant.engineer == only) if only
                      else select(SupportGrant)).order_by(col(SupportGrant.id).desc())
                     .limit(limit)).all()
    views = [grant_view(g, mask, now) for g in grants]
    requests = db.exec((select(SupportRequest).where(SupportRequest.engineer == only) if only
                        else select(SupportRequest)).order_by(col(SupportRequest.id).desc())
                       .limit(limit)).all()
    views_of_requests = request_views(db, list(requests), mask, now)
    pending = [r for r in views_of_requests if r.status == RequestStatus.PENDING]
    return Board(
        vendor=actor.is_vendor, can_grant=Permission.SUPPORT_GRANT in permissions,
        can_approve=Permission.SUPPORT_APPROVE in permissions,
        waiting=views_of_requests if only else pending,
        active=[v for v in views if v.status == GrantStatus.ACTIVE],
        history=[v for v in views if v.status != GrantStatus.ACTIVE],
        decided=[] if only else [r for r in views_of_requests
                                 if r.status != RequestStatus.PENDING])
