"""Export services: ask for an export (subject, handover, logs) and start its job (the
register's reads, verify and discard are in `register`).

An export is a register row (`models.exports.Export`: what, why, for whom, how protected)
plus a job run of kind `export` that writes and seals the bundle (console/job_kinds/
export.py), so it survives a dropped session and resumes after a crash. Who asked decides
what goes in: every category needs its read permission (`CATEGORY_PERMISSION`), and
someone without pii.read gets a masked bundle, whoever runs the job later.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from console import audit, clock
from console.catalog import CATEGORIES, CategoryName, SubjectKind, category
from console.config import Settings
from console.contract import service
from console.db import writing
from console.errors import NotFound, ValidationError
from console.export.agecrypt import Encryption, Protection, check_passphrase, parse_recipients
from console.export.purposes import Purpose
from console.keys import KeyStore
from console.masking import sees_pii
from console.permissions import Permission
from console.principal import Principal
from models.business import Customer, Employee
from models.exports import Export

KINDS = ("subject", "handover", "logs")
PACKAGING = ("tar", "directory")

# What reading a category takes, besides export.run.
CATEGORY_PERMISSION: dict[str, Permission] = {
    CategoryName.AUDIT_EVENTS.value: Permission.AUDIT_READ,
    CategoryName.SUPPORT_SESSIONS.value: Permission.AUDIT_READ,
    CategoryName.JOB_RUNS.value: Permission.JOBS_READ,
    "processing_logs": Permission.LOGS_READ,
}
SUBJECT_MODELS = {SubjectKind.EMPLOYEE: Employee, SubjectKind.CUSTOMER: Customer}


@dataclass(frozen=True)
class ExportSpec:
    """What someone asks for. `passphrase` is never stored in clear, logged or audited."""

    kind: str
    purpose: Purpose | None = None
    reference: str = ""
    disclosed_to: str = ""
    recipients: tuple[str, ...] = ()
    passphrase: str | None = field(default=None, repr=False)
    no_encrypt: bool = False
    output_dir: Path | None = None
    packaging: str = "tar"
    subject: tuple[SubjectKind, int] | None = None
    categories: tuple[str, ...] = ()
    log_filter: dict[str, Any] | None = None
    request_id: int | None = None


@dataclass(frozen=True)
class Created:
    export: Export
    warnings: list[str]


def default_purpose(kind: str) -> Purpose | None:
    return {"subject": Purpose.DATA_SUBJECT_REQUEST, "handover": Purpose.HANDOVER}.get(kind)


def _encryption(spec: ExportSpec, purpose: Purpose, settings: Settings) -> Encryption:
    chosen = sum((bool(spec.recipients), spec.passphrase is not None, spec.no_encrypt))
    if chosen > 1:
        raise ValidationError("encryption", "choose one of --recipient, --passphrase-stdin "
                              "and --no-encrypt (age cannot mix a passphrase with recipients)")
    work = settings.exports.passphrase_work_factor
    if spec.recipients:
        return Encryption(recipients=parse_recipients(spec.recipients), work_factor=work)
    if spec.passphrase is not None:
        return Encryption(passphrase=check_passphrase(spec.passphrase), work_factor=work)
    if spec.no_encrypt:
        return Encryption(work_factor=work)
    configured = settings.exports.recipients.get(purpose.value, ())
    if configured:
        return Encryption(recipients=parse_recipients(configured), work_factor=work)
    raise ValidationError("encryption", "the bundle would hold personal data: encrypt it "
                          "with --recipient age1... (repeatable) or --passphrase-stdin, set "
                          f"[exports] recipients for {purpose.value!r}, or pass --no-encrypt "
                          "to write it in the clear")


def _categories(actor: Principal, spec: ExportSpec) -> tuple[list[str], list[str]]:
    """The categories to export and notes about the ones left out."""
    notes: list[str] = []
    if spec.kind == "logs":
        actor.require(Permission.LOGS_READ)
        return ["processing_logs"], notes
    if spec.kind == "subject":
        assert spec.subject is not None
        names = [c.name.value for c in CATEGORIES if c.all_links_to(spec.subject[0])]
        explicit = False
    elif spec.categories:
        names, explicit = [], True
        for raw in spec.categories:
            try:
                names.append(category(raw.strip()).name.value)
            except KeyError as exc:
                raise ValidationError("categories", str(exc.args[0])) from None
        names = list(dict.fromkeys(names))
    else:
        names, explicit = [c.name.value for c in CATEGORIES], False
    allowed = []
    for name in names:
        needed = CATEGORY_PERMISSION.get(name)
        if needed is None or actor.has(needed):
            allowed.append(name)
        elif explicit:
            actor.require(needed)
        else:
            notes.append(f"{name} left out: it needs the {needed.value} permission")
    return allowed, notes


def _subject_notes(db: Session, spec: ExportSpec, names: list[str]) -> tuple[dict[str, Any] |
                                                                              None, list[str]]:
    notes: list[str] = []
    if spec.subject is not None:
        kind, subject_id = spec.subject
        row = db.get(SUBJECT_MODELS[kind], subject_id)
        if row is None:
            raise NotFound(f"no {kind.value} with id {subject_id}")
        subject = {"kind": kind.value, "id": subject_id, "restricted": bool(row.restricted)}
        if row.restricted:
            notes.append(f"processing of this {kind.value}'s data is restricted (a "
                         "data-subject request): use it only for the stated purpose")
        if row.anonymized_at is not None:
            notes.append(f"this {kind.value} was anonymized on "
                         f"{row.anonymized_at:%Y-%m-%d}: what is left is not personal data")
        return subject, notes
    for kind, model in SUBJECT_MODELS.items():
        table = "employees" if kind is SubjectKind.EMPLOYEE else "customers"
        if table in names:
            from sqlalchemy import func

            count = db.exec(select(func.count()).select_from(model)
                            .where(col(model.restricted))).one()
            if count:
                notes.append(f"{count} {table} have processing restricted (a data-subject "
                             "request): see their `restricted` column")
    return None, notes


def _output_dir(spec: ExportSpec, settings: Settings) -> Path:
    target = (spec.output_dir or settings.exports_dir).expanduser()
    try:
        target.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ValidationError("output", f"cannot create {target}: {exc.strerror}") from None
    if not target.is_dir() or not os.access(target, os.W_OK | os.X_OK):
        raise ValidationError("output", f"{target} is not a writable directory")
    return target.resolve()


@service("export.create", audit_errors=True)
def create_export(db: Session, actor: Principal, spec: ExportSpec, *, settings: Settings,
                  keys: KeyStore) -> Created:
    """Register an export and return it (its job is started by `start_export`).

    Needs export.run, plus the read permission of each category (audit.read for the
    audit trail, logs.read for processing logs, jobs.read for job runs); without pii.read
    the bundle is masked. Raises ValidationError (kind, purpose, reference, encryption,
    output), NotFound (the subject), AccessDenied."""
    actor.require(Permission.EXPORT_RUN)
    if spec.kind not in KINDS:
        raise ValidationError("kind", f"must be one of {', '.join(KINDS)}")
    if spec.packaging not in PACKAGING:
        raise ValidationError("packaging", f"must be one of {', '.join(PACKAGING)}")
    if (spec.kind == "subject") != (spec.subject is not None):
        raise ValidationError("subject", "a subject export names exactly one employee or "
                              "customer (and only a subject export names one)")
    purpose = spec.purpose or default_purpose(spec.kind)
    if purpose is None:
        raise ValidationError("purpose", "say why the data leaves: --purpose handover, "
                              "legal-order, written-consent or data-subject-request")
    if purpose is Purpose.BACKUP:
        raise ValidationError("purpose", "backup is for `flowpro-console backup create`")
    reference = spec.reference.strip()
    if purpose.needs_reference and not reference:
        raise ValidationError("reference", f"a {purpose.value} export needs --reference "
                              "(the order's or the consent's reference)")
    if len(reference) > 200 or len(spec.disclosed_to) > 200:
        raise ValidationError("reference", "at most 200 characters")
    encryption = _encryption(spec, purpose, settings)
    names, notes = _categories(actor, spec)
    masked = not sees_pii(actor)
    subject, more = _subject_notes(db, spec, names)
    notes += more
    if masked:
        notes.append("personal data is masked: made by someone without pii.read")
    warnings = []
    if encryption.protection is Protection.NONE:
        warning = ("the bundle is NOT encrypted and holds personal data: move it only over "
                   "encrypted channels and delete it once delivered")
        warnings.append(warning)
        notes.append("not encrypted (--no-encrypt)")
    output = _output_dir(spec, settings)
    if spec.log_filter is not None and spec.kind != "logs":
        raise ValidationError("filters", "log filters go with `export logs`")
    now = clock.now()
    if db.in_transaction():
        db.rollback()
    with writing(db):
        export = Export(
            kind=spec.kind, purpose=purpose.value, reference=reference,
            disclosed_to=spec.disclosed_to.strip() or _default_recipient(purpose),
            protection=encryption.protection.value,
            recipients=json.dumps(list(encryption.recipients)), packaging=spec.packaging,
            subject_kind=spec.subject[0].value if spec.subject else None,
            subject_id=spec.subject[1] if spec.subject else None,
            categories=json.dumps(names), filters=json.dumps(spec.log_filter or {}),
            masked=masked, name="pending", output_dir=str(output), notes=json.dumps(notes),
            created_by=actor.name, created_at=now, request_id=spec.request_id)
        db.add(export)
        db.flush()
        export.name = f"flowpro-{spec.kind}-{now:%Y%m%d-%H%M%S}-{export.id}"
        if encryption.passphrase is not None:
            export.sealed_passphrase = keys.encrypt_secret(
                encryption.passphrase.encode(), context=f"export:{export.id}")
        db.add(export)
        target = (f"{spec.subject[0].value}:{spec.subject[1]}" if spec.subject
                  else f"export:{export.id}")
        audit.record(db, actor, "export.create", target=target, details={
            "export": export.id, "kind": spec.kind, "purpose": purpose.value,
            "reference": reference or None, "disclosed_to": export.disclosed_to,
            "protection": encryption.protection.value,
            "recipients": list(encryption.recipients), "categories": names,
            "subject": subject, "filters": spec.log_filter, "masked": masked,
            "output": str(output / export.name), "request": spec.request_id})
    return Created(export, warnings)


def _default_recipient(purpose: Purpose) -> str:
    return {Purpose.DATA_SUBJECT_REQUEST: "the data subject",
            Purpose.HANDOVER: "the client (handover)"}.get(purpose, "")


def start_export(db: Session, actor: Principal, export: Export, *, where: Any,
                 lease_seconds: float) -> Any:
    """Start the export's job run (`where` as in `console.jobs.start_run`); records the run
    on the export. Returns the jobs framework's Started."""
    from console.jobs import start_run

    started = start_run(db, actor, "export", {"export_id": export.id}, where=where,
                        lease_seconds=lease_seconds)
    with writing(db):
        row = db.get(Export, export.id)
        assert row is not None
        row.job_run_id = started.run.id
        db.add(row)
    export.job_run_id = started.run.id
    return started


