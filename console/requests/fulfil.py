"""Fulfilling a request, by its kind:

- access, portability: the subject export (a bundle of everything the catalog knows about
  them); the request is `in-progress` until its job seals the bundle, then `fulfilled`
  with the bundle's path and manifest hash as the response.
- rectification: the given fields of their profile are corrected; before and after go to
  the audit trail, sealed with the person's key.
- erasure: anonymized across categories except what holds and legal minimums keep; the
  response lists what was kept and why; the erasure ledger records it.
- restriction, objection: processing restricted (retention keeps their data, exports flag
  it); `lift` ends a restriction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from console import audit
from console.catalog import SubjectKind
from console.contract import service
from console.db import writing
from console.errors import Conflict, ValidationError
from console.permissions import Permission
from console.principal import Principal
from console.requests.erasure import append_to_file, erase, record_erasure
from console.requests.register import (
    RequestKind,
    RequestState,
    RequestView,
    actions_of,
    check_subject,
    load,
    mark_fulfilled,
    record_action,
    view,
)
from console.requests.subjects import rectify, set_restricted


@dataclass(frozen=True)
class Fulfilment:
    """What `fulfil` needs beyond the request: the export's protection (access,
    portability), the corrections (rectification), `lift` (restriction, objection)."""

    recipients: tuple[str, ...] = ()
    passphrase: str | None = field(default=None, repr=False)
    no_encrypt: bool = False
    output_dir: Any = None
    changes: dict[str, str] = field(default_factory=dict)
    lift: bool = False
    note: str = ""


@dataclass(frozen=True)
class Fulfilled:
    request: RequestView
    started: Any = None  # the export's job (access / portability), to run or watch
    export_id: int | None = None
    warnings: list[str] = field(default_factory=list)


def _pending(db: Session, request_id: int) -> Any:
    request = load(db, request_id)
    if request.state in (RequestState.FULFILLED, RequestState.CLOSED):
        raise Conflict(f"request #{request_id} is already {request.state}")
    return request


@service("requests.fulfil", audit_errors=True, target_prefix="request:")
def fulfil(db: Session, actor: Principal, request_id: int, how: Fulfilment, *,
           runtime: Any, where: Any = None) -> Fulfilled:
    """Do what the request asks (see the module docstring). Needs requests.manage (and
    export.run for access/portability). Raises NotFound, Conflict (already fulfilled or
    closed; nothing to do), ValidationError (the corrections, the export's options).
    Access and portability return the export's started job (`where` as in start_run)."""
    actor.require(Permission.REQUESTS_MANAGE)
    request = _pending(db, request_id)
    kind = RequestKind(request.kind)
    subject_kind = SubjectKind(request.subject_kind)
    db.rollback()
    if kind in (RequestKind.ACCESS, RequestKind.PORTABILITY):
        return _export(db, actor, request_id, subject_kind, request.subject_id, how,
                       runtime, where)
    keys, data_dir = runtime.keys, runtime.settings.data_dir
    ledger = []
    with writing(db):
        request = _pending(db, request_id)
        row = check_subject(db, subject_kind, request.subject_id)
        target = f"{subject_kind.value}:{request.subject_id}"
        if kind is RequestKind.RECTIFICATION:
            if not how.changes:
                raise ValidationError("changes", "say what to correct: FIELD=VALUE, one or "
                                      "more")
            changes = rectify(db, actor, keys, subject_kind, row, how.changes,
                              request_id=request_id)
            response: dict[str, Any] = {"corrected": [c.field for c in changes],
                                        "audit": "before and after are in the audit trail, "
                                                 "sealed with the person's key"}
            record_action(db, request, actor, "rectification",
                          summary={"fields": [c.field for c in changes]})
        elif kind is RequestKind.ERASURE:
            erasure = erase(db, actor, keys, subject_kind, request.subject_id,
                            data_dir=data_dir)
            response = erasure.response()
            ledger.append(record_erasure(db, keys, subject_kind, request.subject_id,
                                         erasure.erased_categories, request_id=request_id))
            record_action(db, request, actor, "erasure", summary=response)
            audit.record(db, actor, "requests.erase", target=target, details={
                "request": request_id, "anonymized": response["anonymized"],
                "kept": response["kept"]})
        else:
            restrict = not how.lift
            why = how.note or f"{kind.value} request #{request_id}"
            changed = set_restricted(db, actor, subject_kind, row, restrict,
                                     request_id=request_id, why=why)
            if not changed:
                raise Conflict(f"{target} is already {'restricted' if restrict else 'not restricted'}")
            response = {"restricted": restrict,
                        "effect": "retention keeps their data and exports flag it" if restrict
                        else "processing is no longer restricted"}
            record_action(db, request, actor, "restriction" if restrict else "lift",
                          summary=response)
        mark_fulfilled(db, request, response)
        audit.record(db, actor, "requests.fulfil", target=target,
                     details={"request": request_id, "kind": kind.value})
        result = view(request, actions_of(db, request_id))
    append_to_file(data_dir, ledger)
    return Fulfilled(result)


def _export(db: Session, actor: Principal, request_id: int, kind: SubjectKind, subject_id: int,
            how: Fulfilment, runtime: Any, where: Any) -> Fulfilled:
    from console.export.purposes import Purpose
    from console.export.service import ExportSpec, create_export, start_export
    from console.jobs import Where

    spec = ExportSpec(kind="subject", purpose=Purpose.DATA_SUBJECT_REQUEST,
                      disclosed_to=f"the data subject (request #{request_id})",
                      recipients=how.recipients, passphrase=how.passphrase,
                      no_encrypt=how.no_encrypt, output_dir=how.output_dir,
                      subject=(kind, subject_id), request_id=request_id)
    created = create_export(db, actor, spec, settings=runtime.settings, keys=runtime.keys)
    started = start_export(db, actor, created.export, where=where or Where.AUTO,
                           lease_seconds=runtime.settings.jobs.lease_seconds)
    with writing(db):
        request = load(db, request_id)
        request.state = RequestState.IN_PROGRESS.value
        db.add(request)
        record_action(db, request, actor, "export", export_id=created.export.id,
                      job_run_id=started.run.id,
                      summary={"protection": created.export.protection})
        audit.record(db, actor, "requests.fulfil", target=f"{kind.value}:{subject_id}",
                     details={"request": request_id, "kind": request.kind,
                              "export": created.export.id, "job": started.run.id})
        result = view(request, actions_of(db, request_id))
    return Fulfilled(result, started, created.export.id, created.warnings)


def export_sealed(db: Session, actor: Principal, export: Any) -> None:
    """Called by the export job when a request's export is sealed (inside its write
    transaction): the request is fulfilled, with the bundle as the response."""
    if export.request_id is None:
        return
    from models.requests import SubjectRequest

    request = db.get(SubjectRequest, export.request_id)
    if request is None or request.state not in (RequestState.OPEN, RequestState.IN_PROGRESS):
        return
    response = {"export": export.id, "bundle": export.path,
                "manifest_sha256": export.manifest_sha256, "rows": export.rows,
                "protection": export.protection}
    mark_fulfilled(db, request, response)
    record_action(db, request, actor, "export sealed", export_id=export.id,
                  job_run_id=export.job_run_id, summary=response)
