"""Exports as jobs: a crash leaves nothing that looks finished, and the run resumes to
the exact bundle (no row twice, none missing); the CLI prints the bundle's path and
`export verify` says what is wrong."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time
from pathlib import Path

from console import jobs
from console.export.bundle import Staging
from console.export.service import ExportSpec, create_export, start_export
from console.export.verify import verify_bundle
from console.jobs import RunControl, execute
from models.exports import Export
from tests.clihelp import entry_point, run_cli, write_config
from tests.exporthelp import ONE_BACKEND, SMALL, jsonl, keypair, manifest, seed, unpack


def _sale_ids(db) -> list[int]:
    from sqlalchemy import text

    return [r[0] for r in db.execute(text("SELECT id FROM sales_transactions ORDER BY id"))]


@ONE_BACKEND
def test_a_step_repeated_after_a_crash_writes_no_row_twice(runtime, db, root) -> None:
    seed(runtime)
    settings = runtime.settings.model_copy(update={"exports": runtime.settings.exports
                                                   .model_copy(update={"rows_per_step": 100})})
    runtime.settings = settings
    created = create_export(db, root, ExportSpec(kind="handover", no_encrypt=True,
                                                 packaging="directory",
                                                 categories=("sales",)),
                            settings=settings, keys=runtime.keys)
    started = start_export(db, root, created.export, where=jobs.Where.HERE,
                           lease_seconds=30)
    control = RunControl()

    def stop_early(progress: jobs.Progress) -> None:
        if progress.done >= 150:
            control.request_stop("test: stop here")

    first = execute(runtime, started.claim, root, control=control, on_progress=stop_early)
    assert first.state == jobs.JobState.INTERRUPTED and first.progress_done == 200
    # What a step that wrote but died before its checkpoint was saved leaves behind:
    staging = Staging(Path(created.export.output_dir), created.export.name)
    part_files = sorted((staging.root / "data").iterdir())
    for path in part_files:
        with open(path, "ab") as fh:
            fh.write(b'{"id": 999999, "half a row')
    resumed = jobs.resume_run(db, root, started.run.id, where=jobs.Where.HERE)
    final = execute(runtime, resumed.claim, root)
    assert final.state == jobs.JobState.SUCCEEDED, final.error
    export = db.get(Export, created.export.id)
    folder = Path(export.path)
    assert [r["id"] for r in jsonl(folder, "sales")] == _sale_ids(db)
    assert verify_bundle(folder, keys=runtime.keys).ok


@ONE_BACKEND
def test_sigkill_mid_export_leaves_only_partial_files_and_resumes(installation, runtime, db,
                                                                  tmp_path: Path) -> None:
    seed(runtime, SMALL.__class__(employees=6, customers=12, sales=20_000, years=1, seed=3))
    output = tmp_path / "bundles"
    config = write_config(installation, tmp_path / "c.toml",
                          extra="[exports]\nrows_per_step = 200\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWPRO_", "SSH_"))}
    proc = subprocess.Popen([*entry_point(), "--config", str(config), "export", "handover",
                             "--no-encrypt", "--categories", "sales", "--output", str(output)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    database = installation.data_dir / "console.db"
    deadline = time.monotonic() + 60
    progress = 0
    while time.monotonic() < deadline and progress < 1000:
        time.sleep(0.01)
        try:
            with sqlite3.connect(database, timeout=5) as conn:
                row = conn.execute("SELECT progress_done FROM job_runs WHERE kind = 'export'"
                                   ).fetchone()
        except sqlite3.OperationalError:
            continue
        progress = row[0] if row else 0
    proc.kill()
    proc.wait(30)
    assert 1000 <= progress < 20_000, f"the export was at {progress} rows when killed"
    left = sorted(p.name for p in output.iterdir())
    assert left and all(name.endswith(".partial") for name in left), left
    run_id = db.exec(__import__("sqlmodel").select(Export.job_run_id)).one()
    resumed = run_cli("jobs", "resume", str(run_id), config=config)
    assert resumed.code == 0, resumed.err
    bundles = [p for p in output.iterdir() if p.name.endswith(".tar")]
    assert len(bundles) == 1 and not [p for p in output.iterdir() if "partial" in p.name]
    assert verify_bundle(bundles[0], keys=runtime.keys).ok
    folder = unpack(bundles[0], tmp_path / "out")
    assert [r["id"] for r in jsonl(folder, "sales")] == _sale_ids(db)
    assert manifest(folder)["categories"][0]["rows"] == 20_000


@ONE_BACKEND
def test_cli_export_prints_the_path_and_verify_reports_problems(installation, runtime, db,
                                                                tmp_path: Path) -> None:
    seed(runtime)
    identity, recipient = keypair(tmp_path)
    config = write_config(installation, tmp_path / "c.toml")
    made = run_cli("export", "subject", "--employee", "2", "--recipient", recipient,
                   "--to", "Omar Rossi", config=config)
    assert made.code == 0, made.err
    path = Path(made.out.strip())
    assert path.name.endswith(".tar.age") and path.exists()
    assert "manifest sha256" in made.err
    ok = run_cli("export", "verify", str(path), "--identity", str(identity), config=config)
    assert ok.code == 0 and ": OK" in ok.out and "employees: 1 rows" in ok.out
    bare = run_cli("export", "verify", str(path), config=config)
    assert bare.code == 1 and "--identity" in bare.out
    damaged = tmp_path / "damaged.tar.age"
    data = bytearray(path.read_bytes())
    data[-100] ^= 1
    damaged.write_bytes(bytes(data))
    bad = run_cli("export", "verify", str(damaged), "--identity", str(identity), config=config)
    assert bad.code == 1 and "altered or cut short" in bad.out
    refused = run_cli("export", "handover", config=config)
    assert refused.code == 2 and "--no-encrypt" in refused.err
    listed = run_cli("export", "list", config=config)
    assert listed.code == 0 and "Omar Rossi" in listed.out and "employee 2" in listed.out
    key = run_cli("export", "key", config=config)
    assert key.out.startswith("-----BEGIN PUBLIC KEY-----") and runtime.keys.key_id in key.err
