"""Restoring a backup, for the OS owner only (`flowpro-console backup restore`).

1. The backup is decrypted and verified as it streams (signature by this installation's
   key, every checksum); the database file is copied out of that same stream. Any problem
   and the restore stops there: nothing has changed.
2. The erasure ledger of the database about to be replaced is read (with the ledger
   file), and a marker file makes every console refuse to open until step 5 is done.
3. SQLite: the current file is moved aside (`console.db.pre-restore-<time>`) and the
   backup's put in its place. PostgreSQL: `pg_restore --clean --single-transaction`.
4. Migrations this version has and the backup lacks are applied.
5. The ledger is merged and re-applied (everyone erased since the backup is erased again),
   the restore is audited, and the marker removed.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from console import clock
from console.config import Settings
from console.errors import Conflict, ConsoleError, ValidationError
from console.export.backup import DUMP_NAMES, _tool, find_backup, pg_environment
from console.export.verify import VerifyReport, verify_bundle
from console.keys import KeyStore
from console.principal import Principal
from console.runtime import RESTORING, make_database, open_runtime, precheck


@dataclass
class RestoreReport:
    backup: str
    backend: str = ""
    verified: VerifyReport | None = None
    moved_aside: str = ""
    upgraded: list[str] = field(default_factory=list)
    ledger_entries: int = 0
    erased_again: int = 0


def _current_ledger(settings: Settings) -> list[dict[str, Any]]:
    """The ledger of the database about to be replaced (if it opens at all)."""
    try:
        database = make_database(settings)
        with database.engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT subject_key, categories, erased_at, request_id FROM erasure_ledger"
            ).all()
        database.dispose()
    except Exception:  # noqa: BLE001 - a lost or broken database: the ledger file remains
        return []
    found = []
    for key, categories, erased_at, request in rows:
        stamp = erased_at if isinstance(erased_at, str) else erased_at.isoformat(sep=" ")
        from datetime import UTC, datetime

        when = datetime.fromisoformat(str(stamp)).replace(tzinfo=UTC)
        found.append({"subject_key": key, "categories": json.loads(categories or "[]"),
                      "erased_at": when.isoformat(), "request": request})
    return found


def _sqlite_path(settings: Settings) -> Path:
    from sqlalchemy.engine import make_url

    return Path(make_url(settings.database_url).database or "")


def _check_sqlite(path: Path) -> None:
    try:
        with sqlite3.connect(path) as conn:
            result = conn.execute("PRAGMA integrity_check").fetchall()
    except sqlite3.DatabaseError as exc:
        raise ConsoleError(f"the backup's database does not open: {exc}") from None
    if result != [("ok",)]:
        raise ConsoleError(f"the backup's database fails its integrity check: {result[0][0]}")


def restore(settings: Settings, ref: str, actor: Principal, *,
            identities: list[object] | None = None, passphrase: str | None = None
            ) -> RestoreReport:
    """Restore the backup `ref` (register id, name or path). Raises ValidationError when
    it does not verify (nothing changed), Conflict when the scheduler is running."""
    keys = precheck(settings, restoring=True)
    runtime = open_runtime(settings, check_schema=False, restoring=True)
    try:
        from console.jobs import scheduler_status

        with runtime.database.scope() as db:
            if scheduler_status(db).running:
                raise Conflict("the scheduler is running: stop it first (systemctl stop "
                               "flowpro-console-scheduler), then restore")
            path, _row = find_backup(db, ref, settings)
    finally:
        runtime.close()
    backend = make_database(settings).backend
    report = RestoreReport(path.name, backend)
    temp = settings.data_dir / f".restore-{clock.now():%Y%m%d%H%M%S}.partial"
    dump_name = DUMP_NAMES[backend]
    try:
        verified = verify_bundle(path, identities=identities, passphrase=passphrase, keys=keys,
                                 extract={dump_name: temp})
        report.verified = verified
        manifest = verified.manifest or {}
        if verified.ok and manifest.get("format") != "flowpro-backup":
            verified.problems.append("this is an export bundle, not a backup")
        elif verified.ok and manifest.get("backend") != backend:
            verified.problems.append(f"a backup of a {manifest.get('backend')} database "
                                     f"cannot be restored into {backend}")
        if verified.problems or not temp.exists():
            verified.ok = False
            raise ValidationError("backup", "refusing to restore: " + "; ".join(
                verified.problems or ["it holds no database"]))
        if backend == "sqlite":
            _check_sqlite(temp)
        ledger = _current_ledger(settings)
        marker = settings.data_dir / RESTORING
        marker.write_text(json.dumps({"backup": path.name, "started": clock.now().isoformat(),
                                      "by": actor.name}) + "\n")
        if backend == "sqlite":
            report.moved_aside = _swap_sqlite(settings, temp)
        else:
            _pg_restore(settings, temp)
    finally:
        temp.unlink(missing_ok=True)
    report.upgraded = _upgrade(settings)
    _finish(settings, keys, actor, report, ledger)
    return report


def _swap_sqlite(settings: Settings, restored: Path) -> str:
    current = _sqlite_path(settings)
    stamp = clock.now().strftime("%Y%m%d-%H%M%S")
    aside = current.with_name(f"{current.name}.pre-restore-{stamp}")
    if current.exists():
        os.replace(current, aside)
    for suffix in ("-wal", "-shm"):
        side = current.with_name(current.name + suffix)
        if side.exists():
            os.replace(side, aside.with_name(aside.name + suffix))
    shutil.move(str(restored), current)
    os.chmod(current, 0o600)
    return str(aside) if aside.exists() else ""


def _pg_restore(settings: Settings, dump: Path) -> None:
    env = pg_environment(settings.database_url, settings.database)
    env["PGOPTIONS"] = "-c lock_timeout=15s"
    done = subprocess.run([_tool("pg_restore"), "--clean", "--if-exists", "--no-owner",
                           "--no-privileges", "--single-transaction", "--exit-on-error",
                           f"--dbname={env.get('PGDATABASE', '')}", str(dump)],
                          env=env, capture_output=True, text=True)
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["failed"])[-1]
        raise ConsoleError(f"pg_restore failed (the database is unchanged): {first[:300]}")


def _upgrade(settings: Settings) -> list[str]:
    from console.db import upgrade

    database = make_database(settings)
    try:
        return upgrade(database)
    finally:
        database.dispose()


def _finish(settings: Settings, keys: KeyStore, actor: Principal, report: RestoreReport,
            ledger: list[dict[str, Any]]) -> None:
    from console import audit
    from console.requests.erasure import reapply_erasures

    runtime = open_runtime(settings, restoring=True)
    try:
        with runtime.database.scope() as db:
            audit.record_alone(db, actor, "backup.restore", target=report.backup, details={
                "backend": report.backend, "moved_aside": report.moved_aside or None,
                "upgraded": report.upgraded,
                "manifest_key": report.verified.key_id if report.verified else None})
            done = reapply_erasures(db, actor, keys, data_dir=settings.data_dir, extra=ledger)
            report.ledger_entries, report.erased_again = done.entries, len(done.erased_again)
    finally:
        runtime.close()
    (settings.data_dir / RESTORING).unlink(missing_ok=True)
