"""The disclosure register: every export ever made (rows are never deleted), read, shown,
verified and, while unfinished, discarded. Readable with export.run or audit.read."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from console import audit, clock
from console.contract import service
from console.db import writing
from console.errors import Conflict, NotFound
from console.keys import KeyStore
from console.permissions import Permission
from console.principal import Principal
from models.exports import Export
from models.jobs import JobRun


@dataclass(frozen=True)
class ExportView:
    id: int
    kind: str
    purpose: str
    reference: str
    disclosed_to: str
    protection: str
    recipients: list[str]
    subject: str
    categories: list[str]
    filters: dict[str, Any]
    masked: bool
    state: str  # done | running | queued | failed | cancelled | interrupted | discarded
    path: str
    rows: int
    size_bytes: int
    manifest_sha256: str
    notes: list[str]
    created_by: str
    created_at: Any
    finished_at: Any
    job_run_id: int | None
    request_id: int | None
    error: str

    def to_json(self) -> dict[str, Any]:
        from dataclasses import asdict

        data = asdict(self)
        for key in ("created_at", "finished_at"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


def _view(export: Export, run: JobRun | None) -> ExportView:
    state = export.state
    error = export.error
    if state == "running" and run is not None:
        state = run.state
        error = error or run.error
    subject = f"{export.subject_kind} {export.subject_id}" if export.subject_kind else ""
    return ExportView(
        export.id or 0, export.kind, export.purpose, export.reference, export.disclosed_to,
        export.protection, json.loads(export.recipients), subject,
        json.loads(export.categories), json.loads(export.filters), export.masked, state,
        export.path, export.rows, export.size_bytes, export.manifest_sha256,
        json.loads(export.notes), export.created_by, export.created_at, export.finished_at,
        export.job_run_id, export.request_id, error)


def _runs(db: Session, exports: Sequence[Export]) -> dict[int, JobRun]:
    ids = [e.job_run_id for e in exports if e.job_run_id is not None]
    if not ids:
        return {}
    query = select(JobRun).where(col(JobRun.id).in_(ids))
    return {r.id or 0: r for r in db.exec(query.execution_options(populate_existing=True))}


def _require_register(actor: Principal) -> None:
    if not (actor.has(Permission.EXPORT_RUN) or actor.has(Permission.AUDIT_READ)):
        actor.require(Permission.EXPORT_RUN)


@service("export.read")
def list_exports(db: Session, actor: Principal, *, limit: int = 100,
                 before_id: int | None = None, purpose: str | None = None,
                 kind: str | None = None) -> list[ExportView]:
    """The disclosure register, newest first (keyset by id): every export with its purpose,
    reference, recipient and state. Needs export.run or audit.read."""
    _require_register(actor)
    query = select(Export).order_by(col(Export.id).desc()).limit(max(1, min(limit, 1000)))
    if before_id is not None:
        query = query.where(col(Export.id) < before_id)
    if purpose:
        query = query.where(Export.purpose == purpose)
    if kind:
        query = query.where(Export.kind == kind)
    exports = list(db.exec(query.execution_options(populate_existing=True)))
    runs = _runs(db, exports)
    result = [_view(e, runs.get(e.job_run_id or -1)) for e in exports]
    db.rollback()
    return result


@service("export.read")
def get_export(db: Session, actor: Principal, export_id: int) -> ExportView:
    """One export of the register. Needs export.run or audit.read; raises NotFound."""
    _require_register(actor)
    export = db.get(Export, export_id, populate_existing=True)
    if export is None:
        raise NotFound(f"no export #{export_id}; see `flowpro-console export list`")
    view = _view(export, _runs(db, [export]).get(export.job_run_id or -1))
    db.rollback()
    return view


@service("export.discard")
def discard_export(db: Session, actor: Principal, export_id: int) -> ExportView:
    """Remove what an unfinished export left on disk (its `.partial` files, which hold the
    data in the clear) and mark it discarded; its run is cancelled if it can be. Needs
    export.run; raises NotFound, Conflict (finished, or its job is running)."""
    actor.require(Permission.EXPORT_RUN)
    export = db.get(Export, export_id)
    if export is None:
        raise NotFound(f"no export #{export_id}")
    run = db.get(JobRun, export.job_run_id) if export.job_run_id else None
    if export.state != "running":
        raise Conflict(f"export #{export_id} is {export.state}; nothing to discard")
    if run is not None and run.state in ("running", "queued"):
        raise Conflict(f"export #{export_id} is still {run.state} (job #{run.id}): cancel "
                       "the job first (`flowpro-console jobs cancel`)")
    from console.export.bundle import Staging

    staging = Staging(Path(export.output_dir), export.name)
    staging.remove()
    for suffix in (".tar.partial", ".tar.age.partial"):
        (Path(export.output_dir) / f"{export.name}{suffix}").unlink(missing_ok=True)
    with writing(db):
        row = db.get(Export, export_id)
        assert row is not None
        row.state, row.sealed_passphrase = "discarded", None
        row.finished_at = clock.now()
        db.add(row)
        audit.record(db, actor, "export.discard", target=f"export:{export_id}",
                     details={"job": export.job_run_id})
    return _view(row, run)


@service("export.verify")
def verify_export(db: Session, actor: Principal, export_id: int, *, keys: KeyStore,
                  identity: str = "", passphrase: str | None = None) -> Any:
    """Verify a finished export's bundle on disk (signature, checksums, row counts); the
    check and its result are audited. Needs export.run or audit.read. Raises NotFound,
    Conflict (not finished), ValidationError (the identity file)."""
    from console.export.agecrypt import load_identities
    from console.export.verify import verify_bundle

    _require_register(actor)
    export = db.get(Export, export_id, populate_existing=True)
    if export is None:
        raise NotFound(f"no export #{export_id}")
    if export.state != "done" or not export.path:
        raise Conflict(f"export #{export_id} is not finished; nothing to verify")
    identities = load_identities(Path(identity).expanduser()) if identity.strip() else None
    db.rollback()
    report = verify_bundle(Path(export.path), identities=identities, passphrase=passphrase,
                           keys=keys)
    audit.record_alone(db, actor, "export.verify", target=f"export:{export_id}", details={
        "ok": report.ok, "problems": report.problems[:20], "path": export.path})
    return report
