"""Backups of the whole database: a consistent online copy (SQLite `VACUUM INTO`, which
reads one snapshot while the console keeps working; `pg_dump` for PostgreSQL), packed with
a signed manifest and checksums exactly like an export bundle, age-encrypted, written
under a `.partial` name and renamed when complete. The newest `[backups] keep` are kept.

The keys directory is not in a backup (a backup must not carry the keys that open the
secrets in it): keep a copy of `<data_dir>/keys/` somewhere safe, apart from the backups.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy.engine import make_url
from sqlmodel import Session, col, select

from console import audit, clock
from console.config import DatabaseSettings, Settings
from console.contract import service
from console.db import backend_of, script_revisions, writing
from console.errors import ConsoleError, NotFound, ValidationError
from console.export.agecrypt import Encryption, Protection, check_passphrase, parse_recipients
from console.export.bundle import (
    BACKUP_FORMAT,
    FileFigures,
    _open_private,
    fsync_dir,
    private_dir,
    sums_file,
)
from console.export.tarstream import Member, buffered, tar_chunks
from console.keys import KeyStore
from console.permissions import Permission
from console.principal import Principal
from models.exports import Backup

DUMP_NAMES = {"sqlite": "database.sqlite", "postgresql": "database.pgdump"}


@dataclass(frozen=True)
class BackupSpec:
    recipients: tuple[str, ...] = ()
    passphrase: str | None = None
    no_encrypt: bool = False


def backup_encryption(spec: BackupSpec, settings: Settings) -> Encryption:
    chosen = sum((bool(spec.recipients), spec.passphrase is not None, spec.no_encrypt))
    if chosen > 1:
        raise ValidationError("encryption", "choose one of --recipient, --passphrase-stdin "
                              "and --no-encrypt")
    work = settings.exports.passphrase_work_factor
    if spec.recipients:
        return Encryption(recipients=parse_recipients(spec.recipients), work_factor=work)
    if spec.passphrase is not None:
        return Encryption(passphrase=check_passphrase(spec.passphrase), work_factor=work)
    if spec.no_encrypt:
        return Encryption(work_factor=work)
    if settings.backups.recipients:
        return Encryption(recipients=parse_recipients(settings.backups.recipients),
                          work_factor=work)
    raise ValidationError("encryption", "a backup holds all the data: encrypt it with "
                          "--recipient age1... or --passphrase-stdin, set [backups] "
                          "recipients, or pass --no-encrypt")


@service("backup.create", audit_errors=True)
def create_backup(db: Session, actor: Principal, spec: BackupSpec, *, settings: Settings,
                  keys: KeyStore) -> Backup:
    """Register a backup (its job, kind `backup`, makes it). Needs export.run. Raises
    ValidationError (encryption, the backups directory)."""
    actor.require(Permission.EXPORT_RUN)
    encryption = backup_encryption(spec, settings)
    target = settings.backups_dir
    try:
        private_dir(target)
    except OSError as exc:
        raise ValidationError("backups dir", f"cannot create {target}: {exc.strerror}") from None
    if not os.access(target, os.W_OK | os.X_OK):
        raise ValidationError("backups dir", f"{target} is not writable")
    now = clock.now()
    if db.in_transaction():
        db.rollback()
    with writing(db):
        backup = Backup(name="pending", backend=backend_of(db),
                        protection=encryption.protection.value,
                        recipients=json.dumps(list(encryption.recipients)),
                        created_by=actor.name, created_at=now)
        db.add(backup)
        db.flush()
        backup.name = f"flowpro-backup-{now:%Y%m%d-%H%M%S}-{backup.id}"
        if encryption.passphrase is not None:
            backup.sealed_passphrase = keys.encrypt_secret(
                encryption.passphrase.encode(), context=f"backup:{backup.id}")
        db.add(backup)
        audit.record(db, actor, "backup.create", target=f"backup:{backup.id}", details={
            "backend": backup.backend, "protection": backup.protection,
            "recipients": list(encryption.recipients), "dir": str(target)})
    return backup


def encryption_of(backup: Backup, keys: KeyStore | None, work_factor: int) -> Encryption:
    passphrase = None
    if backup.sealed_passphrase is not None:
        if keys is None:
            raise ConsoleError("the installation's keys are needed to unseal the passphrase")
        passphrase = keys.decrypt_secret(backup.sealed_passphrase,
                                         context=f"backup:{backup.id}").decode()
    return Encryption(recipients=tuple(json.loads(backup.recipients)), passphrase=passphrase,
                      work_factor=work_factor)


# -- the copy ---------------------------------------------------------------------------------


def pg_environment(url: str, settings: DatabaseSettings) -> dict[str, str]:
    """libpq's variables for the configured database (the password never on a command
    line, where `ps` would show it)."""
    parsed = make_url(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    host = parsed.query.get("host") or parsed.host
    values = {"PGHOST": host, "PGPORT": parsed.port, "PGUSER": parsed.username,
              "PGPASSWORD": parsed.password, "PGDATABASE": parsed.database,
              "PGSSLMODE": settings.sslmode.value, "PGSSLROOTCERT": settings.sslrootcert,
              "PGSSLCERT": settings.sslcert, "PGSSLKEY": settings.sslkey,
              "PGCONNECT_TIMEOUT": "10"}
    for key, value in values.items():
        if value:
            env[key] = str(value[0] if isinstance(value, tuple) else value)
    return env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise ConsoleError(f"{name} is not installed: install the PostgreSQL client "
                           "(apt-get install postgresql-client)")
    return found


def snapshot(db: Session, url: str, settings: DatabaseSettings, target: Path) -> None:
    """Write a consistent copy of the database to `target` (replaced if it exists)."""
    target.unlink(missing_ok=True)
    if backend_of(db) == "sqlite":
        if db.in_transaction():
            db.rollback()
        with db.get_bind().connect() as conn:  # type: ignore[union-attr]
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.exec_driver_sql("VACUUM INTO ?", (str(target),))
        os.chmod(target, 0o600)
        return
    done = subprocess.run([_tool("pg_dump"), "--format=custom", "--no-owner",
                           "--no-privileges", f"--file={target}"],
                          env=pg_environment(url, settings), capture_output=True, text=True)
    if done.returncode != 0:
        target.unlink(missing_ok=True)
        first = (done.stderr.strip().splitlines() or ["failed"])[-1]
        raise ConsoleError(f"pg_dump failed: {first[:300]}")
    os.chmod(target, 0o600)


# -- sealing ----------------------------------------------------------------------------------


def _readme(name: str, protection: str, dump: str) -> bytes:
    open_cmd = {"recipients": f"age -d -i your-key.txt -o {name}.tar {name}.tar.age",
                "passphrase": f"age -d -o {name}.tar {name}.tar.age   (asks for the passphrase)",
                }.get(protection, "")
    lines = [f"FlowPro Console backup: {name}", "",
             f"{dump}: the whole database ({'a SQLite file' if dump.endswith('sqlite') else 'pg_dump custom format'})",
             "manifest.json: what, when, by whom, the schema version, checksums",
             "manifest.sig: Ed25519 signature of manifest.json; signing-key.pub: the key",
             "SHA256SUMS: checksums for `sha256sum -c`", "",
             "Restore it with FlowPro Console (it checks everything first and re-applies the "
             "erasure ledger, so nobody erased since comes back):",
             f"    flowpro-console backup restore {name}.tar{'.age' if open_cmd else ''} "
             "[--identity your-key.txt | --passphrase-stdin] --yes",
             "By hand:"]
    if open_cmd:
        lines.append(f"    {open_cmd}")
    lines += [f"    tar -xf {name}.tar && cd {name} && sha256sum -c SHA256SUMS",
              "    openssl pkeyutl -verify -pubin -inkey signing-key.pub -rawin "
              "-in manifest.json -sigfile manifest.sig", ""]
    return "\n".join(lines).encode()


@dataclass(frozen=True)
class SealedBackup:
    path: Path
    sha256: str
    manifest_sha256: str
    size: int


class _Hashing:
    def __init__(self, target: Any) -> None:
        self.target, self.sha, self.size = target, hashlib.sha256(), 0

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.size += len(data)
        self.target.write(data)
        return len(data)


def seal_backup(backup: Backup, dump: Path, out_dir: Path, keys: KeyStore,
                encryption: Encryption, created_at: datetime, ledger_entries: int) -> SealedBackup:
    name = backup.name
    dump_name = DUMP_NAMES[backup.backend]
    readme = _readme(name, encryption.protection.value, dump_name)
    public = keys.public_key_pem()
    figures = {"README.txt": FileFigures(), "signing-key.pub": FileFigures(),
               dump_name: FileFigures()}
    known, heads = script_revisions()

    def finish() -> list[Member]:
        manifest = orjson.dumps({
            "format": BACKUP_FORMAT, "format_version": 1, "backup": name,
            "backup_id": backup.id, "created_at": created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "created_by": backup.created_by, "backend": backup.backend,
            "schema_heads": sorted(heads), "signing_key_id": keys.key_id,
            "encryption": {"protection": encryption.protection.value,
                           "recipients": list(encryption.recipients)},
            "erasure_ledger_entries": ledger_entries,
            "files": {n: {"sha256": f.hexdigest, "bytes": f.size} for n, f in figures.items()},
        }, option=orjson.OPT_INDENT_2) + b"\n"
        signature = keys.sign(manifest)
        sums = {n: f.hexdigest for n, f in figures.items()}
        sums["manifest.json"] = hashlib.sha256(manifest).hexdigest()
        sums["manifest.sig"] = hashlib.sha256(signature).hexdigest()
        box["manifest"] = manifest
        return [Member("manifest.json", data=manifest), Member("manifest.sig", data=signature),
                Member("SHA256SUMS", data=sums_file(sums))]

    box: dict[str, bytes] = {}

    def members() -> Any:
        yield Member("README.txt", data=readme)
        yield Member("signing-key.pub", data=public)
        yield Member(dump_name, path=dump)
        yield from finish()

    def feed(member: Member, chunk: bytes) -> None:
        if member.name in figures:
            figures[member.name].data(chunk)

    suffix = ".tar" if encryption.protection is Protection.NONE else ".tar.age"
    final = out_dir / f"{name}{suffix}"
    partial = out_dir / f"{name}{suffix}.partial"
    chunks = tar_chunks(name, members(), int(created_at.timestamp()), on_data=feed)
    try:
        with _open_private(partial, "wb") as raw:
            out = _Hashing(raw)
            if encryption.protection is Protection.NONE:
                for chunk in chunks:
                    out.write(chunk)
            else:
                from console.export.agecrypt import encrypt_stream

                encrypt_stream(buffered(chunks), out, encryption)  # type: ignore[arg-type]
            raw.flush()
            os.fsync(raw.fileno())
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, final)
    fsync_dir(out_dir)
    return SealedBackup(final, out.sha.hexdigest(), hashlib.sha256(box["manifest"]).hexdigest(),
                        out.size)


def prune(db: Session, actor: Principal, keep: int) -> list[str]:
    """Delete finished backups beyond the newest `keep` (files and all); returns names."""
    done = list(db.exec(select(Backup).where(Backup.state == "done")
                        .order_by(col(Backup.id).desc())))
    removed = []
    for old in done[keep:]:
        Path(old.path).unlink(missing_ok=True)
        old.state, old.removed_at = "removed", clock.now()
        db.add(old)
        removed.append(old.name)
    if removed:
        audit.record(db, actor, "backup.prune", target="backups",
                     details={"removed": removed, "keep": keep})
    return removed


# -- reading ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackupView:
    id: int
    name: str
    state: str
    backend: str
    protection: str
    path: str
    size_bytes: int
    sha256: str
    created_by: str
    created_at: datetime
    finished_at: datetime | None
    removed_at: datetime | None
    job_run_id: int | None
    error: str

    def to_json(self) -> dict[str, Any]:
        from dataclasses import asdict

        data = asdict(self)
        for key in ("created_at", "finished_at", "removed_at"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


def _view(backup: Backup, run_state: str | None) -> BackupView:
    state = backup.state
    if state == "running" and run_state:
        state = run_state
    return BackupView(backup.id or 0, backup.name, state, backup.backend, backup.protection,
                      backup.path, backup.size_bytes, backup.sha256, backup.created_by,
                      backup.created_at, backup.finished_at, backup.removed_at,
                      backup.job_run_id, backup.error)


@service("backup.read")
def list_backups(db: Session, actor: Principal, *, include_removed: bool = False,
                 limit: int = 200) -> list[BackupView]:
    """Backups, newest first (removed ones too when asked). Needs export.run or
    retention.read (the retention screen shows them)."""
    if not actor.has(Permission.RETENTION_READ):
        actor.require(Permission.EXPORT_RUN)
    from models.jobs import JobRun

    query = select(Backup).order_by(col(Backup.id).desc()).limit(max(1, min(limit, 1000)))
    if not include_removed:
        query = query.where(Backup.state != "removed")
    backups = list(db.exec(query.execution_options(populate_existing=True)))
    runs = {r.id: r.state for r in db.exec(select(JobRun).where(col(JobRun.id).in_(
        [b.job_run_id for b in backups if b.job_run_id])))}
    result = [_view(b, runs.get(b.job_run_id)) for b in backups]
    db.rollback()
    return result


def find_backup(db: Session, ref: str, settings: Settings) -> tuple[Path, Backup | None]:
    """A backup by register id, name or path."""
    if ref.isdigit():
        row = db.get(Backup, int(ref))
        if row is None or not row.path:
            raise NotFound(f"no finished backup #{ref}; see `flowpro-console backup list`")
        return Path(row.path), row
    path = Path(ref).expanduser()
    if not path.exists():
        candidates = [settings.backups_dir / f"{ref}{s}" for s in (".tar.age", ".tar")]
        path = next((p for p in candidates if p.exists()), path)
    if not path.exists():
        raise NotFound(f"no backup file {ref}")
    row = db.exec(select(Backup).where(Backup.path == str(path.resolve()))).first()
    return path, row


def begin_backup(db: Session, actor: Principal, spec: BackupSpec, *, settings: Settings,
                 keys: KeyStore, where: Any = None) -> tuple[Backup, Any]:
    """`create_backup` and its job started (the TUI's one call): (backup, Started)."""
    from console.jobs import Where, start_run

    backup = create_backup(db, actor, spec, settings=settings, keys=keys)
    started = start_run(db, actor, "backup", {"backup_id": backup.id},
                        where=where or Where.AUTO, lease_seconds=settings.jobs.lease_seconds)
    return backup, started