def export_now(runtime: Any, db: Session, actor: Principal, spec: ExportSpec) -> Export:
    """Create an export and run its job to the end in this thread (tests, requests).
    Returns the final register row; raises ConsoleError when the job does not succeed."""
    from console.errors import ConsoleError
    from console.jobs import Where, execute

    created = create_export(db, actor, spec, settings=runtime.settings, keys=runtime.keys)
    started = start_export(db, actor, created.export, where=Where.HERE,
                           lease_seconds=runtime.settings.jobs.lease_seconds)
    assert started.claim is not None
    final = execute(runtime, started.claim, actor)
    db.expire_all()
    export = db.get(Export, created.export.id)
    assert export is not None
    if export.state != "done" or final is None or final.state != "succeeded":
        detail = final.error if final is not None else "taken over by another runner"
        raise ConsoleError(f"export #{export.id} did not finish: {detail}")
    return export


def public_key_info(keys: KeyStore) -> tuple[str, str]:
    """(key id, PEM) of the key that signs manifests."""
    return keys.key_id, keys.public_key_pem().decode()



@dataclass(frozen=True)
class Begun:
    """An export registered and its job started (`started.claim`: run it in this process)."""

    export: Export
    started: Any
    warnings: list[str]


def begin_export(db: Session, actor: Principal, spec: ExportSpec, *, settings: Settings,
                 keys: KeyStore, where: Any = None) -> Begun:
    """`create_export` then `start_export` (the TUI's one call). Same permissions and
    errors as `create_export`."""
    from console.jobs import Where

    created = create_export(db, actor, spec, settings=settings, keys=keys)
    started = start_export(db, actor, created.export, where=where or Where.AUTO,
                           lease_seconds=settings.jobs.lease_seconds)
    return Begun(created.export, started, created.warnings)


