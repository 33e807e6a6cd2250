"""The append-only, hash-chained audit trail.

Each event stores `prev_hash` and `hash = SHA-256(prev_hash || canonical(event))`. Appends
are serialized (SQLite: the write transaction is BEGIN IMMEDIATE; PostgreSQL: a transaction
advisory lock) so two processes can never fork the chain. Checkpoints sign
(last event id, chain hash, time) with the installation's Ed25519 key.

Retention purges the oldest events (from the start of the chain only). In the same
transaction it signs an *anchor*: every event up to `last_purged_id` is gone and the chain
continues from `last_purged_hash`. `verify` starts from the newest valid anchor, so the
trail still verifies after a purge, and deleting any further event is still detected.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from console import clock
from console.contract import service
from console.db import backend_of, writing
from console.errors import ConsoleError
from console.keys import KeyStore, verify_signature
from console.permissions import Permission
from console.principal import Principal
from models.audit import AuditCheckpoint, AuditEvent
from models.retention import AuditAnchor

GENESIS = "0" * 64
_PG_CHAIN_LOCK = 0x46500001  # advisory lock id that serializes appends on PostgreSQL
_SECRET_WORDS = ("password", "secret", "totp_code", "passphrase", "private_key", "token")


class Outcome:
    OK = "ok"
    DENIED = "denied"
    ERROR = "error"


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


def _scrub(details: Mapping[str, Any]) -> dict[str, Any]:
    """Defence in depth: a key that names a secret never reaches the trail."""
    clean: dict[str, Any] = {}
    for key, value in details.items():
        if any(word in key.lower() for word in _SECRET_WORDS):
            clean[key] = "[withheld]"
        elif isinstance(value, Mapping):
            clean[key] = _scrub(value)
        else:
            clean[key] = value
    return clean


def _content(event: AuditEvent) -> str:
    return canonical_json({
        "at": event.at.isoformat(timespec="microseconds"),
        "actor": event.actor, "actor_kind": event.actor_kind, "session": event.session_id,
        "action": event.action, "target": event.target, "outcome": event.outcome,
        "details": event.details, "source": event.source,
    })


def event_hash(prev_hash: str, event: AuditEvent) -> str:
    return hashlib.sha256(f"{prev_hash}\n{_content(event)}".encode()).hexdigest()


def _lock_chain(db: Session) -> None:
    if backend_of(db) == "postgresql":
        db.exec(select(func.pg_advisory_xact_lock(_PG_CHAIN_LOCK)))  # type: ignore[call-overload]


def record(db: Session, actor: Principal, action: str, *, target: str = "",
           outcome: str = Outcome.OK, details: Mapping[str, Any] | None = None) -> AuditEvent:
    """Append one event inside the caller's write transaction (see `console.db.writing`)."""
    if not db.info.get("flowpro_write_depth"):
        raise RuntimeError("audit.record must run inside console.db.writing()")
    _lock_chain(db)
    last = db.exec(select(AuditEvent.hash).order_by(col(AuditEvent.id).desc()).limit(1)).first()
    at = clock.now()
    event = AuditEvent(
        at=at, actor=actor.name, actor_kind=actor.kind.value, session_id=actor.session_id,
        action=action, target=target[:255], outcome=outcome,
        details=canonical_json(_scrub(details or {})), source=actor.source,
        prev_hash=last or GENESIS, hash="")
    event.hash = event_hash(event.prev_hash, event)
    db.add(event)
    db.flush()
    keys: KeyStore | None = db.info.get("keys")
    every: int = db.info.get("checkpoint_every", 0)
    if keys is not None and every and event.id and event.id % every == 0:
        _write_checkpoint(db, keys, event)
    return event


def record_alone(db: Session, actor: Principal, action: str, **kwargs: Any) -> AuditEvent:
    """Append one event in a transaction of its own (logins, denials, reads)."""
    if db.info.get("flowpro_write_depth"):
        return record(db, actor, action, **kwargs)
    if db.in_transaction():
        db.rollback()
    with writing(db):
        return record(db, actor, action, **kwargs)


def _checkpoint_payload(last_event_id: int, chain_hash: str, at: datetime) -> bytes:
    return (f"flowpro-audit-checkpoint\n{last_event_id}\n{chain_hash}\n"
            f"{at.isoformat(timespec='microseconds')}").encode()


def _write_checkpoint(db: Session, keys: KeyStore, last: AuditEvent) -> AuditCheckpoint:
    at = clock.now()
    cp = AuditCheckpoint(at=at, last_event_id=last.id or 0, chain_hash=last.hash,
                         key_id=keys.key_id, signature="")
    cp.signature = keys.sign(_checkpoint_payload(cp.last_event_id, cp.chain_hash, at)).hex()
    db.add(cp)
    db.flush()
    return cp


