"""The register of data-subject requests: add, list, show, close, and what is due.

A request names its kind, its subject (an employee or a customer, by id), when it was
received and when it is due (`[requests] due_days` later unless given), who handles it and
notes. It is `open` until fulfilled (`in-progress` while an export job works for it), then
`fulfilled`, and `closed` with an outcome (fulfilled, rejected, withdrawn) once answered.
Everything done for it is kept as actions (the exports and jobs that fulfilled it).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlmodel import Session, col, select

from console import audit, clock
from console.catalog import SubjectKind
from console.config import RequestsSettings
from console.contract import service
from console.db import writing
from console.errors import Conflict, NotFound, ValidationError
from console.permissions import Permission
from console.principal import Principal
from models.business import Customer, Employee
from models.requests import RequestAction, SubjectRequest


class RequestKind(StrEnum):
    ACCESS = "access"  # a copy of their data (the subject export)
    RECTIFICATION = "rectification"  # correct their data
    ERASURE = "erasure"  # anonymize them, except what the law or a hold keeps
    PORTABILITY = "portability"  # their data, machine-readable (the subject export)
    RESTRICTION = "restriction"  # stop processing (kept, flagged, exported with a flag)
    OBJECTION = "objection"  # object to processing: restricted until decided


class RequestState(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in-progress"
    FULFILLED = "fulfilled"
    CLOSED = "closed"


class Outcome(StrEnum):
    FULFILLED = "fulfilled"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


PENDING = (RequestState.OPEN, RequestState.IN_PROGRESS)
SUBJECT_MODELS = {SubjectKind.EMPLOYEE: Employee, SubjectKind.CUSTOMER: Customer}


@dataclass(frozen=True)
class ActionView:
    at: datetime
    by: str
    action: str
    export_id: int | None
    job_run_id: int | None
    summary: dict[str, Any]


@dataclass(frozen=True)
class RequestView:
    id: int
    kind: str
    subject_kind: str
    subject_id: int
    received_on: date
    due_on: date
    state: str
    handler: str
    notes: str
    outcome: str
    response: dict[str, Any]
    created_by: str
    created_at: datetime
    fulfilled_at: datetime | None
    closed_at: datetime | None
    days_left: int  # negative: overdue (for pending requests)
    actions: list[ActionView] = field(default_factory=list)

    @property
    def subject(self) -> str:
        return f"{self.subject_kind} {self.subject_id}"

    @property
    def pending(self) -> bool:
        return self.state in PENDING

    @property
    def overdue(self) -> bool:
        return self.pending and self.days_left < 0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key, value in list(data.items()):
            if isinstance(value, date | datetime):
                data[key] = value.isoformat()
        for action in data["actions"]:
            action["at"] = action["at"].isoformat()
        return data


def view(request: SubjectRequest, actions: list[RequestAction] | None = None) -> RequestView:
    today = clock.now().date()
    return RequestView(
        request.id or 0, request.kind, request.subject_kind, request.subject_id,
        request.received_on, request.due_on, request.state, request.handler, request.notes,
        request.outcome, json.loads(request.response or "{}"), request.created_by,
        request.created_at, request.fulfilled_at, request.closed_at,
        (request.due_on - today).days,
        [ActionView(a.at, a.by, a.action, a.export_id, a.job_run_id,
                    json.loads(a.summary or "{}")) for a in actions or []])


def parse_kind(value: str) -> RequestKind:
    try:
        return RequestKind(value)
    except ValueError:
        raise ValidationError("kind", f"must be one of {', '.join(k.value for k in RequestKind)}"
                              ) from None


def parse_day(text: str, name: str) -> date | None:
    """'' -> None, 'YYYY-MM-DD' -> a date; ValidationError otherwise."""
    if not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(name, f"{text.strip()!r} is not a date (YYYY-MM-DD)") from None


def check_subject(db: Session, kind: SubjectKind, subject_id: int) -> Any:
    row = db.get(SUBJECT_MODELS[kind], subject_id)
    if row is None:
        raise NotFound(f"no {kind.value} with id {subject_id}")
    return row


def _text(name: str, value: str, limit: int) -> str:
    value = value.strip()
    if len(value) > limit:
        raise ValidationError(name, f"at most {limit} characters")
    return value


@service("requests.add", audit_errors=True)
def add_request(db: Session, actor: Principal, kind: str, subject: tuple[SubjectKind, int], *,
                settings: RequestsSettings, received_on: date | None = None,
                due_on: date | None = None, handler: str = "", notes: str = "") -> RequestView:
    """Register a request. Due `[requests] due_days` after it was received unless given.
    Needs requests.manage. Raises ValidationError (kind, dates, text), NotFound (subject)."""
    actor.require(Permission.REQUESTS_MANAGE)
    request_kind = parse_kind(kind)
    check_subject(db, *subject)
    today = clock.now().date()
    received = received_on or today
    if received > today:
        raise ValidationError("received", f"{received} is in the future")
    due = due_on or received + timedelta(days=settings.due_days)
    if due < received:
        raise ValidationError("due", f"the due date {due} is before the request came "
                              f"({received})")
    handler = _text("handler", handler or actor.name, 128)
    notes = _text("notes", notes, 4000)
    with writing(db):
        request = SubjectRequest(kind=request_kind.value, subject_kind=subject[0].value,
                                 subject_id=subject[1], received_on=received, due_on=due,
                                 handler=handler, notes=notes, created_by=actor.name,
                                 created_at=clock.now())
        db.add(request)
        db.flush()
        audit.record(db, actor, "requests.add", target=f"{subject[0].value}:{subject[1]}",
                     details={"request": request.id, "kind": request_kind.value,
                              "received": received.isoformat(), "due": due.isoformat(),
                              "handler": handler})
        return view(request)


def load(db: Session, request_id: int) -> SubjectRequest:
    request = db.get(SubjectRequest, request_id, populate_existing=True)
    if request is None:
        raise NotFound(f"no request #{request_id}; see `flowpro-console requests list`")
    return request


def actions_of(db: Session, request_id: int) -> list[RequestAction]:
    return list(db.exec(select(RequestAction).where(RequestAction.request_id == request_id)
                        .order_by(col(RequestAction.id))))


@service("requests.read")
def get_request(db: Session, actor: Principal, request_id: int) -> RequestView:
    """One request with everything done for it. Needs requests.manage; NotFound."""
    actor.require(Permission.REQUESTS_MANAGE)
    result = view(load(db, request_id), actions_of(db, request_id))
    db.rollback()
    return result


@service("requests.read_changes")
def request_changes(db: Session, actor: Principal, request_id: int, keys: Any) -> list[Any]:
    """A rectification's before/after values from the audit trail (unsealed with pii.read,
    masked without; audited). Needs requests.manage; NotFound."""
    from console.requests.subjects import recorded_changes

    actor.require(Permission.REQUESTS_MANAGE)
    request = load(db, request_id)
    db.rollback()
    return recorded_changes(db, actor, keys, SubjectKind(request.subject_kind),
                            request.subject_id, request_id)


@service("requests.read")
def list_requests(db: Session, actor: Principal, *, states: tuple[str, ...] = (),
                  limit: int = 200) -> list[RequestView]:
    """Requests, pending ones first by due date, then the rest newest first. Needs
    requests.manage."""
    actor.require(Permission.REQUESTS_MANAGE)
    query = select(SubjectRequest).order_by(col(SubjectRequest.id).desc()).limit(
        max(1, min(limit, 5000)))
    if states:
        query = query.where(col(SubjectRequest.state).in_(states))
    rows = [view(r) for r in db.exec(query.execution_options(populate_existing=True))]
    db.rollback()
    return sorted(rows, key=lambda r: (not r.pending, r.due_on if r.pending else date.min,
                                       -r.id))


@dataclass(frozen=True)
class DueSummary:
    overdue: list[RequestView]
    due_soon: list[RequestView]
    pending: int


def due_summary(db: Session, actor: Principal, due_soon_days: int) -> DueSummary | None:
    """Pending requests past their due date, and those due within `due_soon_days` (the
    dashboard). None for someone without requests.manage."""
    if not actor.has(Permission.REQUESTS_MANAGE):
        return None
    soon = clock.now().date() + timedelta(days=due_soon_days)
    rows = [view(r) for r in db.exec(
        select(SubjectRequest).where(col(SubjectRequest.state).in_([s.value for s in PENDING]))
        .order_by(col(SubjectRequest.due_on)).execution_options(populate_existing=True))]
    return DueSummary([r for r in rows if r.overdue],
                      [r for r in rows if not r.overdue and r.due_on <= soon], len(rows))


def record_action(db: Session, request: SubjectRequest, actor: Principal, action: str, *,
                  export_id: int | None = None, job_run_id: int | None = None,
                  summary: dict[str, Any] | None = None) -> None:
    """Inside the caller's write transaction."""
    db.add(RequestAction(request_id=request.id or 0, at=clock.now(), by=actor.name,
                         action=action, export_id=export_id, job_run_id=job_run_id,
                         summary=json.dumps(summary or {}, default=str)))


