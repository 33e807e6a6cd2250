"""The vocabulary and rules of FlowPro support access, without side effects: statuses,
scopes, windows, ticket ids, and the lookups every support module shares.

The validators are pure, so the TUI forms call them as the user types and the services
call them again before any change.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum

from sqlmodel import Session, col, select

from console import clock
from console.config import SupportSettings
from console.errors import NotFound, ValidationError
from console.permissions import SUPPORT_CEILING, Permission, parse_permissions
from models.support import SupportGrant, SupportRequest

REASON_MAX = 500
READ_PERMISSIONS = frozenset({Permission.SUPPORT_GRANT, Permission.SUPPORT_APPROVE,
                              Permission.AUDIT_READ})


class GrantStatus(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"
    SUPERSEDED = "superseded"


class RequestStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


# -- small shared helpers ----------------------------------------------------------------


def scope_text(permissions: Iterable[Permission]) -> str:
    return ",".join(sorted(p.value for p in permissions))


def scope_of(text: str) -> frozenset[Permission]:
    known = {p.value for p in Permission}
    return frozenset(Permission(v) for v in text.split(",") if v in known)


def grant_status(grant: SupportGrant, now: datetime | None = None) -> GrantStatus:
    if grant.end_reason == GrantStatus.REVOKED:
        return GrantStatus.REVOKED
    if grant.end_reason == GrantStatus.SUPERSEDED:
        return GrantStatus.SUPERSEDED
    now = now or clock.now()
    return GrantStatus.ACTIVE if grant.starts_at <= now < grant.ends_at else GrantStatus.EXPIRED


def grant_end(grant: SupportGrant) -> datetime:
    """When the grant stopped (or will stop) giving access."""
    return grant.ended_at or grant.ends_at


def request_status(request: SupportRequest, now: datetime | None = None) -> RequestStatus:
    if request.status == RequestStatus.PENDING and (now or clock.now()) >= request.expires_at:
        return RequestStatus.EXPIRED
    return RequestStatus(request.status)


def duration_text(minutes: int) -> str:
    hours, rest = divmod(int(minutes), 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h" if not rest else f"{hours} h {rest} min"


def utc_text(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M UTC")


# -- validation (pure: the TUI forms call these as the user types) ------------------------


def parse_scope(value: str | Iterable[str]) -> frozenset[Permission]:
    """Permissions from 'logs.read,jobs.read'; within the support ceiling, at least one."""
    try:
        permissions = parse_permissions(value if isinstance(value, str) else list(value))
    except ValueError as exc:
        raise ValidationError("scope", str(exc)) from None
    if not permissions:
        raise ValidationError("scope", "name at least one permission, e.g. logs.read")
    outside = permissions - SUPPORT_CEILING
    if outside:
        raise ValidationError(
            "scope", f"{scope_text(outside)} is beyond what FlowPro support may ever hold; "
            f"choose from {scope_text(SUPPORT_CEILING)}")
    return permissions


def parse_hours(text: str) -> float | None:
    """'' -> None (the default window); '2.5' -> 2.5; anything else is a ValidationError."""
    text = text.strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise ValidationError("hours", f"{text!r} is not a number of hours (e.g. 4 or 1.5)") \
            from None


def window_minutes(settings: SupportSettings, hours: float | None) -> int:
    """The window in whole minutes: the default when `hours` is None, at most max_hours."""
    if hours is None:
        hours = settings.default_hours
    if not math.isfinite(hours) or hours <= 0:
        raise ValidationError("hours", "must be more than 0")
    if hours > settings.max_hours + 1 / 120:  # before rounding: a huge float overflows it
        raise ValidationError("hours", f"{hours:g} h is longer than the {settings.max_hours:g} h "
                              "allowed ([support] max_hours); ask for an extension later")
    minutes = round(hours * 60)
    limit = round(settings.max_hours * 60)
    if minutes < 1:
        raise ValidationError("hours", "must be at least one minute (0.02 h)")
    if minutes > limit:
        raise ValidationError("hours", f"{hours:g} h is longer than the {settings.max_hours:g} h "
                              "allowed ([support] max_hours); ask for an extension later")
    return minutes


def check_ticket(settings: SupportSettings, ticket: str) -> str:
    ticket = (ticket or "").strip()
    if not ticket:
        raise ValidationError("ticket", "give the FlowPro ticket id this access is for")
    if len(ticket) > 64 or not re.fullmatch(settings.ticket_pattern, ticket):
        raise ValidationError("ticket", f"{ticket[:64]!r} does not match the ticket pattern "
                              f"{settings.ticket_pattern} ([support] ticket_pattern)")
    return ticket


def check_text(field: str, value: str, *, required: bool = True) -> str:
    value = (value or "").strip()
    if required and len(value) < 3:
        raise ValidationError(field, "say why, in a few words (at least 3 characters)")
    if len(value) > REASON_MAX:
        raise ValidationError(field, f"at most {REASON_MAX} characters")
    if not value.isprintable():
        raise ValidationError(field, "one line of plain text, without control characters")
    return value


# -- lookups ---------------------------------------------------------------------------


def get_grant(db: Session, grant_id: int) -> SupportGrant:
    grant = db.get(SupportGrant, grant_id)
    if grant is None:
        raise NotFound(f"no support grant #{grant_id}; see `flowpro-console support list`")
    return grant


def get_request(db: Session, request_id: int) -> SupportRequest:
    request = db.get(SupportRequest, request_id)
    if request is None:
        raise NotFound(f"no support request #{request_id}; see `flowpro-console support list`")
    return request


def active_grant(db: Session, engineer_id: int, now: datetime | None = None) -> SupportGrant | None:
    now = now or clock.now()
    return db.exec(select(SupportGrant).where(SupportGrant.engineer_id == engineer_id)
                   .where(col(SupportGrant.ended_at).is_(None))
                   .where(col(SupportGrant.starts_at) <= now)
                   .where(col(SupportGrant.ends_at) > now)
                   .order_by(col(SupportGrant.id).desc())).first()


def active_scope(db: Session, engineer_id: int) -> frozenset[Permission]:
    """The scope of the engineer's active grant, now (empty without one)."""
    grant = active_grant(db, engineer_id)
    return scope_of(grant.scope) if grant else frozenset()


def latest_in_chain(db: Session, grant: SupportGrant) -> SupportGrant:
    """Follow approved extensions (superseded_by) to the grant that holds now."""
    for _ in range(100):
        if grant.superseded_by is None:
            return grant
        following = db.get(SupportGrant, grant.superseded_by)
        if following is None:
            return grant
        grant = following
    return grant
