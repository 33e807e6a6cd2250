"""The export, requests and backup commands through the real entry point (both backends):
what they print, what they refuse, what the database and the bundle hold after."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import text

from console.logs.common import Format
from console.logs.ingest import ingest
from models.business import Employee
from tests.clihelp import run_cli, write_config
from tests.exporthelp import need, run, seed


def _logs(db, root, tmp_path: Path, person: Employee) -> None:
    lines = (f"payslip failed for employee {person.employee_no}",
             "health check ok",
             "payslip failed for employee E-9999",
             "disk almost full")
    path = tmp_path / "hrm.jsonl"
    path.write_text("\n".join(json.dumps({"ts": f"2026-01-0{i}T10:00:00Z", "level": "warn",
                                          "system": "hrm", "message": m})
                              for i, m in enumerate(lines, 1)) + "\n")
    ingest(db, root, [path], fmt=Format.JSONL, final=True)


def test_export_logs_writes_the_filtered_view_and_registers_its_purpose(
        installation, runtime, db, root, tmp_path: Path) -> None:
    need("jq")
    seed(runtime)
    _logs(db, root, tmp_path, db.get(Employee, 2))
    config = write_config(installation, tmp_path / "c.toml")
    out = tmp_path / "bundles"
    refused = run_cli("export", "logs", "--text", "payslip", "--no-encrypt", "--purpose",
                      "legal-order", "--output", str(out), config=config)
    assert refused.code == 2 and "--reference" in refused.err, refused.err
    made = run_cli("export", "logs", "--text", "payslip failed", "--no-encrypt",
                   "--directory", "--purpose", "legal-order", "--reference", "Order 7/2026",
                   "--to", "District police", "--output", str(out), config=config)
    assert made.code == 0, made.err
    assert "warning" in made.err and "NOT encrypted" in made.err
    folder = Path(made.out.strip())
    assert folder.parent == out and folder.is_dir()
    parsed = run("jq", "-r", ".message", str(folder / "data" / "processing_logs.jsonl"))
    assert parsed.returncode == 0, parsed.stderr
    assert parsed.stdout.decode().splitlines() == [
        f"payslip failed for employee {db.get(Employee, 2).employee_no}",
        "payslip failed for employee E-9999"]
    meta = json.loads((folder / "manifest.json").read_text())
    assert meta["kind"] == "logs" and meta["purpose"] == "legal-order"
    listed = run_cli("export", "list", "--json", config=config)
    assert listed.code == 0, listed.err
    entry = next(e for e in json.loads(listed.out) if e["path"] == str(folder))
    assert (entry["purpose"], entry["reference"], entry["disclosed_to"], entry["rows"]) == (
        "legal-order", "Order 7/2026", "District police", 2)
    checked = run_cli("export", "verify", str(folder), config=config)
    assert checked.code == 0, checked.out + checked.err


def test_requests_commands_register_fulfil_and_close(installation, runtime, db, root,
                                                     tmp_path: Path) -> None:
    seed(runtime)
    config = write_config(installation, tmp_path / "c.toml")
    both = run_cli("requests", "add", "--kind", "access", "--employee", "2", "--customer",
                   "3", config=config)
    assert both.code == 2 and "exactly one person" in both.err
    bad_date = run_cli("requests", "add", "--kind", "access", "--employee", "2",
                       "--received", "yesterday", config=config)
    assert bad_date.code == 2 and "--received" in bad_date.err and "Traceback" not in \
        bad_date.err
    added = run_cli("requests", "add", "--kind", "restriction", "--employee", "2",
                    "--received", "2026-01-05", config=config)
    assert added.code == 0, added.err
    assert "due 2026-02-04" in added.out  # [requests] due_days = 30
    restriction = int(added.out.split("#")[1].split(":")[0])
    listed = run_cli("requests", "list", config=config)
    assert listed.code == 0 and "restriction" in listed.out and "employee 2" in listed.out
    done = run_cli("requests", "fulfil", str(restriction), "--note", "contested accuracy",
                   config=config)
    assert done.code == 0, done.err
    db.expire_all()
    assert db.get(Employee, 2).restricted is True
    closed = run_cli("requests", "close", str(restriction), config=config)
    assert closed.code == 0 and "closed (fulfilled)" in closed.out
    shown = json.loads(run_cli("requests", "show", str(restriction), "--json",
                               config=config).out)
    assert shown["state"] == "closed" and shown["outcome"] == "fulfilled"

    access = run_cli("requests", "add", "--kind", "access", "--employee", "3", config=config)
    access_id = int(access.out.split("#")[1].split(":")[0])
    answered = run_cli("requests", "fulfil", str(access_id), "--no-encrypt", "--output",
                       str(tmp_path / "out"), config=config)
    assert answered.code == 0, answered.err
    bundle = Path(answered.out.strip().rsplit("bundle ", 1)[1])
    assert bundle.name.endswith(".tar") and bundle.exists()
    assert run_cli("export", "verify", str(bundle), config=config).code == 0
    assert json.loads(run_cli("requests", "show", str(access_id), "--json",
                              config=config).out)["state"] == "fulfilled"

    erasure = run_cli("requests", "add", "--kind", "erasure", "--employee", "4",
                      config=config)
    erasure_id = int(erasure.out.split("#")[1].split(":")[0])
    unconfirmed = run_cli("requests", "fulfil", str(erasure_id), config=config)
    assert unconfirmed.code == 2 and "--yes" in unconfirmed.err
    db.expire_all()
    assert db.get(Employee, 4).email is not None  # nothing happened
    missing = run_cli("requests", "show", "9999", config=config)
    assert missing.code == 1 and "Traceback" not in missing.err


def test_backup_commands_create_list_and_verify(installation, runtime, db, root,
                                                tmp_path: Path) -> None:
    if runtime.database.backend == "postgresql":
        need("pg_dump", "pg_restore")
    need("age-keygen", "age", "tar", "sha256sum")
    from tests.exporthelp import keypair

    seed(runtime)
    config = write_config(installation, tmp_path / "c.toml")
    assert run_cli("backup", "create", config=config).code == 2  # no encryption chosen
    identity, recipient = keypair(tmp_path)
    made = run_cli("backup", "create", "--recipient", recipient, config=config)
    assert made.code == 0, made.err
    path = Path(made.out.strip().splitlines()[-1])
    assert path.name.endswith(".tar.age") and path.exists()
    listed = run_cli("backup", "list", config=config)
    assert listed.code == 0 and str(path) in listed.out
    ok = run_cli("backup", "verify", str(path), "--identity", str(identity), config=config)
    assert ok.code == 0 and ": OK" in ok.out, ok.out + ok.err
    # The standard tools open it too: age, tar, sha256sum.
    plain = tmp_path / "b.tar"
    assert run("age", "-d", "-i", str(identity), "-o", str(plain), str(path)).returncode == 0
    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()
    assert run("tar", "-xf", str(plain), "-C", str(unpacked)).returncode == 0
    top = next(unpacked.iterdir())
    summed = run("sha256sum", "-c", "SHA256SUMS", cwd=top)
    assert summed.returncode == 0, summed.stdout + summed.stderr
    with runtime.database.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_events WHERE action = "
                                 "'backup.create'")).scalar() >= 1


def test_recipients_from_config_and_a_passphrase_from_stdin(installation, runtime, db, root,
                                                            tmp_path: Path) -> None:
    from tests.exporthelp import keypair, unpack

    seed(runtime)
    identity, recipient = keypair(tmp_path)
    config = write_config(installation, tmp_path / "c.toml", extra=(
        "[exports]\npassphrase_work_factor = 10\n"
        f'[exports.recipients]\nhandover = ["{recipient}"]\n'))
    made = run_cli("export", "handover", "--categories", "employees", config=config)
    assert made.code == 0, made.err
    assert "encrypted to 1 age recipient" in made.err
    folder = unpack(Path(made.out.strip()), tmp_path / "out", identity)
    assert (folder / "data" / "employees.jsonl").exists()
    empty = run_cli("export", "handover", "--passphrase-stdin", input="", config=config)
    assert empty.code == 2 and "standard input" in empty.err
    secret = "a long and good passphrase"
    sealed = run_cli("export", "handover", "--categories", "customers", "--passphrase-stdin",
                     input=secret + "\n", config=config)
    assert sealed.code == 0, sealed.err
    path = Path(sealed.out.strip())
    assert path.name.endswith(".tar.age") and "encrypted with a passphrase" in sealed.err
    ok = run_cli("export", "verify", str(path), "--passphrase-stdin", input=secret + "\n",
                 config=config)
    assert ok.code == 0, ok.out + ok.err
    wrong = run_cli("export", "verify", str(path), "--passphrase-stdin",
                    input="not the passphrase\n", config=config)
    assert wrong.code == 1 and "Traceback" not in wrong.err
    with runtime.database.engine.connect() as conn:
        details = [r[0] for r in conn.execute(text(
            "SELECT details FROM audit_events WHERE action LIKE 'export.%'"))]
    assert details and not any(secret in (d or "") for d in details)
