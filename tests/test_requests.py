"""Data-subject requests: the register, what is due, and every kind of fulfilment
(services on both backends)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import select

from console.catalog import SubjectKind
from console.errors import Conflict, ValidationError
from console.requests.erasure import ledger_path
from console.requests.fulfil import Fulfilment, fulfil
from console.requests.register import (
    add_request,
    close_request,
    due_summary,
    get_request,
    list_requests,
    request_changes,
)
from models.audit import AuditEvent
from models.business import Customer, Employee
from models.requests import ErasureRecord, SubjectKey
from tests.exporthelp import jsonl, keypair, manifest, unpack
from tests.retentionhelp import TODAY, employee_pii, seed

EMP = (SubjectKind.EMPLOYEE, 7001)


@pytest.fixture
def today(clock):
    clock.set(datetime.combine(TODAY, time(12), UTC))
    return clock


def _add(db, actor, runtime, kind: str, subject=EMP, **kwargs):
    return add_request(db, actor, kind, subject, settings=runtime.settings.requests, **kwargs)


def _fulfil(db, actor, runtime, request_id: int, **how):
    return fulfil(db, actor, request_id, Fulfilment(**how), runtime=runtime)


def test_register_due_dates_and_closing(runtime, db, root, today) -> None:
    seed(db)
    late = _add(db, root, runtime, "access", received_on=TODAY - timedelta(days=40))
    soon = _add(db, root, runtime, "erasure", received_on=TODAY - timedelta(days=25))
    later = _add(db, root, runtime, "objection", (SubjectKind.CUSTOMER, 9000))
    assert late.due_on == TODAY - timedelta(days=10) and later.due_on == TODAY + timedelta(30)
    due = due_summary(db, root, runtime.settings.requests.due_soon_days)
    assert [r.id for r in due.overdue] == [late.id] and [r.id for r in due.due_soon] == [soon.id]
    assert due.pending == 3
    assert [r.id for r in list_requests(db, root)] == [late.id, soon.id, later.id]
    with pytest.raises(ValidationError, match="kind"):
        _add(db, root, runtime, "deletion")
    with pytest.raises(ValidationError, match="future"):
        _add(db, root, runtime, "access", received_on=TODAY + timedelta(days=1))
    with pytest.raises(Conflict, match="fulfil it first"):
        close_request(db, root, later.id, outcome="fulfilled")
    with pytest.raises(ValidationError, match="say why"):
        close_request(db, root, later.id, outcome="rejected")
    closed = close_request(db, root, later.id, outcome="rejected", note="not our customer")
    assert closed.state == "closed" and closed.outcome == "rejected"
    with pytest.raises(Conflict, match="already closed"):
        close_request(db, root, later.id, outcome="withdrawn", note="x")


def test_access_runs_the_subject_export_and_the_bundle_answers(runtime, db, root, today,
                                                                tmp_path: Path) -> None:
    seed(db)
    identity, recipient = keypair(tmp_path)
    request = _add(db, root, runtime, "access")
    from console.jobs import Where, execute

    done = fulfil(db, root, request.id, Fulfilment(recipients=(recipient,)), runtime=runtime,
                  where=Where.HERE)
    assert done.request.state == "in-progress" and done.export_id
    final = execute(runtime, done.started.claim, root)
    assert final.state == "succeeded"
    shown = get_request(db, root, request.id)
    assert shown.state == "fulfilled"
    assert [a.action for a in shown.actions] == ["export", "export sealed"]
    bundle = Path(shown.response["bundle"])
    folder = unpack(bundle, tmp_path / "out", identity)
    assert manifest(folder)["purpose"] == "data-subject-request"
    assert [r["id"] for r in jsonl(folder, "employees")] == [7001]


def test_rectification_keeps_before_and_after_sealed_in_the_trail(runtime, db, root, today
                                                                   ) -> None:
    seed(db)
    old = employee_pii(1)
    request = _add(db, root, runtime, "rectification")
    with pytest.raises(ValidationError, match="cannot be corrected"):
        _fulfil(db, root, runtime, request.id, changes={"employee_no": "X"})
    with pytest.raises(ValidationError, match="not a date"):
        _fulfil(db, root, runtime, request.id, changes={"date_of_birth": "9 July"})
    _fulfil(db, root, runtime, request.id, changes={"email": "zelda.new@corp.example",
                                                    "address": ""})
    row = db.get(Employee, 7001, populate_existing=True)
    assert row.email == "zelda.new@corp.example" and row.address is None
    event = db.exec(select(AuditEvent).where(AuditEvent.action == "requests.rectify")).one()
    assert old["email"] not in event.details and "sealed:" in event.details
    changes = request_changes(db, root, request.id, runtime.keys)
    assert {(c.field, c.before, c.after) for c in changes} == {
        ("email", old["email"], "zelda.new@corp.example"), ("address", old["address"], None)}
    with pytest.raises(Conflict, match="already fulfilled"):
        _fulfil(db, root, runtime, request.id, changes={"email": "again@corp.example"})


def test_restriction_flags_the_person_and_their_exports(runtime, db, root, today,
                                                        tmp_path: Path) -> None:
    from console.export.service import ExportSpec, export_now

    seed(db)
    request = _add(db, root, runtime, "restriction", (SubjectKind.CUSTOMER, 9001))
    _fulfil(db, root, runtime, request.id, note="disputes the accuracy")
    assert db.get(Customer, 9001, populate_existing=True).restricted is True
    export = export_now(runtime, db, root, ExportSpec(
        kind="subject", subject=(SubjectKind.CUSTOMER, 9001), no_encrypt=True,
        packaging="directory"))
    meta = manifest(Path(export.path))
    assert meta["subject"]["restricted"] is True
    assert any("restricted" in n for n in meta["notes"])
    lift = _add(db, root, runtime, "restriction", (SubjectKind.CUSTOMER, 9001))
    _fulfil(db, root, runtime, lift.id, lift=True)
    assert db.get(Customer, 9001, populate_existing=True).restricted is False


def _everything(db) -> str:
    parts = []
    for table in ("employees", "payroll_records", "attendance_records", "customers",
                  "sales_transactions", "subject_requests", "erasure_ledger"):
        for row in db.execute(text(f"SELECT * FROM {table}")):
            parts.append(" ".join(str(v) for v in row))
    return "\n".join(parts)


def test_erasure_leaves_no_personal_data(runtime, db, root, clock) -> None:
    seed(db)
    clock.set(datetime.combine(TODAY + timedelta(days=3660), time(12), UTC))  # all aged out
    pii = employee_pii(1)
    request = _add(db, root, runtime, "rectification")
    _fulfil(db, root, runtime, request.id, changes={"phone": "+1-555-0199-0000"})
    erasure = _add(db, root, runtime, "erasure")
    done = _fulfil(db, root, runtime, erasure.id)
    response = done.request.response
    assert response["anonymized"]["employees"] == 1
    assert response["anonymized"]["payroll"] == 9 * 12
    assert response["anonymized"]["attendance"] == 9 * 24
    assert "employees" not in response["kept"] and "payroll" not in response["kept"]
    everything = _everything(db)
    for value in (pii["email"], pii["national_id"], pii["address"], pii["first_name"],
                  pii["last_name"], "+1-555-0199-0000", "+1-555-0101-7788",
                  "DE44 5001 0517 7001 00"):
        assert value not in everything, value
    assert db.execute(text("SELECT count(*) FROM payroll_records WHERE employee_id = 7001")
                      ).scalar() == 0
    row = db.get(Employee, 7001, populate_existing=True)
    assert row.date_of_birth == date(pii["date_of_birth"].year, 1, 1)
    assert row.anonymized_at is not None
    # The trail still holds the rectification, its values sealed with a key now gone.
    assert db.exec(select(SubjectKey)).all() == []
    changes = request_changes(db, root, request.id, runtime.keys)
    assert changes and all(c.before == "[erased]" and c.after == "[erased]" for c in changes)
    # The ledger names nobody: a keyed hash, the categories, the time.
    entry = db.exec(select(ErasureRecord)).one()
    assert len(entry.subject_key) == 64 and "7001" not in entry.subject_key
    assert set(json.loads(entry.categories)) == {"employees", "payroll", "attendance"}
    line = json.loads(ledger_path(runtime.settings.data_dir).read_text().splitlines()[0])
    assert line["subject_key"] == entry.subject_key and set(line) == {
        "subject_key", "categories", "erased_at", "request"}


def test_erasure_respects_legal_minimums_and_holds(runtime, db, root, today) -> None:
    from console.retention.holds import add_hold

    seed(db)
    add_hold(db, root, name="Tribunal 2026-17", reason="pending employment case",
             category_name="attendance", employee=7002)
    request = _add(db, root, runtime, "erasure", (SubjectKind.EMPLOYEE, 7002))
    response = _fulfil(db, root, runtime, request.id).request.response
    cutoff = TODAY - timedelta(days=6 * 365)  # payroll's legal minimum
    months = 9 * 12
    within = sum(1 for m in range(months) if date(2017 + (5 + m) // 12, (5 + m) % 12 + 1, 1)
                 >= cutoff)
    kept = db.execute(text("SELECT count(*) FROM payroll_records WHERE employee_id = 7002")
                      ).scalar()
    assert kept == within and 6 * 12 - 1 <= kept <= 6 * 12  # kept as they are ...
    assert response["anonymized"]["payroll"] == months - within  # ... the rest anonymized
    assert any("legal minimum" in r for r in response["kept"]["payroll"])
    assert response["anonymized"]["attendance"] == 0
    assert any("Tribunal 2026-17" in r for r in response["kept"]["attendance"])
    assert response["anonymized"]["employees"] == 0
    assert any("legal minimum" in r for r in response["kept"]["employees"])
    row = db.get(Employee, 7002, populate_existing=True)
    assert row.email == employee_pii(2)["email"]  # still needed by the kept records
    # Sales the employee rang up are the customers' data: untouched.
    assert response["anonymized"]["sales"] == 0
    assert db.execute(text("SELECT count(*) FROM sales_transactions WHERE card_last4 IS NULL")
                      ).scalar() == 0