def parse_subject(text: str) -> tuple[SubjectKind, int]:
    """'employee:12' / 'customer 40' -> (kind, id); ValidationError otherwise."""
    kind, _, number = text.strip().replace(" ", ":").partition(":")
    try:
        return SubjectKind(kind.lower()), int(number)
    except ValueError:
        raise ValidationError("subject", "name the person as employee:ID or customer:ID"
                              ) from None


def spec_from_values(kind: str, values: dict[str, str], passphrase: str | None, *,
                     view: Any = None) -> ExportSpec:
    """An ExportSpec from a form's text values (the TUI's new-export form). For a logs
    export, `view` (a LogFilter: the log browser's current view) takes the place of
    the form's words and level. Raises ValidationError."""
    protection = values.get("protection", "recipients")
    recipients = tuple(values.get("recipients", "").split()) if protection == "recipients" \
        else ()
    log_filter = None
    if kind == "logs":
        from console.export.parts import filter_to_json
        from console.logs.common import parse_levels
        from console.logs.query import LogFilter, check_filter

        flt = view
        if flt is None:
            try:
                levels = parse_levels(values["level"]) if values.get("level") else None
            except ValueError as exc:
                raise ValidationError("filter", str(exc)) from None
            flt = LogFilter(levels=levels, text=values.get("text", ""))
        check_filter(flt)
        log_filter = filter_to_json(flt)
    purpose = Purpose(values["purpose"]) if values.get("purpose") else None
    return ExportSpec(
        kind=kind, purpose=purpose, reference=values.get("reference", ""),
        disclosed_to=values.get("to", ""), recipients=recipients,
        passphrase=passphrase if protection == "passphrase" else None,
        no_encrypt=protection == "none",
        subject=parse_subject(values.get("subject", "")) if kind == "subject" else None,
        categories=tuple(c.strip() for c in values.get("categories", "").split(",")
                         if c.strip()) if kind == "handover" else (),
        log_filter=log_filter)


def start_handover(db: Session, actor: Principal, *, settings: Settings, keys: KeyStore,
                   recipients: Sequence[str] = (), passphrase: str | None = None,
                   no_encrypt: bool = False, categories: Sequence[str] = (),
                   disclosed_to: str = "", output_dir: Path | None = None,
                   where: Any = None) -> Begun:
    """The handover export of the termination workflow (stable API): every category (or
    `categories`), purpose `handover`, encrypted to `recipients` (default: `[exports]
    recipients.handover`) or a passphrase. Returns the register row and its started job:
    run `started.claim` here (`console.jobs.execute` / `LocalJobs.launch`) when it has one;
    the handover is done when `register.get_export(db, actor, begun.export.id).state` is
    "done" (its `path` and `manifest_sha256` then say what was handed over). Same
    permissions and errors as `create_export`."""
    spec = ExportSpec(kind="handover", purpose=Purpose.HANDOVER, recipients=tuple(recipients),
                      passphrase=passphrase, no_encrypt=no_encrypt,
                      categories=tuple(categories), disclosed_to=disclosed_to,
                      output_dir=output_dir)
    return begin_export(db, actor, spec, settings=settings, keys=keys, where=where)
