"""`backup`: a consistent copy of the database, sealed and encrypted (console/export/
backup.py), then the oldest backups beyond `[backups] keep` removed.

Steps: register the backup (scheduled runs, which name none: encrypted to `[backups]
recipients`), copy the database (`VACUUM INTO` / `pg_dump`, repeated whole if a crash
interrupts it), seal it under a `.partial` name and rename it, record it (audited as
`backup.finish` with its manifest hash) and prune. Each step is idempotent.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from pydantic import Field
from sqlalchemy import func
from sqlmodel import select

from console import audit, clock
from console.db import writing
from console.errors import ConsoleError
from console.export.backup import (
    DUMP_NAMES,
    BackupSpec,
    create_backup,
    encryption_of,
    prune,
    seal_backup,
    snapshot,
)
from console.jobs import Checkpoint, JobContext, JobFailed, JobKind, Params, job_kind
from console.permissions import Permission
from models.exports import Backup
from models.requests import ErasureRecord


class BackupParams(Params):
    backup_id: int = Field(default=0, ge=0, description="The registered backup to make; 0 "
                           "(schedules): a new one, encrypted to [backups] recipients")


class BackupCheckpoint(Checkpoint):
    backup_id: int = 0
    phase: str = "snapshot"  # snapshot -> seal -> done
    path: str = ""
    size_bytes: int = 0
    removed: list[str] = Field(default_factory=list)


@job_kind
class BackupDatabase(JobKind[BackupParams, BackupCheckpoint]):
    name = "backup"
    title = "Database backup"
    description = ("A consistent copy of the database (VACUUM INTO / pg_dump), signed, "
                   "checksummed and age-encrypted; keeps the newest [backups] keep")
    permission = Permission.EXPORT_RUN
    transactional = False

    def locks(self, params: BackupParams) -> tuple[str, ...]:
        return ("backup",)

    def step(self, ctx: JobContext, params: BackupParams,
             cp: BackupCheckpoint) -> BackupCheckpoint | None:
        if cp.phase == "done":
            return None
        if not cp.backup_id:
            if params.backup_id:
                cp.backup_id = params.backup_id
            else:
                if ctx.keys is None:
                    raise JobFailed("the installation's keys are not available")
                try:
                    made = create_backup(ctx.db, ctx.actor, BackupSpec(),
                                         settings=ctx.settings, keys=ctx.keys)
                except ConsoleError as exc:
                    raise JobFailed(exc.message) from None
                cp.backup_id = made.id or 0
            ctx.set_total(2)
            return cp
        backup = ctx.db.get(Backup, cp.backup_id)
        if backup is None:
            raise JobFailed(f"backup #{cp.backup_id} is not in the register")
        if backup.state == "done":
            return None
        out_dir = ctx.settings.backups_dir
        staging = out_dir / f"{backup.name}.partial"
        dump = staging / DUMP_NAMES[backup.backend]
        if cp.phase == "snapshot":
            staging.mkdir(mode=0o700, parents=True, exist_ok=True)
            snapshot(ctx.db, ctx.settings.database_url, ctx.settings.database, dump)
            cp.phase = "seal"
            ctx.advance(1, f"copied the database ({dump.stat().st_size:,} bytes)")
            return cp
        return self._seal(ctx, backup, staging, dump, out_dir, cp)

    def _seal(self, ctx: JobContext, backup: Backup, staging: Path, dump: Path, out_dir: Path,
              cp: BackupCheckpoint) -> BackupCheckpoint:
        if not dump.exists():
            cp.phase = "snapshot"  # the copy was lost: make it again
            return cp
        assert ctx.keys is not None
        encryption = encryption_of(backup, ctx.keys, ctx.settings.exports.passphrase_work_factor)
        entries = int(ctx.db.exec(select(func.count()).select_from(ErasureRecord)).one())
        if ctx.db.in_transaction():
            ctx.db.rollback()
        sealed = seal_backup(backup, dump, out_dir, ctx.keys, encryption, backup.created_at,
                             entries)
        with writing(ctx.db):
            row = ctx.db.get(Backup, backup.id)
            assert row is not None
            row.state, row.path, row.sha256 = "done", str(sealed.path), sealed.sha256
            row.manifest_sha256, row.size_bytes = sealed.manifest_sha256, sealed.size
            row.finished_at, row.sealed_passphrase = clock.now(), None
            row.job_run_id = ctx.run_id
            ctx.db.add(row)
            audit.record(ctx.db, ctx.actor, "backup.finish", target=f"backup:{backup.id}",
                         details={"path": str(sealed.path), "bytes": sealed.size,
                                  "sha256": sealed.sha256,
                                  "manifest_sha256": sealed.manifest_sha256,
                                  "protection": backup.protection, "job": ctx.run_id})
            ctx.db.flush()
            cp.removed = prune(ctx.db, ctx.actor, ctx.settings.backups.keep)
        shutil.rmtree(staging, ignore_errors=True)
        cp.phase, cp.path, cp.size_bytes = "done", str(sealed.path), sealed.size
        ctx.advance(1, f"sealed {sealed.path.name}")
        return cp

    def result(self, ctx: JobContext, params: BackupParams,
               cp: BackupCheckpoint) -> dict[str, Any]:
        return {"backup": cp.backup_id, "path": cp.path, "bytes": cp.size_bytes,
                "removed": cp.removed}
