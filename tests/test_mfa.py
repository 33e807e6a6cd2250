"""TOTP: RFC 6238 codes, ±1 step drift, no replay, separate lockout."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from console import mfa
from console.db import writing
from models.identity import User
from tests.conftest import ADMIN


def enrol(db, runtime) -> tuple[User, bytes]:
    secret = mfa.new_secret()
    with writing(db):
        user = db.exec(select(User).where(User.username == ADMIN)).one()
        mfa.store_secret(runtime.keys, user, secret)
        user.totp_confirmed = True
        db.add(user)
    return user, secret


def test_rfc6238_reference_vector() -> None:
    from datetime import UTC, datetime

    secret = b"12345678901234567890"
    assert mfa.code_at(secret, datetime.fromtimestamp(59, UTC)) == "287082"
    assert mfa.code_at(secret, datetime.fromtimestamp(1111111109, UTC)) == "081804"


def test_secret_is_encrypted_at_rest(db, runtime) -> None:
    user, secret = enrol(db, runtime)
    assert secret not in (user.totp_secret or b"")
    assert mfa.load_secret(runtime.keys, user) == secret
    assert mfa.provisioning_uri(secret, ADMIN).startswith("otpauth://totp/")


def test_drift_of_one_step_and_no_replay(db, runtime, clock) -> None:
    user, secret = enrol(db, runtime)
    sec = runtime.settings.security
    previous = mfa.code_at(secret, clock.now() - timedelta(seconds=30))
    assert mfa.verify_code(db, sec, runtime.keys, user.id, previous)
    assert not mfa.verify_code(db, sec, runtime.keys, user.id, previous)  # replay
    clock.advance(seconds=30)
    too_old = mfa.code_at(secret, clock.now() - timedelta(seconds=90))
    assert not mfa.verify_code(db, sec, runtime.keys, user.id, too_old)
    ahead = mfa.code_at(secret, clock.now() + timedelta(seconds=30))
    assert mfa.verify_code(db, sec, runtime.keys, user.id, ahead)


def test_totp_failures_lock_separately(db, runtime, clock) -> None:
    user, secret = enrol(db, runtime)
    sec = runtime.settings.security
    for _ in range(sec.lockout_threshold):
        assert not mfa.verify_code(db, sec, runtime.keys, user.id, "000000")
    db.refresh(user)
    assert user.failed_password_count == 0
    assert user.locked_until is not None
    assert not mfa.verify_code(db, sec, runtime.keys, user.id, mfa.code_at(secret, clock.now()))


def test_qr_lines_draw_exactly_the_qr_matrix() -> None:
    import segno

    uri = mfa.provisioning_uri(b"12345678901234567890", "fp-jane")
    assert uri == ("otpauth://totp/FlowPro:fp-jane?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
                   "&issuer=FlowPro")
    lines = mfa.qr_lines(uri)
    assert len(lines) <= 21 and all(len(line) <= 41 for line in lines)  # fits 80x24
    top = {" ": (0, 0), "\u2580": (1, 0), "\u2584": (0, 1), "\u2588": (1, 1)}
    drawn = []
    for line in lines:
        drawn.append([top[ch][0] for ch in line])
        drawn.append([top[ch][1] for ch in line])
    expected = [[int(bool(m)) for m in row] for row in
                segno.make(uri, error="L", boost_error=False).matrix_iter(scale=1, border=2)]
    assert drawn[:len(expected)] == expected
    assert all(not any(row) for row in drawn[len(expected):])  # an odd row count's padding
