"""What requests change about a person: rectification (before/after in the audit trail,
sealed with the person's own key) and restriction; and the keys that make both work.

- `subject_key(keys, kind, id)`: HMAC-SHA-256 of the subject under the installation's
  pseudonym key. The erasure ledger stores only this, so nobody can read a name off it,
  yet a restored database can be matched against it.
- A person's values written to the append-only audit trail (a rectification's before and
  after) are sealed with AES-256-GCM under a key of their own (`subject_keys`, wrapped with
  `secrets.key`). Erasure deletes that key: the trail keeps its hash chain, the values
  become unreadable (crypto-shredding).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from datetime import date
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Date
from sqlmodel import Session

from console import audit, clock
from console.catalog import SubjectKind
from console.errors import Conflict, ValidationError
from console.keys import KeyStore
from console.principal import Principal
from models.requests import SubjectKey

SEALED = "sealed:"
# Columns a rectification may not touch: identity, bookkeeping, and flags that have their
# own requests (restriction) or processes (erasure, retention).
FIXED = {"id", "employee_no", "customer_no", "restricted", "anonymized_at", "updated_at",
         "created_at"}


def subject_key(keys: KeyStore, kind: SubjectKind | str, subject_id: int) -> str:
    value = f"flowpro-subject\x00{SubjectKind(kind).value}:{int(subject_id)}".encode()
    return hmac.new(keys.pseudonym_key(), value, hashlib.sha256).hexdigest()


def _data_key(db: Session, keys: KeyStore, key_id: str, *, create: bool) -> bytes | None:
    row = db.get(SubjectKey, key_id)
    if row is not None:
        return keys.decrypt_secret(row.wrapped, context=f"subject-key:{key_id}")
    if not create:
        return None
    raw = os.urandom(32)
    db.add(SubjectKey(subject_key=key_id, wrapped=keys.encrypt_secret(
        raw, context=f"subject-key:{key_id}"), created_at=clock.now()))
    db.flush()
    return raw


def seal(db: Session, keys: KeyStore, kind: SubjectKind, subject_id: int, value: Any) -> str:
    """`value` (JSON) sealed under the subject's key (made on first use), as text."""
    key_id = subject_key(keys, kind, subject_id)
    data_key = _data_key(db, keys, key_id, create=True)
    assert data_key is not None
    nonce = os.urandom(12)
    blob = nonce + AESGCM(data_key).encrypt(nonce, json.dumps(value, default=str).encode(),
                                            key_id.encode())
    return SEALED + base64.b64encode(blob).decode()


ERASED = object()


def unseal(db: Session, keys: KeyStore, kind: SubjectKind, subject_id: int, text: Any) -> Any:
    """The value sealed in `text`, or ERASED when the subject's key is gone."""
    if not isinstance(text, str) or not text.startswith(SEALED):
        return text
    key_id = subject_key(keys, kind, subject_id)
    data_key = _data_key(db, keys, key_id, create=False)
    if data_key is None:
        return ERASED
    blob = base64.b64decode(text[len(SEALED):])
    try:
        return json.loads(AESGCM(data_key).decrypt(blob[:12], blob[12:], key_id.encode()))
    except InvalidTag:
        return ERASED


def forget_key(db: Session, keys: KeyStore, kind: SubjectKind, subject_id: int) -> bool:
    """Delete the subject's sealing key (inside the caller's transaction)."""
    row = db.get(SubjectKey, subject_key(keys, kind, subject_id))
    if row is None:
        return False
    db.delete(row)
    db.flush()
    return True


# -- rectification --------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    field: str
    before: Any
    after: Any


def editable_fields(row: Any) -> list[str]:
    return [c.name for c in type(row).__table__.columns if c.name not in FIXED]


def editable_columns(kind: SubjectKind | str) -> list[str]:
    """The profile fields a rectification may correct, for a kind of person."""
    from models.business import Customer, Employee

    model = Employee if SubjectKind(kind) is SubjectKind.EMPLOYEE else Customer
    return [c.name for c in model.__table__.columns if c.name not in FIXED]