@service("audit.checkpoint")
def checkpoint(db: Session, actor: Principal, keys: KeyStore) -> AuditCheckpoint | None:
    """Sign the current head of the chain. Returns None when the trail is empty or the
    head is already signed. Needs audit.read (it only attests what exists)."""
    actor.require(Permission.AUDIT_READ)
    with writing(db):
        _lock_chain(db)
        last = db.exec(select(AuditEvent).order_by(col(AuditEvent.id).desc()).limit(1)).first()
        if last is None:
            return None
        signed = db.exec(select(func.max(AuditCheckpoint.last_event_id))).one()
        if signed is not None and signed >= (last.id or 0):
            return None
        return _write_checkpoint(db, keys, last)


def _anchor_payload(last_id: int, last_hash: str, purged: int, at: datetime) -> bytes:
    return (f"flowpro-audit-anchor\n{last_id}\n{last_hash}\n{purged}\n"
            f"{at.isoformat(timespec='microseconds')}").encode()


def advance_anchor(db: Session, keys: KeyStore, *, last_id: int, last_hash: str, purged: int,
                   retention_run_id: int) -> AuditAnchor:
    """Inside the transaction that purged events up to `last_id` (whose hash was
    `last_hash`): sign that the chain now starts after it. One anchor per retention run,
    moved forward by each of its batches."""
    if not db.info.get("flowpro_write_depth"):
        raise RuntimeError("audit.advance_anchor must run inside console.db.writing()")
    anchor = db.exec(select(AuditAnchor).where(
        AuditAnchor.retention_run_id == retention_run_id)).first()
    if anchor is None:
        anchor = AuditAnchor(at=clock.now(), last_purged_id=last_id, last_purged_hash=last_hash,
                             purged=0, retention_run_id=retention_run_id, key_id=keys.key_id,
                             signature="")
    anchor.at, anchor.last_purged_id, anchor.last_purged_hash = clock.now(), last_id, last_hash
    anchor.purged += purged
    anchor.key_id = keys.key_id
    anchor.signature = keys.sign(_anchor_payload(last_id, last_hash, anchor.purged,
                                                 anchor.at)).hex()
    db.add(anchor)
    db.flush()
    return anchor


@dataclass
class VerifyReport:
    ok: bool
    events: int
    checkpoints: int
    bad_event_id: int | None = None
    reason: str = ""
    unsigned_tail: int = 0
    notes: list[str] = field(default_factory=list)
    purged_through: int | None = None  # events up to this id were purged by retention

    def summary(self) -> str:
        if self.ok:
            tail = (f"; {self.unsigned_tail} newest event(s) not yet covered by a checkpoint"
                    if self.unsigned_tail else "")
            start = (f" (events up to #{self.purged_through} purged by retention, signed "
                     "anchor valid)" if self.purged_through is not None else "")
            return (f"OK: {self.events} events{start}, chain intact, {self.checkpoints} "
                    f"signed checkpoint(s) valid{tail}")
        where = f"event {self.bad_event_id}" if self.bad_event_id is not None else "trail"
        return f"FAILED at {where}: {self.reason}"


def _events(db: Session, after: int = 0) -> Iterator[AuditEvent]:
    while True:
        batch = db.exec(select(AuditEvent).where(col(AuditEvent.id) > after)
                        .order_by(col(AuditEvent.id)).limit(5000)).all()
        if not batch:
            return
        yield from batch
        after = batch[-1].id or after
        db.expunge_all()


@service("audit.verify")
def verify(db: Session, actor: Principal, keys: KeyStore) -> VerifyReport:
    """Walk the whole chain and every checkpoint; report the first problem found.

    Needs audit.read. Detects edited, deleted and reordered events and bad signatures.
    The verification itself is recorded (who checked, and what was found).
    """
    report = _verify(db, actor, keys)
    record_alone(db, actor, "audit.verify", outcome=Outcome.OK if report.ok else Outcome.ERROR,
                 details={"events": report.events, "result": report.summary()})
    return report


