"""Export bundles: readable and verifiable with standard tools, the right rows and only
those, protected as asked, recorded in the register (services on both backends)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import select

from console.catalog import SubjectKind
from console.errors import AccessDenied, ValidationError
from console.export.purposes import Purpose
from console.export.register import list_exports
from console.export.service import ExportSpec, export_now
from console.export.verify import verify_bundle
from console.logs.common import Format
from console.logs.ingest import ingest
from models.audit import AuditEvent
from models.business import Employee
from tests.exporthelp import jsonl, keypair, manifest, need, run, seed, unpack


def test_a_bundle_is_read_and_checked_by_age_sha256sum_openssl_and_jq(runtime, db, root,
                                                                      tmp_path: Path) -> None:
    need("age", "jq", "openssl", "sha256sum", "tar")
    seed(runtime)
    identity, recipient = keypair(tmp_path)
    export = export_now(runtime, db, root, ExportSpec(
        kind="handover", recipients=(recipient,), disclosed_to="Acme Payroll Ltd",
        categories=("employees", "payroll", "sales", "customers", "audit_events")))
    bundle = Path(export.path)
    assert bundle.name.endswith(".tar.age") and bundle.exists()
    assert oct(bundle.stat().st_mode & 0o777) == "0o600"
    folder = unpack(bundle, tmp_path / "out", identity)
    assert run("sha256sum", "-c", "SHA256SUMS", cwd=folder).returncode == 0
    verified = run("openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "signing-key.pub",
                   "-rawin", "-in", "manifest.json", "-sigfile", "manifest.sig", cwd=folder)
    assert verified.returncode == 0, verified.stderr.decode() + verified.stdout.decode()
    meta = manifest(folder)
    assert meta["purpose"] == "handover" and meta["disclosed_to"] == "Acme Payroll Ltd"
    assert meta["encryption"] == {"protection": "recipients", "recipients": [recipient]}
    for entry in meta["categories"]:
        name = entry["name"]
        table = {"payroll": "payroll_records", "sales": "sales_transactions",
                 "audit_events": "audit_events"}.get(name, name)
        in_db = db.execute(text(f"SELECT count(*) FROM {table}")).scalar()
        if name != "audit_events":  # the export itself adds audit events as it goes
            assert entry["rows"] == in_db, name
        jq = run("jq", "-c", "[.id]", f"data/{name}.jsonl", cwd=folder)
        assert jq.returncode == 0, jq.stderr.decode()
        assert len(jq.stdout.splitlines()) == entry["rows"]
        with open(folder / "data" / f"{name}.csv", newline="", encoding="utf-8") as fh:
            records = list(csv.reader(fh))
        assert records[0] == [c["name"] for c in entry["columns"]]
        assert len(records) - 1 == entry["rows"]
        sums = {line.split("  ")[1]: line.split("  ")[0]
                for line in (folder / "SHA256SUMS").read_text().splitlines()}
        assert sums[f"data/{name}.jsonl"] == entry["files"]["jsonl"]["sha256"]
    # Values as the database holds them: ISO times in UTC, dates, integer cents.
    first = db.exec(select(Employee).order_by(Employee.id)).first()
    row = jsonl(folder, "employees")[0]
    assert row["email"] == first.email and row["national_id"] == first.national_id
    assert row["hired_on"] == first.hired_on.isoformat()
    assert row["updated_at"].endswith("Z") and row["restricted"] is False
    columns = {c["name"]: c for c in meta["categories"][0]["columns"]}
    assert columns["email"] == {"name": "email", "type": "string", "pii": True}
    assert columns["hired_on"]["type"] == "date" and columns["restricted"]["type"] == "boolean"
    assert verify_bundle(bundle, identities=_ids(identity), keys=runtime.keys).ok
    finish = db.exec(select(AuditEvent).where(AuditEvent.action == "export.finish")).one()
    assert json.loads(finish.details)["manifest_sha256"] == export.manifest_sha256


def _ids(path: Path) -> list[object]:
    from console.export.agecrypt import load_identities

    return load_identities(path)


def test_csv_and_json_keep_awkward_values_exactly(runtime, db, root, tmp_path: Path) -> None:
    seed(runtime)
    awkward = 'Zoë "Z" O\'Brien,\r\nline two\u2028 \x1b[31m'
    with runtime.database.engine.begin() as conn:
        conn.execute(text("UPDATE employees SET address = :a, phone = '' WHERE id = 1"),
                     {"a": awkward})
    export = export_now(runtime, db, root, ExportSpec(
        kind="handover", no_encrypt=True, packaging="directory", categories=("employees",)))
    folder = Path(export.path)
    assert jsonl(folder, "employees")[0]["address"] == awkward
    with open(folder / "data" / "employees.csv", newline="", encoding="utf-8") as fh:
        records = list(csv.DictReader(fh))
    assert records[0]["address"] == awkward
    assert records[0]["phone"] == ""  # an empty text, written as "" ...
    raw = (folder / "data" / "employees.csv").read_text(encoding="utf-8")
    assert ',"",' in raw and ",," in raw  # ... while a missing value is empty (anonymized_at)
    assert verify_bundle(folder, keys=runtime.keys).ok


def test_subject_export_has_every_row_of_the_person_and_nobody_else(runtime, db, root,
                                                                     tmp_path: Path) -> None:
    seed(runtime)
    person, other = db.get(Employee, 2), db.get(Employee, 3)
    logs = tmp_path / "hrm.jsonl"
    logs.write_text("\n".join(json.dumps({"ts": f"2026-01-0{i}T10:00:00Z", "level": "warn",
                                          "system": "hrm", "message": m}) for i, m in enumerate((
        f"payslip failed for employee {person.employee_no}",
        f"could not send payslip to {person.email}: SMTP 550",
        f"payslip failed for employee {other.employee_no}",
        "health check ok"), 1)) + "\n")
    ingest(db, root, [logs], fmt=Format.JSONL, final=True)
    identity, recipient = keypair(tmp_path)
    export = export_now(runtime, db, root, ExportSpec(
        kind="subject", subject=(SubjectKind.EMPLOYEE, 2), recipients=(recipient,)))
    folder = unpack(Path(export.path), tmp_path / "out", identity)
    meta = manifest(folder)
    assert meta["subject"] == {"kind": "employee", "id": 2, "restricted": False}
    assert [c["name"] for c in meta["categories"]] == [
        "employees", "payroll", "attendance", "sales", "audit_events", "processing_logs"]
    assert [r["id"] for r in jsonl(folder, "employees")] == [2]

    def ids(sql: str) -> list[int]:
        return sorted(r[0] for r in db.execute(text(sql)).all())

    assert sorted(r["id"] for r in jsonl(folder, "payroll")) == ids(
        "SELECT id FROM payroll_records WHERE employee_id = 2")
    assert sorted(r["id"] for r in jsonl(folder, "attendance")) == ids(
        "SELECT id FROM attendance_records WHERE employee_id = 2")
    sales = jsonl(folder, "sales")
    assert sorted(r["id"] for r in sales) == ids(
        "SELECT id FROM sales_transactions WHERE cashier_id = 2")
    assert sales and all(r["customer_id"] is None and r["card_last4"] is None for r in sales)
    sales_entry = next(c for c in meta["categories"] if c["name"] == "sales")
    assert {c["name"] for c in sales_entry["columns"] if c.get("withheld")} == {
        "customer_id", "card_last4"}
    events = jsonl(folder, "audit_events")
    assert events and all(e["target"] == "employee:2" for e in events)
    messages = [r["message"] for r in jsonl(folder, "processing_logs")]
    assert messages == [f"payslip failed for employee {person.employee_no}",
                        f"could not send payslip to {person.email}: SMTP 550"]
    everything = "".join(p.read_text(encoding="utf-8") for p in (folder / "data").iterdir())
    for someone in db.exec(select(Employee).where(Employee.id != 2)):
        for value in (someone.email, someone.national_id, someone.employee_no, someone.phone):
            assert value not in everything


def test_customer_export_withholds_the_cashier(runtime, db, root, tmp_path: Path) -> None:
    seed(runtime)
    customer = db.execute(text("SELECT customer_id FROM sales_transactions WHERE customer_id "
                               "IS NOT NULL GROUP BY customer_id ORDER BY count(*) DESC")
                          ).scalar()
    export = export_now(runtime, db, root, ExportSpec(
        kind="subject", subject=(SubjectKind.CUSTOMER, customer), no_encrypt=True,
        packaging="directory"))
    folder = Path(export.path)
    sales = jsonl(folder, "sales")
    expected = db.execute(text("SELECT id, card_last4 FROM sales_transactions WHERE "
                               "customer_id = :c ORDER BY id"), {"c": customer}).all()
    assert [(r["id"], r["card_last4"]) for r in sales] == [tuple(e) for e in expected]
    assert all(r["cashier_id"] is None and r["customer_id"] == customer for r in sales)
    assert [r["id"] for r in jsonl(folder, "customers")] == [customer]


def test_every_tampering_is_caught(runtime, db, root, tmp_path: Path) -> None:
    seed(runtime)
    export = export_now(runtime, db, root, ExportSpec(
        kind="handover", no_encrypt=True, categories=("employees", "customers")))
    original = Path(export.path)
    assert verify_bundle(original, keys=runtime.keys).ok
    need("tar")

    def variant(name: str, change) -> list[str]:
        folder = unpack(original, tmp_path / name)
        change(folder)
        packed = tmp_path / f"{name}.tar"
        assert run("tar", "-cf", str(packed), "-C", str(folder.parent), folder.name
                   ).returncode == 0
        report = verify_bundle(packed, keys=runtime.keys)
        assert not report.ok
        return report.problems

    def flip(path: Path, at: int = 40) -> None:
        data = bytearray(path.read_bytes())
        data[at] ^= 0x01
        path.write_bytes(bytes(data))

    problems = variant("byte", lambda f: flip(f / "data" / "customers.csv"))
    assert any("data/customers.csv was changed" in p for p in problems)
    problems = variant("removed", lambda f: (f / "data" / "employees.jsonl").unlink())
    assert any("data/employees.jsonl is missing" in p for p in problems)

    def edit_manifest(folder: Path) -> None:
        meta = manifest(folder)
        meta["categories"][0]["rows"] += 1
        (folder / "manifest.json").write_text(json.dumps(meta, indent=2))
    problems = variant("manifest", edit_manifest)
    assert any("signature does not match" in p for p in problems)

    def resign(folder: Path) -> None:  # a forger who also swaps in their own key
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        key = Ed25519PrivateKey.generate()
        meta = manifest(folder)
        meta["disclosed_to"] = "someone else"
        raw = key.public_key().public_bytes(serialization.Encoding.Raw,
                                            serialization.PublicFormat.Raw)
        import hashlib

        meta["signing_key_id"] = hashlib.sha256(raw).hexdigest()[:16]
        body = json.dumps(meta).encode()
        (folder / "manifest.json").write_bytes(body)
        (folder / "manifest.sig").write_bytes(key.sign(body))
        (folder / "signing-key.pub").write_bytes(key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    problems = variant("resigned", resign)
    assert any("not by this installation's key" in p for p in problems)
    problems = variant("extra", lambda f: (f / "data" / "more.csv").write_text("x\r\n"))
    assert any("data/more.csv is not part of the bundle" in p for p in problems)
    # A cut-short archive, and the unfinished name.
    cut = tmp_path / "cut.tar"
    cut.write_bytes(original.read_bytes()[:5000])
    assert any("cut short" in p for p in verify_bundle(cut).problems)
    partial = tmp_path / "x.tar.partial"
    partial.write_bytes(original.read_bytes())
    assert any("unfinished" in p for p in verify_bundle(partial).problems)


def test_tampering_with_an_encrypted_bundle_is_caught(runtime, db, root, tmp_path: Path
                                                      ) -> None:
    seed(runtime)
    identity, recipient = keypair(tmp_path)
    other, _ = keypair(tmp_path, "other")
    export = export_now(runtime, db, root, ExportSpec(
        kind="handover", recipients=(recipient,), categories=("customers",)))
    bundle = Path(export.path)
    data = bytearray(bundle.read_bytes())
    data[len(data) // 2] ^= 0x80
    damaged = tmp_path / "damaged.tar.age"
    damaged.write_bytes(bytes(data))
    problems = verify_bundle(damaged, identities=_ids(identity)).problems
    assert any("altered or cut short" in p for p in problems)
    assert any("none of the given identities" in p for p in verify_bundle(
        bundle, identities=_ids(other)).problems)
    assert any("--identity" in p for p in verify_bundle(bundle).problems)


def test_passphrase_bundle_opens_with_age_and_the_passphrase(runtime, db, root,
                                                             tmp_path: Path) -> None:
    import pyrage

    seed(runtime)
    export = export_now(runtime, db, root, ExportSpec(
        kind="handover", passphrase="a long and good passphrase", categories=("employees",)))
    bundle = Path(export.path)
    assert verify_bundle(bundle, passphrase="a long and good passphrase").ok
    assert any("wrong passphrase" in p for p in verify_bundle(
        bundle, passphrase="not the passphrase").problems)
    plain = pyrage.passphrase.decrypt(bundle.read_bytes(), "a long and good passphrase")
    assert plain[257:262] == b"ustar"
    with pytest.raises(ValidationError, match="at least 12"):
        export_now(runtime, db, root, ExportSpec(kind="handover", passphrase="short"))


def test_unencrypted_needs_no_encrypt_and_warns(runtime, db, root) -> None:
    from console.export.service import create_export

    with pytest.raises(ValidationError, match="--no-encrypt"):
        create_export(db, root, ExportSpec(kind="handover"), settings=runtime.settings,
                      keys=runtime.keys)
    created = create_export(db, root, ExportSpec(kind="handover", no_encrypt=True),
                            settings=runtime.settings, keys=runtime.keys)
    assert created.warnings and "NOT encrypted" in created.warnings[0]
    with pytest.raises(ValidationError, match="choose one"):
        create_export(db, root, ExportSpec(kind="handover", no_encrypt=True,
                                           passphrase="a long and good passphrase"),
                      settings=runtime.settings, keys=runtime.keys)
    with pytest.raises(ValidationError, match="reference"):
        create_export(db, root, ExportSpec(kind="handover", no_encrypt=True,
                                           purpose=Purpose.LEGAL_ORDER),
                      settings=runtime.settings, keys=runtime.keys)
    with pytest.raises(ValidationError, match="not an age recipient"):
        create_export(db, root, ExportSpec(kind="handover", recipients=("age1nope",)),
                      settings=runtime.settings, keys=runtime.keys)


def test_the_register_records_purpose_recipient_and_protection(runtime, db, root,
                                                              tmp_path: Path) -> None:
    seed(runtime)
    _identity, recipient = keypair(tmp_path)
    export_now(runtime, db, root, ExportSpec(
        kind="handover", purpose=Purpose.LEGAL_ORDER, reference="Court 12/2026",
        disclosed_to="District court", recipients=(recipient,), categories=("sales",)))
    export_now(runtime, db, root, ExportSpec(kind="subject", no_encrypt=True,
                                             subject=(SubjectKind.CUSTOMER, 1)))
    views = list_exports(db, root)
    assert [(v.kind, v.purpose, v.reference, v.disclosed_to, v.protection, v.state)
            for v in views] == [
        ("subject", "data-subject-request", "", "the data subject", "none", "done"),
        ("handover", "legal-order", "Court 12/2026", "District court", "recipients", "done")]
    assert views[1].recipients == [recipient] and views[1].rows == 400


def test_a_support_engineer_exports_masked_within_the_grant(runtime, db, admin,
                                                            tmp_path: Path) -> None:
    from console.support import create_grant
    from tests.supporthelp import add_engineer, support_session

    seed(runtime)
    add_engineer(runtime, db)
    create_grant(db, admin, settings=runtime.settings.support, engineer="fp-jane",
                 scope="export.run,jobs.run,jobs.read", reason="Payroll export bug",
                 ticket="FP-1")
    jane = support_session(runtime, db)
    export = export_now(runtime, db, jane, ExportSpec(kind="handover", no_encrypt=True,
                                                      packaging="directory"))
    folder = Path(export.path)
    meta = manifest(folder)
    names = [c["name"] for c in meta["categories"]]
    assert "audit_events" not in names and "processing_logs" not in names
    assert any("audit_events left out" in n for n in meta["notes"])
    assert meta["masked"] is True
    employee = db.get(Employee, 1)
    row = jsonl(folder, "employees")[0]
    assert row["email"] != employee.email and "•" in row["email"]
    assert row["national_id"] != employee.national_id
    assert row["date_of_birth"] == f"{employee.date_of_birth.year}-••-••"
    text_all = "".join(p.read_text(encoding="utf-8") for p in (folder / "data").iterdir())
    assert employee.email not in text_all and employee.national_id not in text_all
    with pytest.raises(AccessDenied):
        export_now(runtime, db, jane, ExportSpec(kind="handover", no_encrypt=True,
                                                 categories=("audit_events",)))


# -- keyset paging by any primary key -------------------------------------------------------

def _support_sessions(db, count: int) -> list[str]:
    """`count` support sessions (text keys, as the SSH gate makes them) of one grant."""
    import uuid

    from console import clock
    from models.identity import User
    from models.support import SupportGrant, SupportSession

    user = db.exec(select(User)).first()
    assert user is not None and user.id is not None
    now = clock.now()
    grant = SupportGrant(engineer_id=user.id, engineer=user.username, scope="employees.read",
                         reason="paging test", ticket="T-1", requested_by="test",
                         requested_minutes=60, approved_by="test", minutes=60, created_at=now,
                         starts_at=now, ends_at=now)
    db.add(grant)
    db.flush()
    assert grant.id is not None
    ids = sorted(str(uuid.uuid4()) for _ in range(count))
    for i, key in enumerate(ids):
        db.add(SupportSession(id=key, engineer_id=user.id, engineer=user.username,
                              grant_id=grant.id, source=f"198.51.100.{i}:22", started_at=now))
    db.commit()
    return ids


def test_a_handover_with_support_sessions_pages_their_text_keys(runtime, db, root,
                                                                 tmp_path: Path,
                                                                 monkeypatch) -> None:
    """support_sessions has a text primary key: the export pages it by that key on both
    backends (several queries per step here), every row once, as many as the table has."""
    from console.export import rows

    seed(runtime)
    ids = _support_sessions(db, 23)
    monkeypatch.setattr(rows, "FETCH", 5)
    export = export_now(runtime, db, root, ExportSpec(
        kind="handover", no_encrypt=True, packaging="directory",
        categories=("support_sessions", "employees")))
    folder = Path(export.path)
    # In the database's key order (its collation on PostgreSQL), each row once.
    got = [r["id"] for r in jsonl(folder, "support_sessions")]
    assert sorted(got) == ids and len(set(got)) == len(ids)
    with open(folder / "data" / "support_sessions.csv", newline="", encoding="utf-8") as fh:
        assert [r["id"] for r in csv.DictReader(fh)] == got
    employees = db.exec(select(Employee)).all()
    assert len(jsonl(folder, "employees")) == len(employees)
    assert manifest(folder)  # and the whole bundle checks out
    assert verify_bundle(folder, keys=runtime.keys).ok


@pytest.mark.parametrize("masked", [False, True])
def test_table_part_cursor_survives_json_and_pages_text_keys(runtime, db, masked) -> None:
    """The cursor a batch hands back is JSON (the job's checkpoint keeps it) and the next
    batch goes on after it, whatever the key's type; an integer 0 (an older checkpoint)
    still means the start."""
    from console.catalog import category
    from console.export.rows import TablePart

    ids = _support_sessions(db, 11)
    part = TablePart(category("support_sessions"), masked=masked)
    seen: list[str] = []
    after: object = 0
    while True:
        batch = part.fetch(db, after, 4)
        lines = [json.loads(line) for line in batch.jsonl.decode().split("\n") if line]
        seen += [line["id"] for line in lines]
        after = json.loads(json.dumps(batch.last))
        if batch.done:
            break
    assert len(seen) == len(ids) and after == [max(ids)]
    if not masked:
        assert sorted(seen) == ids and len(set(seen)) == len(ids)
    db.rollback()


def test_table_part_pages_a_composite_key(runtime, db) -> None:
    """A key of several columns (text and integer) pages by the row value, in key order."""
    from types import SimpleNamespace

    from sqlalchemy import Column, Integer, MetaData, String, Table

    from console.export.rows import TablePart

    table = Table("paging_probe", MetaData(),
                  Column("region", String(8), primary_key=True),
                  Column("seq", Integer, primary_key=True),
                  Column("note", String(32)))
    engine = runtime.database.engine
    table.create(engine)
    try:
        keys = sorted((r, s) for r in ("b", "a", "c") for s in (3, 1, 2, 10))
        with engine.begin() as conn:
            conn.execute(table.insert(), [{"region": r, "seq": s, "note": f"{r}{s}"}
                                          for r, s in reversed(keys)])
        fake = SimpleNamespace(name=SimpleNamespace(value="paging_probe"), title="Probe",
                               table="paging_probe", model=SimpleNamespace(__table__=table),
                               pii=(), subject_links=())
        part = TablePart(fake)  # type: ignore[arg-type]
        seen: list[tuple[str, int]] = []
        after = None
        while True:
            batch = part.fetch(db, after, 5)
            seen += [(r["region"], r["seq"]) for r in (
                json.loads(line) for line in batch.jsonl.decode().split("\n") if line)]
            after = json.loads(json.dumps(batch.last))
            if batch.done:
                break
        assert seen == keys
        db.rollback()
    finally:
        table.drop(engine)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_sqlite_printf_csv_writes_the_same_bytes_as_concatenation(runtime, db) -> None:
    """The fast CSV line (one printf) equals the plain concatenation for every category,
    with quotes, commas, line breaks, empty texts and NULLs in the data."""
    from console.catalog import CATEGORIES, Disposal
    from console.export.rows import TablePart

    seed(runtime)
    with runtime.database.engine.begin() as conn:
        conn.execute(text("UPDATE employees SET address = :a, phone = '', email = NULL "
                          "WHERE id = 1"), {"a": 'Zoë "Z" O\'Brien,\r\nline two %s %w'})
    conn = db.connection().connection.dbapi_connection
    compared = 0
    for cat in [c for c in CATEGORIES if c.disposal != Disposal.PARTITIONS]:
        part = TablePart(cat, formats=("csv",))
        fast = part.sql("sqlite", fast=True, first=True)
        plain = fast.replace(part._csv_sqlite(), part._csv_concat())
        assert plain != fast
        got = conn.execute(fast, {**part.params, "limit": 10_000}).fetchall()
        want = conn.execute(plain, {**part.params, "limit": 10_000}).fetchall()
        assert got == want, cat.name
        compared += len(got)
    assert compared > 100
    db.rollback()


def test_csv_record_count_survives_any_chunking() -> None:
    """The bundle counts CSV records as the data streams by: a line break inside a quoted
    field is not a record's end, wherever the chunks happen to be cut."""
    import io
    import random

    from console.export.bundle import FileFigures

    rng = random.Random(7)
    alphabet = ['a', '"', '\n', '\r\n', ',', '""', 'Zoë', ' ']
    for _ in range(300):
        records = [[''.join(rng.choice(alphabet) for _ in range(rng.randint(0, 6)))
                    for _ in range(rng.randint(1, 4))] for _ in range(rng.randint(0, 30))]
        out = io.StringIO(newline="")
        csv.writer(out, lineterminator="\r\n", quoting=rng.choice(
            [csv.QUOTE_ALL, csv.QUOTE_MINIMAL])).writerows(records)
        blob = out.getvalue().encode()
        cuts = sorted(rng.sample(range(len(blob) + 1), min(len(blob) + 1, 6)))
        figures = FileFigures(csv=True)
        for start, end in zip([0, *cuts], [*cuts, len(blob)], strict=True):
            figures.data(blob[start:end])
        assert figures.newlines == len(records), blob