def _convert(row: Any, name: str, raw: str) -> Any:
    column = type(row).__table__.columns[name]
    text = raw.strip()
    if text == "" and column.nullable:
        return None
    if isinstance(column.type, Date):
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise ValidationError(name, f"{raw!r} is not a date (YYYY-MM-DD)") from None
    length = getattr(column.type, "length", None)
    if length and len(text) > length:
        raise ValidationError(name, f"at most {length} characters")
    if not text and not column.nullable:
        raise ValidationError(name, "cannot be empty")
    return text


def rectify(db: Session, actor: Principal, keys: KeyStore, kind: SubjectKind, row: Any,
            values: dict[str, str], *, request_id: int) -> list[Change]:
    """Apply `values` to the subject's profile row; audit each field's before and after,
    sealed (inside the caller's write transaction). ValidationError names a bad field."""
    if row.anonymized_at is not None:
        raise Conflict(f"{kind.value} {row.id} was anonymized: there is nothing personal "
                       "left to correct")
    allowed = editable_fields(row)
    changes: list[Change] = []
    for name, raw in values.items():
        if name not in allowed:
            raise ValidationError(name, f"cannot be corrected this way; fields: "
                                        f"{', '.join(allowed)}")
        after = _convert(row, name, raw)
        before = getattr(row, name)
        if before != after:
            changes.append(Change(name, before, after))
    if not changes:
        raise ValidationError("changes", "nothing would change: every value is already so")
    for change in changes:
        setattr(row, change.field, change.after)
    if hasattr(row, "updated_at"):
        row.updated_at = clock.now()
    db.add(row)
    audit.record(db, actor, "requests.rectify", target=f"{kind.value}:{row.id}", details={
        "request": request_id, "sealed_with": "the subject's own key (erasure destroys it)",
        "changes": [{"field": c.field, "before": seal(db, keys, kind, row.id, c.before),
                     "after": seal(db, keys, kind, row.id, c.after)} for c in changes]})
    return changes


def set_restricted(db: Session, actor: Principal, kind: SubjectKind, row: Any, value: bool, *,
                   request_id: int, why: str) -> bool:
    """Mark (or unmark) the subject's processing as restricted; True when it changed.
    Inside the caller's write transaction."""
    if bool(row.restricted) == value:
        return False
    row.restricted = value
    if hasattr(row, "updated_at"):
        row.updated_at = clock.now()
    db.add(row)
    audit.record(db, actor, "requests.restrict" if value else "requests.unrestrict",
                 target=f"{kind.value}:{row.id}", details={"request": request_id, "why": why})
    return True


# -- reading rectifications back ----------------------------------------------------------


@dataclass(frozen=True)
class RecordedChange:
    at: Any
    by: str
    field: str
    before: Any
    after: Any
    readable: bool  # False: sealed and the key is gone (erased), or masked


def recorded_changes(db: Session, actor: Principal, keys: KeyStore, kind: SubjectKind,
                     subject_id: int, request_id: int) -> list[RecordedChange]:
    """The before/after values a rectification wrote to the audit trail, unsealed for
    holders of pii.read (masked otherwise; '[erased]' once the person was erased). The
    read is audited. Call with requests.manage checked."""
    from sqlmodel import col, select

    from console.masking import mask_value, sees_pii
    from models.audit import AuditEvent

    events = db.exec(select(AuditEvent).where(AuditEvent.action == "requests.rectify")
                     .where(AuditEvent.target == f"{kind.value}:{subject_id}")
                     .order_by(col(AuditEvent.id))).all()
    clear = sees_pii(actor)
    out: list[RecordedChange] = []
    for event in events:
        details = json.loads(event.details)
        if details.get("request") != request_id:
            continue
        for change in details.get("changes", []):
            values = [unseal(db, keys, kind, subject_id, change.get(k))
                      for k in ("before", "after")]
            readable = all(v is not ERASED for v in values)
            shown = ["[erased]" if v is ERASED else (v if clear else mask_value(v))
                     for v in values]
            out.append(RecordedChange(event.at, event.actor, change.get("field", "?"),
                                      shown[0], shown[1], readable and clear))
    if out:
        audit.record_alone(db, actor, "requests.read_changes", target=f"{kind.value}:{subject_id}",
                           details={"request": request_id, "unmasked": clear})
    return out