def _verify(db: Session, actor: Principal, keys: KeyStore) -> VerifyReport:
    actor.require(Permission.AUDIT_READ)
    public = keys.public_key()
    checkpoints = db.exec(select(AuditCheckpoint).order_by(col(AuditCheckpoint.id))).all()
    for cp in checkpoints:
        payload = _checkpoint_payload(cp.last_event_id, cp.chain_hash, cp.at)
        try:
            signature = bytes.fromhex(cp.signature)
        except ValueError:
            signature = b""
        if cp.key_id != keys.key_id or not verify_signature(public, signature, payload):
            return VerifyReport(False, 0, len(checkpoints), cp.last_event_id,
                                f"bad signature on checkpoint {cp.id} (covering events up "
                                f"to {cp.last_event_id}): the checkpoint was altered or not "
                                "made with this installation's key")
    anchors = db.exec(select(AuditAnchor).order_by(col(AuditAnchor.last_purged_id))).all()
    for anchor in anchors:
        payload = _anchor_payload(anchor.last_purged_id, anchor.last_purged_hash,
                                  anchor.purged, anchor.at)
        try:
            signature = bytes.fromhex(anchor.signature)
        except ValueError:
            signature = b""
        if anchor.key_id != keys.key_id or not verify_signature(public, signature, payload):
            return VerifyReport(False, 0, len(checkpoints), anchor.last_purged_id,
                                f"bad signature on the retention anchor {anchor.id} (events "
                                f"up to {anchor.last_purged_id} purged): it was altered or not "
                                "made with this installation's key")
    start = anchors[-1] if anchors else None
    by_last = {cp.last_event_id: cp for cp in checkpoints}
    prev_hash, prev_id, count = GENESIS, 0, 0
    if start is not None:
        prev_hash, prev_id = start.last_purged_hash, start.last_purged_id
    for event in _events(db, prev_id):
        if event_hash(event.prev_hash, event) != event.hash:
            return VerifyReport(False, count, len(checkpoints), event.id,
                                "edited: its content no longer matches its hash")
        if event.prev_hash != prev_hash:
            moved = db.exec(select(AuditEvent.id).where(AuditEvent.hash == event.prev_hash)).first()
            if moved is not None:
                reason = (f"reordered: it follows event {moved} in the chain but is stored "
                          f"after event {prev_id}")
            elif event.prev_hash == GENESIS or (event.id or 0) > prev_id + 1:
                reason = (f"deleted: the event(s) between {prev_id} and {event.id} are "
                          "missing from the chain")
            else:
                reason = f"edited: event {prev_id} was rewritten, so the chain breaks here"
            return VerifyReport(False, count, len(checkpoints), event.id, reason)
        cp = by_last.get(event.id or -1)
        if cp is not None and cp.chain_hash != event.hash:
            return VerifyReport(False, count, len(checkpoints), event.id,
                                f"edited: checkpoint {cp.id} signed a different hash for it")
        prev_hash, prev_id, count = event.hash, event.id or prev_id, count + 1
    for cp in checkpoints:
        if cp.last_event_id > prev_id:
            return VerifyReport(False, count, len(checkpoints), cp.last_event_id,
                                f"deleted: checkpoint {cp.id} signed events up to "
                                f"{cp.last_event_id} but the trail ends at {prev_id}")
    signed_to = max((cp.last_event_id for cp in checkpoints), default=0)
    tail = db.exec(select(func.count()).select_from(AuditEvent)
                   .where(col(AuditEvent.id) > signed_to)).one()
    return VerifyReport(True, count, len(checkpoints), unsigned_tail=int(tail),
                        purged_through=start.last_purged_id if start else None)


@service("audit.read")
def recent(db: Session, actor: Principal, *, limit: int = 50,
           before_id: int | None = None, actor_name: str | None = None,
           action_prefix: str | None = None, target: str | None = None,
           outcome: str | None = None, session_id: str | None = None) -> list[AuditEvent]:
    """Newest events first (keyset by id, never OFFSET). Needs audit.read.

    Filters match exactly, except `action_prefix` (a literal prefix: `%` and `_` in it
    are not wildcards)."""
    actor.require(Permission.AUDIT_READ)
    query = select(AuditEvent).order_by(col(AuditEvent.id).desc()).limit(min(limit, 5000))
    if before_id is not None:
        query = query.where(col(AuditEvent.id) < before_id)
    if actor_name:
        query = query.where(AuditEvent.actor == actor_name)
    if action_prefix:
        query = query.where(col(AuditEvent.action).startswith(action_prefix, autoescape=True))
    if target:
        query = query.where(AuditEvent.target == target)
    if outcome:
        query = query.where(AuditEvent.outcome == outcome)
    if session_id:
        query = query.where(AuditEvent.session_id == session_id)
    return list(db.exec(query).all())


def details_of(event: AuditEvent) -> dict[str, Any]:
    try:
        value = json.loads(event.details)
    except ValueError as exc:
        raise ConsoleError(f"audit event {event.id} has unreadable details") from exc
    return value if isinstance(value, dict) else {"value": value}
