"""SSH public keys of FlowPro (vendor) accounts: the first factor at the SSH gate.

Keys are validated with `cryptography` (ssh-ed25519, ECDSA on NIST curves, RSA of at least
3072 bits) and identified by their SHA-256 fingerprint as `ssh-keygen -lf` prints it. A
key belongs to one account only: sshd would otherwise pick whichever line came first.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from console import audit, clock
from console.contract import service
from console.db import writing
from console.errors import Conflict, NotFound, ValidationError
from console.permissions import Permission
from console.principal import Principal
from console.users import get_user
from models.identity import User
from models.support import SshKey

ALGORITHMS = ("ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
              "ecdsa-sha2-nistp521", "ssh-rsa")
RSA_MIN_BITS = 3072


@dataclass(frozen=True)
class ParsedKey:
    algorithm: str
    blob: str  # base64, as in the .pub file
    comment: str
    fingerprint: str
    bits: int

    @property
    def line(self) -> str:
        return f"{self.algorithm} {self.blob}"


def fingerprint_of(blob: bytes) -> str:
    """SHA256:<base64 without padding> of the key blob, like `ssh-keygen -lf`."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def parse_public_key(text: str) -> ParsedKey:
    """One OpenSSH public key line (a .pub file). Raises ValidationError saying what is
    wrong: several keys, options, a weak or unknown type, a damaged key."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from cryptography.hazmat.primitives.serialization import load_ssh_public_key

    lines = [ln.strip() for ln in (text or "").splitlines()
             if ln.strip() and not ln.strip().startswith("#")]
    if len(lines) != 1:
        raise ValidationError("key", "expected exactly one public key line (the contents of a "
                              f".pub file), found {len(lines)}")
    parts = lines[0].split(None, 2)
    algorithm = parts[0]
    if algorithm not in ALGORITHMS:
        if algorithm == "ssh-dss":
            why = "DSA keys are too weak"
        elif "=" in algorithm or "," in algorithm:
            why = "authorized_keys options are not accepted here: give the bare public key"
        else:
            why = f"key type {algorithm[:40]!r} is not accepted"
        raise ValidationError("key", f"{why}; use ssh-ed25519, ecdsa-sha2-nistp256/384/521 "
                              f"or ssh-rsa of at least {RSA_MIN_BITS} bits")
    if len(parts) < 2:
        raise ValidationError("key", "the key data after the key type is missing")
    blob_text = parts[1]
    try:
        blob = base64.b64decode(blob_text, validate=True)
        key = load_ssh_public_key(f"{algorithm} {blob_text}".encode())
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ValidationError("key", f"not a valid {algorithm} public key ({exc})") from None
    if isinstance(key, rsa.RSAPublicKey):
        bits = key.key_size
        if bits < RSA_MIN_BITS:
            raise ValidationError("key", f"RSA keys need at least {RSA_MIN_BITS} bits; this one "
                                  f"has {bits} (better: ssh-keygen -t ed25519)")
    elif isinstance(key, ec.EllipticCurvePublicKey):
        bits = key.curve.key_size
    elif isinstance(key, ed25519.Ed25519PublicKey):
        bits = 256
    else:  # pragma: no cover - load_ssh_public_key returns one of the above for these types
        raise ValidationError("key", f"unsupported key type {algorithm}")
    comment = "".join(c for c in (parts[2] if len(parts) > 2 else "") if c.isprintable())
    return ParsedKey(algorithm, blob_text, comment.strip()[:255], fingerprint_of(blob), bits)


@dataclass(frozen=True)
class KeyView:
    username: str
    algorithm: str
    bits: int
    fingerprint: str
    comment: str
    added_at: datetime
    added_by: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@service("users.ssh_key.add", audit_errors=True)
def add_key(db: Session, actor: Principal, username: str, key_text: str) -> KeyView:
    """Add a public key to a vendor account. Needs users.write. Raises ValidationError
    (bad key, not a vendor account), Conflict (the key is registered already), NotFound."""
    actor.require(Permission.USERS_WRITE)
    parsed = parse_public_key(key_text)
    with writing(db):
        user = get_user(db, username)
        if user.kind != "vendor":
            raise ValidationError("user", f"{username} is not a FlowPro (vendor) account; SSH "
                                  "keys here only open support sessions")
        owner = db.exec(select(User.username).join(SshKey, col(SshKey.user_id) == col(User.id))
                        .where(SshKey.fingerprint == parsed.fingerprint)).first()
        if owner is not None:
            raise Conflict(f"the key {parsed.fingerprint} is registered already (for {owner})")
        key = SshKey(user_id=user.id, algorithm=parsed.algorithm, public_key=parsed.line,
                     comment=parsed.comment, fingerprint=parsed.fingerprint, bits=parsed.bits,
                     added_at=clock.now(), added_by=actor.name)
        db.add(key)
        audit.record(db, actor, "users.ssh_key.add", target=f"user:{username}",
                     details={"fingerprint": parsed.fingerprint, "type": parsed.algorithm,
                              "bits": parsed.bits, "comment": parsed.comment})
    return _view(username, key)


def _view(username: str, key: SshKey) -> KeyView:
    return KeyView(username, key.algorithm, key.bits, key.fingerprint, key.comment,
                   key.added_at, key.added_by)


@service("users.ssh_key.list")
def list_keys(db: Session, actor: Principal, username: str | None = None) -> list[KeyView]:
    """SSH keys of one account or of all. Needs users.read. Raises NotFound."""
    actor.require(Permission.USERS_READ)
    query = select(User.username, SshKey).join(SshKey, col(SshKey.user_id) == col(User.id)) \
        .order_by(col(User.username), col(SshKey.id))
    if username is not None:
        query = query.where(User.id == get_user(db, username).id)
    return [_view(name, key) for name, key in db.exec(query).all()]


@service("users.ssh_key.remove", audit_errors=True)
def remove_key(db: Session, actor: Principal, username: str, fingerprint: str) -> KeyView:
    """Remove one key (by fingerprint, with or without the SHA256: prefix) from an
    account; from then on the gate no longer offers it. Needs users.write. Raises
    NotFound."""
    actor.require(Permission.USERS_WRITE)
    wanted = fingerprint.strip()
    if not wanted.startswith("SHA256:"):
        wanted = f"SHA256:{wanted}"
    with writing(db):
        user = get_user(db, username)
        key = db.exec(select(SshKey).where(SshKey.user_id == user.id)
                      .where(SshKey.fingerprint == wanted)).first()
        if key is None:
            raise NotFound(f"{username} has no key {wanted}; list the account's keys to see "
                           "their fingerprints")
        view = _view(username, key)
        db.delete(key)
        audit.record(db, actor, "users.ssh_key.remove", target=f"user:{username}",
                     details={"fingerprint": key.fingerprint, "type": key.algorithm})
    return view
