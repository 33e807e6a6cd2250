"""TOTP (RFC 6238): SHA1, 6 digits, 30 s steps, ±1 step of drift, never the same code twice.

Secrets are stored encrypted (AES-GCM, `KeyStore.encrypt_secret`) and bound to the account
name, so a secret copied onto another row does not decrypt.
"""

from __future__ import annotations

import base64
import hmac
import os
from collections.abc import Iterable
from datetime import datetime, timedelta
from urllib.parse import quote

from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor.totp import TOTP
from sqlmodel import Session

from console import audit, clock
from console.config import SecuritySettings
from console.db import writing
from console.keys import KeyStore
from console.principal import Principal, PrincipalKind
from models.identity import Role, User

# Short on purpose: the whole otpauth URI must fit a QR code that fits an 80x24 terminal.
ISSUER = "FlowPro"
DIGITS = 6
STEP_SECONDS = 30
DRIFT_STEPS = 1


def new_secret() -> bytes:
    return os.urandom(20)


def _context(user: User) -> str:
    return f"totp:{user.username}"


def _totp(secret: bytes) -> TOTP:
    # Codes come from the stored secret of a known user; SHA1 is what every
    # authenticator app implements for RFC 6238.
    return TOTP(secret, DIGITS, SHA1(), STEP_SECONDS, enforce_key_length=False)  # noqa: S303


def secret_base32(secret: bytes) -> str:
    return base64.b32encode(secret).decode().rstrip("=")


def provisioning_uri(secret: bytes, username: str) -> str:
    """The `otpauth://` URI for authenticator apps. SHA1, 6 digits and 30 s are the
    defaults every app assumes, so they are left out to keep the QR code small."""
    label = quote(f"{ISSUER}:{username}", safe=":@")
    return f"otpauth://totp/{label}?secret={secret_base32(secret)}&issuer={quote(ISSUER)}"


def qr_lines(data: str) -> list[str]:
    """`data` as a QR code in text: each character is two modules stacked (half blocks),
    dark modules drawn in the foreground colour. Show it dark-on-light."""
    import segno  # imported here: only enrolment needs it

    code = segno.make(data, error="L", boost_error=False, micro=False)
    rows = [list(row) for row in code.matrix_iter(scale=1, border=2)]
    if len(rows) % 2:
        rows.append([0] * len(rows[0]))
    glyphs = {(0, 0): " ", (1, 0): "\u2580", (0, 1): "\u2584", (1, 1): "\u2588"}
    return ["".join(glyphs[(bool(top), bool(bottom))] for top, bottom in zip(upper, lower,
                                                                             strict=True))
            for upper, lower in zip(rows[0::2], rows[1::2], strict=True)]


def grouped(secret_b32: str) -> str:
    """'ABCD EFGH ...': the secret in groups of four, for typing it in by hand."""
    return " ".join(secret_b32[i:i + 4] for i in range(0, len(secret_b32), 4))


def mfa_required_for(user: User, roles: Iterable[Role], security: SecuritySettings) -> bool:
    """TOTP is required for vendor accounts, for members of a role marked requires_mfa, and
    for members of a role listed in [security] mfa_required_roles."""
    if user.kind == "vendor":
        return True
    return any(r.requires_mfa or r.name in security.mfa_required_roles for r in roles)


def store_secret(keys: KeyStore, user: User, secret: bytes) -> None:
    """Put a new, unconfirmed secret on `user` (the caller commits and audits)."""
    user.totp_secret = keys.encrypt_secret(secret, context=_context(user))
    user.totp_confirmed = False
    user.totp_last_step = None


def load_secret(keys: KeyStore, user: User) -> bytes | None:
    if user.totp_secret is None:
        return None
    return keys.decrypt_secret(user.totp_secret, context=_context(user))


def code_at(secret: bytes, when: datetime) -> str:
    return _totp(secret).generate(int(when.timestamp())).decode()


def matching_step(secret: bytes, code: str, *, now: datetime, last_step: int | None) -> int | None:
    """The time step `code` belongs to (within ±1 step of now), or None. A step at or
    before `last_step` never matches again: a code works once."""
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not code.isdigit():
        return None
    current = int(now.timestamp()) // STEP_SECONDS
    found: int | None = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        expected = _totp(secret).generate(step * STEP_SECONDS).decode()
        # Compare every candidate so timing does not reveal which step matched.
        if hmac.compare_digest(expected, code) and (last_step is None or step > last_step):
            found = step
    return found


def verify_code(db: Session, security: SecuritySettings, keys: KeyStore, user_id: int,
                code: str, *, source: str | None = None) -> bool:
    """Check a TOTP code for a user and record the outcome.

    Success remembers the step (no replay) and clears TOTP failures; failure counts toward
    the TOTP lockout (separate from password failures). Audited either way.
    """
    now = clock.now()
    with writing(db):
        user = db.get(User, user_id, populate_existing=True, with_for_update=True)
        if user is None:
            return False
        secret = load_secret(keys, user)
        locked = user.locked_until is not None and user.locked_until > now
        step = None if secret is None or locked else matching_step(
            secret, code, now=now, last_step=user.totp_last_step)
        actor = Principal(name=user.username, kind=PrincipalKind.USER, user_id=user.id,
                          account_kind=user.kind, source=source)
        if step is not None:
            user.totp_last_step = step
            user.failed_totp_count, user.failed_totp_since = 0, None
            db.add(user)
            audit.record(db, actor, "auth.totp", target=f"user:{user.username}")
            return True
        details: dict[str, object] = {"reason": "locked" if locked else "wrong code"}
        # While locked nothing is counted: the lock is not extended, and the count starts
        # afresh when it expires.
        if not locked:
            window = timedelta(minutes=security.lockout_window_minutes)
            if user.failed_totp_since is None or now - user.failed_totp_since > window:
                user.failed_totp_since, user.failed_totp_count = now, 0
            user.failed_totp_count += 1
            if user.failed_totp_count >= security.lockout_threshold:
                user.locked_until = now + timedelta(minutes=security.lockout_minutes)
                details["locked_until"] = user.locked_until.isoformat()
                audit.record(db, actor, "auth.lock", target=f"user:{user.username}",
                             details={"until": user.locked_until.isoformat(),
                                      "factor": "totp", "failures": user.failed_totp_count})
                user.failed_totp_count, user.failed_totp_since = 0, None
        db.add(user)
        audit.record(db, actor, "auth.totp", target=f"user:{user.username}",
                     outcome=audit.Outcome.DENIED, details=details)
        return False
