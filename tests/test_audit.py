"""The audit trail: chained, signed, and every kind of tampering found."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from sqlalchemy import text
from sqlmodel import select

from console import audit
from console.db import writing
from console.errors import AccessDenied
from console.principal import Principal, PrincipalKind
from models.audit import AuditCheckpoint, AuditEvent


def append(db, actor, n: int) -> None:
    for i in range(n):
        with writing(db):
            audit.record(db, actor, "test.event", target=f"t:{i}", details={"i": i})


def test_chain_links_and_verifies(db, root, runtime) -> None:
    append(db, root, 5)
    events = db.exec(select(AuditEvent).order_by(AuditEvent.id)).all()
    for prev, event in zip(events, events[1:], strict=False):
        assert event.prev_hash == prev.hash
    report = audit.verify(db, root, runtime.keys)
    assert report.ok, report.summary()
    assert report.events == len(events)
    assert "OK" in report.summary()


def test_record_requires_a_write_transaction(db, root) -> None:
    with pytest.raises(RuntimeError):
        audit.record(db, root, "x")


def test_secrets_never_reach_the_trail(db, root) -> None:
    with writing(db):
        event = audit.record(db, root, "test", details={"password": "hunter2hunter2",
                                                         "nested": {"totp_secret": "ABC"}})
    assert "hunter2" not in event.details and "ABC" not in event.details


def test_checkpoints_are_signed_automatically_and_on_demand(db, root, runtime) -> None:
    db.info["checkpoint_every"] = 3
    append(db, root, 7)
    assert db.exec(select(AuditCheckpoint)).all()
    db.info["checkpoint_every"] = 0
    append(db, root, 1)
    cp = audit.checkpoint(db, root, runtime.keys)
    assert cp is not None
    assert audit.checkpoint(db, root, runtime.keys) is None  # nothing new
    report = audit.verify(db, root, runtime.keys)
    assert report.ok and report.unsigned_tail == 0


def _tamper(db, sql: str, **params) -> None:
    db.rollback()
    db.exec(text(sql), params=params)
    db.commit()


@pytest.fixture
def trail(db, root, runtime):
    append(db, root, 6)
    audit.checkpoint(db, root, runtime.keys)
    append(db, root, 2)
    ids = list(db.exec(select(AuditEvent.id).order_by(AuditEvent.id)).all())
    return ids


def test_edited_event_is_found(db, root, runtime, trail) -> None:
    victim = trail[3]
    _tamper(db, "UPDATE audit_events SET details = :d WHERE id = :id", d='{"i":99}', id=victim)
    report = audit.verify(db, root, runtime.keys)
    assert not report.ok and report.bad_event_id == victim
    assert report.reason.startswith("edited")


def test_edited_event_with_recomputed_hash_is_found(db, root, runtime, trail) -> None:
    victim = trail[3]
    event = db.get(AuditEvent, victim)
    event.details = '{"i":99}'
    new_hash = audit.event_hash(event.prev_hash, event)
    _tamper(db, "UPDATE audit_events SET details = :d, hash = :h WHERE id = :id",
            d='{"i":99}', h=new_hash, id=victim)
    report = audit.verify(db, root, runtime.keys)
    assert not report.ok and report.bad_event_id == trail[4]
    assert "edited" in report.reason


def test_deleted_event_is_found(db, root, runtime, trail) -> None:
    _tamper(db, "DELETE FROM audit_events WHERE id = :id", id=trail[2])
    report = audit.verify(db, root, runtime.keys)
    assert not report.ok and report.bad_event_id == trail[3]
    assert report.reason.startswith("deleted")


def test_deleted_signed_tail_is_found(db, root, runtime) -> None:
    append(db, root, 4)
    cp = audit.checkpoint(db, root, runtime.keys)
    _tamper(db, "DELETE FROM audit_events WHERE id >= :id", id=cp.last_event_id)
    report = audit.verify(db, root, runtime.keys)
    assert not report.ok and "deleted" in report.reason


def test_reordered_events_are_found(db, root, runtime, trail) -> None:
    a, b = trail[2], trail[3]
    _tamper(db, "UPDATE audit_events SET id = -1 WHERE id = :a", a=a)
    _tamper(db, "UPDATE audit_events SET id = :a WHERE id = :b", a=a, b=b)
    _tamper(db, "UPDATE audit_events SET id = :b WHERE id = -1", b=b)
    report = audit.verify(db, root, runtime.keys)
    assert not report.ok and report.reason.startswith("reordered")


def test_bad_checkpoint_signature_is_found(db, root, runtime, trail) -> None:
    cp = db.exec(select(AuditCheckpoint)).first()
    forged = ("00" if cp.signature[:2] != "00" else "11") + cp.signature[2:]
    _tamper(db, "UPDATE audit_checkpoints SET signature = :s WHERE id = :id", s=forged, id=cp.id)
    report = audit.verify(db, root, runtime.keys)
    assert not report.ok and "bad signature" in report.reason


def test_verify_needs_audit_read(db, runtime) -> None:
    nobody = Principal(name="nobody", kind=PrincipalKind.USER)
    with pytest.raises(AccessDenied):
        audit.verify(db, nobody, runtime.keys)


WRITER = textwrap.dedent("""
    import sys
    from console.config import parse_settings
    from console.runtime import open_runtime
    from console.db import writing
    from console.principal import os_principal
    from console import audit
    import json
    settings = parse_settings(json.loads(sys.argv[1]), env={})
    rt = open_runtime(settings)
    actor = os_principal(sys.argv[2])
    with rt.database.scope() as db:
        for i in range(int(sys.argv[3])):
            with writing(db):
                audit.record(db, actor, "concurrent.append", details={"i": i})
    rt.close()
""")


def test_two_processes_appending_never_fork_the_chain(installation, runtime, db, root) -> None:
    import json

    doc = {"storage": {"data_dir": str(installation.data_dir)},
           "database": {"url": installation.database.url},
           "security": {"argon2_time_cost": 1, "argon2_memory_kib": 8192,
                        "argon2_parallelism": 1}}
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, json.dumps(doc), name, "150"])
             for name in ("p1", "p2")]
    for proc in procs:
        assert proc.wait(timeout=120) == 0
    report = audit.verify(db, root, runtime.keys)
    assert report.ok, report.summary()
    count = db.exec(text("SELECT count(*) FROM audit_events WHERE action = "
                         "'concurrent.append'")).scalar()
    assert count == 300
    prevs = db.exec(text("SELECT count(DISTINCT prev_hash) FROM audit_events")).scalar()
    total = db.exec(text("SELECT count(*) FROM audit_events")).scalar()
    assert prevs == total  # no two events share a predecessor: no fork
