"""Signed support receipts and monthly statements: verification and tamper detection
(both backends), and their CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import select

from console.errors import ValidationError
from console.receipts import (
    check_receipt,
    grant_receipts,
    monthly_statement,
    statement_text,
    verify_statement,
)
from console.support import create_grant
from console.support_sessions import close_abandoned, close_session, note_screen
from models.audit import AuditEvent
from models.support import SupportReceipt, SupportSession
from tests.clihelp import run_cli, write_config
from tests.supporthelp import CLI_ONE_BACKEND, GOOD, add_engineer, support_session


def finished_session(runtime, db, admin, *, screens=("dashboard", "logs")):
    add_engineer(runtime, db)
    grant = create_grant(db, admin, settings=runtime.settings.support, engineer="fp-jane",
                         scope="logs.read", **GOOD)
    engineer = support_session(runtime, db)
    for screen in screens:
        note_screen(db, engineer, f"screen:{screen}")
    receipt = close_session(db, runtime.keys, engineer.session_id, "quit")
    return grant, engineer, receipt


def test_session_end_signs_a_plain_language_receipt(runtime, db, admin) -> None:
    grant, engineer, receipt = finished_session(runtime, db, admin)
    assert receipt is not None and receipt.grant_id == grant.id
    assert "fp-jane" in receipt.summary and f"grant #{grant.id}" in receipt.summary
    assert "opened 2 screens (dashboard, logs)" in receipt.summary
    assert "198.51.100.7:40022" in receipt.summary and "personal data masked" in receipt.summary
    assert check_receipt(db, runtime.keys, receipt).ok
    record = db.get(SupportSession, engineer.session_id)
    assert record.ended_at is not None and record.end_reason == "quit"
    # closing again changes nothing and signs nothing new
    assert close_session(db, runtime.keys, engineer.session_id, "again").id == receipt.id
    assert [r.id for r in grant_receipts(db, admin, grant.id)] == [receipt.id]


@pytest.mark.parametrize("tamper, problem", [
    ("UPDATE support_receipts SET summary = summary || ' (and nothing else)'", "altered"),
    ("UPDATE support_receipts SET payload = replace(payload, 'fp-jane', 'fp-joe')",
     "signature does not match"),
    ("UPDATE support_receipts SET signature = '00' || substr(signature, 3)",
     "signature does not match"),
])
def test_receipt_tampering_is_detected(runtime, db, admin, tamper, problem) -> None:
    _, _, receipt = finished_session(runtime, db, admin)
    db.exec(text(tamper))
    db.commit()
    db.refresh(receipt)
    check = check_receipt(db, runtime.keys, receipt)
    assert not check.ok and problem in check.problem


def test_receipt_notices_edited_or_deleted_session_events(runtime, db, admin) -> None:
    _, engineer, receipt = finished_session(runtime, db, admin)
    events = db.exec(select(AuditEvent).where(AuditEvent.session_id == engineer.session_id)
                     .order_by(AuditEvent.id)).all()
    db.exec(text("UPDATE audit_events SET target = 'screen:settings' WHERE id = :id"),
            params={"id": events[1].id})
    db.commit()
    check = check_receipt(db, runtime.keys, receipt)
    assert not check.ok and "altered" in check.problem
    db.exec(text("DELETE FROM audit_events WHERE id = :id"), params={"id": events[1].id})
    db.commit()
    check = check_receipt(db, runtime.keys, receipt)
    assert not check.ok and "deleted" in check.problem


def test_abandoned_session_is_closed_with_a_receipt(runtime, db, admin, clock) -> None:
    add_engineer(runtime, db)
    create_grant(db, admin, settings=runtime.settings.support, engineer="fp-jane",
                 scope="logs.read", **GOOD)
    engineer = support_session(runtime, db)
    assert close_abandoned(db, runtime.keys) == 0
    clock.advance(minutes=10)  # nothing heard from it (killed, connection lost)
    assert close_abandoned(db, runtime.keys) == 1
    record = db.get(SupportSession, engineer.session_id)
    db.refresh(record)
    assert record.end_reason.startswith("connection lost")
    assert db.exec(select(SupportReceipt)).one().session_id == engineer.session_id


def test_monthly_statement_is_signed_even_when_empty(runtime, db, admin, clock) -> None:
    clock.set(datetime(2026, 6, 3, 12, tzinfo=UTC))
    empty = monthly_statement(db, admin, runtime.keys, "2026-05")
    assert empty["statement"]["grants"] == [] and verify_statement(runtime.keys, empty)[0]
    assert "No FlowPro support access was requested, granted or used in 2026-05" in \
        statement_text(empty)
    grant, _, _ = finished_session(runtime, db, admin)
    june = monthly_statement(db, admin, runtime.keys, "2026-06")
    body = june["statement"]
    assert [g["id"] for g in body["grants"]] == [grant.id]
    assert len(body["sessions"]) == 1 and {a["text"] for a in body["actions"]} >= {
        "opened the dashboard screen", "opened the logs screen"}
    assert verify_statement(runtime.keys, june) == (True, "")
    body["grants"][0]["approved_by"] = "someone else"
    ok, why = verify_statement(runtime.keys, june)
    assert not ok and "altered" in why
    with pytest.raises(ValidationError, match="YYYY-MM"):
        monthly_statement(db, admin, runtime.keys, "May 2026")
    with pytest.raises(ValidationError, match="not begun"):
        monthly_statement(db, admin, runtime.keys, "2026-07")


@CLI_ONE_BACKEND
def test_receipt_and_statement_cli(installation, runtime, db, admin, tmp_path: Path) -> None:
    grant, _, _ = finished_session(runtime, db, admin)
    cfg = write_config(installation, tmp_path / "c.toml")
    shown = run_cli("support", "receipt", str(grant.id), config=cfg)
    assert shown.code == 0 and "FlowPro support receipt" in shown.out
    assert "Signature (Ed25519" in shown.out
    ok = run_cli("support", "receipt", str(grant.id), "--verify", config=cfg)
    assert ok.code == 0 and "valid" in ok.out, ok.err
    db.exec(text("UPDATE support_receipts SET summary = 'nothing happened'"))
    db.commit()
    bad = run_cli("support", "receipt", str(grant.id), "--verify", config=cfg)
    assert bad.code == 1 and "INVALID" in bad.out
    month = datetime.now(UTC).strftime("%Y-%m")
    saved = run_cli("support", "statement", "--month", month, "--json", config=cfg)
    assert saved.code == 0, saved.err
    path = tmp_path / "statement.json"
    path.write_text(saved.out)
    assert run_cli("support", "statement", "--verify", str(path), config=cfg).code == 0
    document = json.loads(saved.out)
    document["statement"]["sessions"] = []
    path.write_text(json.dumps(document))
    tampered = run_cli("support", "statement", "--verify", str(path), config=cfg)
    assert tampered.code == 1 and "INVALID" in tampered.err
    plain = run_cli("support", "statement", "--month", month, config=cfg)
    assert plain.code == 0 and "Support sessions: 1" in plain.out