def mark_fulfilled(db: Session, request: SubjectRequest, response: dict[str, Any]) -> None:
    """Inside the caller's write transaction."""
    request.state = RequestState.FULFILLED.value
    request.fulfilled_at = clock.now()
    request.response = json.dumps(response, default=str)
    db.add(request)


@service("requests.close", audit_errors=True, target_prefix="request:")
def close_request(db: Session, actor: Principal, request_id: int, *, outcome: str,
                  note: str = "") -> RequestView:
    """Close a request with its outcome (fulfilled: it must have been; rejected or
    withdrawn: with a note saying why). Needs requests.manage. Raises NotFound,
    ValidationError, Conflict (already closed, or not fulfilled)."""
    actor.require(Permission.REQUESTS_MANAGE)
    try:
        chosen = Outcome(outcome)
    except ValueError:
        raise ValidationError("outcome", "must be fulfilled, rejected or withdrawn") from None
    note = _text("note", note, 2000)
    if chosen is not Outcome.FULFILLED and not note:
        raise ValidationError("note", f"say why the request is {chosen.value}")
    with writing(db):
        request = load(db, request_id)
        if request.state == RequestState.CLOSED:
            raise Conflict(f"request #{request_id} is already closed ({request.outcome})")
        if chosen is Outcome.FULFILLED and request.state != RequestState.FULFILLED:
            raise Conflict(f"request #{request_id} is {request.state}: fulfil it first "
                           f"(`flowpro-console requests fulfil {request_id}`)")
        request.state, request.outcome = RequestState.CLOSED.value, chosen.value
        request.closed_at = clock.now()
        if note:
            request.notes = (request.notes + "\n" if request.notes else "") + \
                f"[closed {chosen.value}] {note}"
        db.add(request)
        audit.record(db, actor, "requests.close",
                     target=f"{request.subject_kind}:{request.subject_id}",
                     details={"request": request_id, "outcome": chosen.value, "note": note})
        return view(request, actions_of(db, request_id))
