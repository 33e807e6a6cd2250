"""What the dashboard shows: the data under governance, recent activity, who is here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import func
from sqlmodel import Session, select

from console.auth import active_sessions
from console.catalog import CATEGORIES, Category, Disposal
from console.masking import mask_text
from console.permissions import Permission
from console.principal import Principal
from console.requests.register import DueSummary, due_summary
from console.support_rules import READ_PERMISSIONS
from console.support_views import GrantView, current_access
from models.audit import AuditEvent
from models.identity import LoginSession


@dataclass(frozen=True)
class CategoryStats:
    name: str
    title: str
    owner: str
    rows: int
    oldest: date | datetime | None
    newest: date | datetime | None


@dataclass
class Overview:
    categories: list[CategoryStats] = field(default_factory=list)
    recent_events: list[AuditEvent] = field(default_factory=list)
    sessions: list[LoginSession] = field(default_factory=list)
    # Who has FlowPro support access right now (for support.grant/approve, audit.read).
    support_access: list[GrantView] | None = None
    # Data-subject requests overdue and due soon (for requests.manage).
    requests: DueSummary | None = None


def category_stats(db: Session, cat: Category) -> CategoryStats:
    if cat.disposal is Disposal.PARTITIONS:
        from console.logs.store import volume

        rows, oldest, newest = volume(db)
        return CategoryStats(cat.name.value, cat.title, cat.owner.value, rows, oldest, newest)
    column = getattr(cat.model, cat.age_column)
    rows, oldest, newest = db.exec(
        select(func.count(), func.min(column), func.max(column)).select_from(cat.model)).one()
    return CategoryStats(cat.name.value, cat.title, cat.owner.value, int(rows), oldest, newest)


def overview(db: Session, actor: Principal, *, events: int = 8,
             due_soon_days: int = 7) -> Overview:
    """Counts per data category for everyone logged in; recent audit events for holders of
    audit.read; open sessions for holders of users.read; who has FlowPro support access
    now for staff who govern or audit it; data-subject requests overdue or due within
    `due_soon_days` for holders of requests.manage. Raises SessionEnded if the actor's
    session is over."""
    permissions = actor.effective_permissions()
    if actor.is_vendor and not permissions:  # outside a support session: nothing to see
        return Overview()
    result = Overview(categories=[category_stats(db, c) for c in CATEGORIES])
    if permissions & READ_PERMISSIONS and not actor.is_vendor:
        result.support_access = current_access(db, actor)
    if Permission.AUDIT_READ in permissions:
        result.recent_events = list(db.exec(
            select(AuditEvent).order_by(AuditEvent.id.desc()).limit(events)).all())  # type: ignore[union-attr]
        if Permission.PII_READ not in permissions:  # shown masked, never written back
            for event in result.recent_events:
                db.expunge(event)
                event.actor, event.target = mask_text(event.actor), mask_text(event.target)
    if Permission.USERS_READ in permissions:
        result.sessions = active_sessions(db)
    result.requests = due_summary(db, actor, due_soon_days)
    return result
