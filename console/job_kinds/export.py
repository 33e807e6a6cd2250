"""`export`: write one export bundle (see console/export/) in resumable steps.

Data phase: each step appends up to `[exports] rows_per_step` rows of the current category
to its staged `.jsonl` and `.csv` files and records how far it got (the category, the last
key, both file sizes). The step first cuts the files back to the sizes of the last saved
checkpoint, so a crash between writing and saving repeats that step without duplicating a
row. Seal phase: one step packs, verifies, encrypts and renames the bundle into place,
then records it in the register with its manifest hash (audited as `export.finish`).

All the export's choices (categories, subject, filters, masking, encryption) live on its
register row (`models.exports.Export`); the only parameter is that row's id, so nothing
secret is ever a job parameter (a passphrase is kept sealed on the row until the bundle
is sealed).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import Field

from console import audit, clock
from console.db import writing
from console.export.agecrypt import Encryption
from console.export.bundle import BundleInfo, StagedCountMismatch, Staging, Stopped, seal
from console.export.parts import build_parts
from console.export.rows import Part
from console.jobs import Checkpoint, JobContext, JobFailed, JobKind, Params, job_kind
from console.permissions import Permission
from models.exports import Export


class ExportParams(Params):
    export_id: int = Field(ge=1, description="The export's number in the register "
                                             "(`flowpro-console export list`)")


class ExportCheckpoint(Checkpoint):
    phase: str = "data"  # data -> seal -> done
    part: int = 0  # index of the category being written
    # Its last key written (console.export.rows.Cursor: a list of primary-key values, or
    # a log entry id); None: from the start. An int 0 from an earlier version also means
    # the start.
    after: Any = None
    jsonl_bytes: int = 0  # its staged files' sizes at that point
    csv_bytes: int = 0
    rows: dict[str, int] = Field(default_factory=dict)
    path: str = ""
    manifest_sha256: str = ""
    size_bytes: int = 0
    rewrites: int = 0


def load_export(ctx: JobContext, export_id: int) -> Export:
    export = ctx.db.get(Export, export_id)
    if export is None:
        raise JobFailed(f"export #{export_id} is not in the register")
    return export


@job_kind
class ExportBundle(JobKind[ExportParams, ExportCheckpoint]):
    name = "export"
    title = "Export bundle"
    description = ("Write an export bundle (JSON Lines + CSV, manifest, signature, "
                   "checksums), encrypt it and record it in the disclosure register")
    permission = Permission.EXPORT_RUN
    transactional = False

    def locks(self, params: ExportParams) -> tuple[str, ...]:
        return (f"export:{params.export_id}",)

    def check(self, db: Any, actor: Any, params: ExportParams) -> None:
        from console.errors import Conflict, NotFound

        export = db.get(Export, params.export_id)
        if export is None:
            raise NotFound(f"no export #{params.export_id}; exports start with "
                           "`flowpro-console export subject|handover|logs`")
        if export.state != "running":
            raise Conflict(f"export #{params.export_id} is {export.state}")
        db.rollback()

    def _parts(self, ctx: JobContext, export: Export) -> list[Part]:
        # Built afresh for every step (cheap): nothing cached can outlive a resume.
        return build_parts(ctx.db, export)

    def estimate(self, ctx: JobContext, params: ExportParams,
                 cp: ExportCheckpoint) -> int | None:
        export = load_export(ctx, params.export_id)
        total = 0
        for part in self._parts(ctx, export):
            count = part.count(ctx.db)
            if count is None:
                return None
            total += count
        return total

    def step(self, ctx: JobContext, params: ExportParams,
             cp: ExportCheckpoint) -> ExportCheckpoint | None:
        export = load_export(ctx, params.export_id)
        if cp.phase == "done":
            return None
        staging = Staging(Path(export.output_dir), export.name)
        if export.state == "done":  # sealed and recorded; only the clean-up was lost
            if export.packaging != "directory":
                staging.remove()
            return None
        if export.state != "running":
            raise JobFailed(f"export #{export.id} is {export.state}; start a new export")
        parts = self._parts(ctx, export)
        if cp.phase == "data":
            return self._data(ctx, export, parts, staging, cp)
        return self._seal(ctx, export, parts, staging, cp)

    def _data(self, ctx: JobContext, export: Export, parts: list[Part], staging: Staging,
              cp: ExportCheckpoint) -> ExportCheckpoint:
        if cp.part >= len(parts):
            cp.phase = "seal"
            return cp
        part = parts[cp.part]
        jsonl_bytes, csv_bytes = staging.prepare(part, cp.jsonl_bytes, cp.csv_bytes)
        if (jsonl_bytes, csv_bytes) != (cp.jsonl_bytes, cp.csv_bytes) and cp.after:
            ctx.advance(-cp.rows.get(part.name, 0), f"{part.name}: starting again")
            cp.after, cp.rows[part.name] = None, 0
        cp.jsonl_bytes, cp.csv_bytes = jsonl_bytes, csv_bytes
        cp.rows.setdefault(part.name, 0)
        budget = ctx.settings.exports.rows_per_step
        while budget > 0:
            batch = part.fetch(ctx.db, cp.after, min(budget, 10_000))
            if batch.count:
                cp.jsonl_bytes, cp.csv_bytes = staging.append(part, batch)
                cp.rows[part.name] += batch.count
                ctx.advance(batch.count, f"{part.name}: {cp.rows[part.name]:,} rows")
            cp.after = batch.last
            budget -= max(batch.count, 1)
            if batch.done:
                cp.part, cp.after, cp.jsonl_bytes, cp.csv_bytes = cp.part + 1, None, 0, 0
                if cp.part >= len(parts):
                    cp.phase = "seal"
                    ctx.message("sealing the bundle")
                break
            if ctx.should_stop():
                break
        if ctx.db.in_transaction():
            ctx.db.rollback()
        return cp

    def _seal(self, ctx: JobContext, export: Export, parts: list[Part], staging: Staging,
              cp: ExportCheckpoint) -> ExportCheckpoint:
        passphrase = None
        if export.sealed_passphrase is not None:
            if ctx.keys is None:
                raise JobFailed("the installation's keys are not available to unseal the "
                                "passphrase")
            passphrase = ctx.keys.decrypt_secret(export.sealed_passphrase,
                                                 context=f"export:{export.id}").decode()
        encryption = Encryption(recipients=tuple(json.loads(export.recipients)),
                                passphrase=passphrase,
                                work_factor=ctx.settings.exports.passphrase_work_factor)
        subject = None
        if export.subject_kind:
            subject = {"kind": export.subject_kind, "id": export.subject_id,
                       "restricted": any("restricted" in n for n in json.loads(export.notes))}
        info = BundleInfo(
            name=export.name, kind=export.kind, purpose=export.purpose,
            created_at=export.created_at, created_by=export.created_by,
            encryption=encryption, packaging=export.packaging, parts=parts, rows=cp.rows,
            export_id=export.id, reference=export.reference,
            disclosed_to=export.disclosed_to, subject=subject,
            filters=json.loads(export.filters), masked=export.masked,
            notes=json.loads(export.notes))
        if ctx.db.in_transaction():
            ctx.db.rollback()
        assert ctx.keys is not None
        try:
            sealed = seal(staging, info, ctx.keys, should_stop=ctx.should_stop)
        except Stopped:
            return cp  # sealing starts over when the run goes on
        except StagedCountMismatch as exc:
            # The staged files are not what was written into them (damaged on disk, or
            # changed by someone): write them all again, once; never seal them as they are.
            if cp.rewrites:
                raise JobFailed(f"{exc}, again after writing it afresh; check the disk "
                                f"under {staging.output_dir}") from None
            ctx.log.warning("staged export data damaged, writing it again: %s", exc)
            staging.remove()
            ctx.advance(-ctx.done, f"{exc}: writing the data again")
            return ExportCheckpoint(rewrites=cp.rewrites + 1)
        with writing(ctx.db):
            row = ctx.db.get(Export, export.id)
            assert row is not None
            row.state, row.path = "done", str(sealed.path)
            row.manifest_sha256, row.rows, row.size_bytes = (sealed.manifest_sha256,
                                                             sealed.rows, sealed.size)
            row.finished_at, row.sealed_passphrase = clock.now(), None
            row.job_run_id = ctx.run_id
            ctx.db.add(row)
            if row.request_id is not None:
                from console.requests.fulfil import export_sealed

                export_sealed(ctx.db, ctx.actor, row)
            target = (f"{export.subject_kind}:{export.subject_id}" if export.subject_kind
                      else f"export:{export.id}")
            audit.record(ctx.db, ctx.actor, "export.finish", target=target, details={
                "export": export.id, "path": str(sealed.path), "rows": sealed.rows,
                "bytes": sealed.size, "manifest_sha256": sealed.manifest_sha256,
                "purpose": export.purpose, "disclosed_to": export.disclosed_to,
                "protection": export.protection, "job": ctx.run_id})
        if export.packaging != "directory":
            staging.remove()
        cp.phase, cp.path = "done", str(sealed.path)
        cp.manifest_sha256, cp.size_bytes = sealed.manifest_sha256, sealed.size
        ctx.message(f"sealed {sealed.path.name}")
        return cp

    def result(self, ctx: JobContext, params: ExportParams,
               cp: ExportCheckpoint) -> dict[str, Any]:
        return {"export": params.export_id, "path": cp.path, "rows": sum(cp.rows.values()),
                "bytes": cp.size_bytes, "manifest_sha256": cp.manifest_sha256}

