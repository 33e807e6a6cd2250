"""Backups: made online, verified, pruned; a restore refuses a bad backup and never
brings back a person erased since the backup (both backends)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from console import jobs
from console.catalog import SubjectKind
from console.errors import ConfigError, ValidationError
from console.export.backup import BackupSpec, create_backup, list_backups
from console.export.restore import restore
from console.export.verify import verify_bundle
from console.requests.fulfil import Fulfilment, fulfil
from console.requests.register import add_request
from console.runtime import RESTORING, open_runtime
from models.business import Employee
from tests.exporthelp import ONE_BACKEND, keypair, need
from tests.retentionhelp import TODAY, employee_pii, seed


def _backup(runtime, db, actor, spec: BackupSpec):
    made = create_backup(db, actor, spec, settings=runtime.settings, keys=runtime.keys)
    started = jobs.start_run(db, actor, "backup", {"backup_id": made.id},
                             where=jobs.Where.HERE)
    final = jobs.execute(runtime, started.claim, actor)
    assert final.state == jobs.JobState.SUCCEEDED, final.error
    return next(b for b in list_backups(db, actor) if b.id == made.id)


def _erase(runtime, db, actor, employee: int) -> None:
    request = add_request(db, actor, "erasure", (SubjectKind.EMPLOYEE, employee),
                          settings=runtime.settings.requests)
    fulfil(db, actor, request.id, Fulfilment(), runtime=runtime)


def test_restore_refuses_a_bad_backup_and_never_resurrects_the_erased(
        runtime, installation, db, root, clock, tmp_path: Path) -> None:
    if runtime.database.backend == "postgresql":
        need("pg_dump", "pg_restore")
    clock.set(datetime.combine(TODAY + timedelta(days=3660), time(12), UTC))  # aged out
    seed(db)
    identity, recipient = keypair(tmp_path)
    made = _backup(runtime, db, root, BackupSpec(recipients=(recipient,)))
    path = Path(made.path)
    assert path.name.endswith(".tar.age") and oct(path.stat().st_mode & 0o777) == "0o600"
    ids = _ids(identity)
    report = verify_bundle(path, identities=ids, keys=runtime.keys)
    assert report.ok, report.problems
    assert report.manifest["format"] == "flowpro-backup"
    # After the backup: someone is erased, someone new is hired.
    _erase(runtime, db, root, 7001)
    with runtime.database.engine.begin() as conn:
        conn.execute(text("INSERT INTO employees (id, employee_no, department, hired_on, "
                          "restricted, updated_at) VALUES (7100, 'E-7100', 'IT', '2026-06-01', "
                          ":f, :now)"), {"f": False, "now": datetime(2026, 6, 15, 12)})
    db.close()
    # A damaged backup is refused and nothing changes.
    damaged = tmp_path / "damaged.tar.age"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    damaged.write_bytes(bytes(data))
    with pytest.raises(ValidationError, match="refusing to restore"):
        restore(installation, str(damaged), root, identities=ids)
    assert not (installation.data_dir / RESTORING).exists()
    assert _exists(runtime, 7100)
    runtime.database.dispose()
    done = restore(installation, str(path), root, identities=ids)
    assert done.ledger_entries == 1 and done.erased_again == 1
    assert not _exists(runtime, 7100)  # the database really is the backup's ...
    with runtime.database.scope() as fresh:
        erased = fresh.get(Employee, 7001)
        assert erased.email is None and erased.first_name == "[redacted]"  # ... but erased
        assert fresh.execute(text("SELECT count(*) FROM payroll_records WHERE employee_id = "
                                  "7001")).scalar() == 0
        assert fresh.get(Employee, 7002).email == employee_pii(2)["email"]
        actions = [r[0] for r in fresh.execute(text(
            "SELECT action FROM audit_events ORDER BY id DESC LIMIT 2"))]
    assert actions == ["requests.reapply_erasures", "backup.restore"]
    assert not (installation.data_dir / RESTORING).exists()


def _ids(path: Path) -> list[object]:
    from console.export.agecrypt import load_identities

    return load_identities(path)


def _exists(runtime, employee: int) -> bool:
    with runtime.database.engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM employees WHERE id = :i"),
                            {"i": employee}).scalar() == 1


@ONE_BACKEND
def test_an_unfinished_restore_keeps_the_console_closed(installation, runtime, db, root
                                                        ) -> None:
    (installation.data_dir / RESTORING).write_text("{}")
    with pytest.raises(ConfigError, match="reapply-erasures"):
        open_runtime(installation)
    from tests.clihelp import run_cli, write_config

    config = write_config(installation, installation.data_dir.parent / "c.toml")
    assert run_cli("users", "list", config=config).code == 2
    done = run_cli("requests", "reapply-erasures", config=config)
    assert done.code == 0, done.err
    assert not (installation.data_dir / RESTORING).exists()
    open_runtime(installation).close()


@ONE_BACKEND
def test_backups_keep_the_newest_n_and_verify_by_id(installation, runtime, db, root,
                                                     tmp_path: Path) -> None:
    settings = runtime.settings.model_copy(update={
        "backups": runtime.settings.backups.model_copy(update={"keep": 2})})
    runtime.settings = settings
    made = [_backup(runtime, db, root, BackupSpec(no_encrypt=True)) for _ in range(3)]
    views = {b.id: b for b in list_backups(db, root, include_removed=True)}
    assert views[made[0].id].state == "removed" and not Path(made[0].path).exists()
    assert [views[b.id].state for b in made[1:]] == ["done", "done"]
    from tests.clihelp import run_cli, write_config

    config = write_config(installation, tmp_path / "c.toml")
    ok = run_cli("backup", "verify", str(made[2].id), config=config)
    assert ok.code == 0 and ": OK" in ok.out, ok.out + ok.err
    listed = run_cli("backup", "list", config=config)
    assert listed.code == 0 and made[2].path in listed.out and made[0].path not in listed.out
