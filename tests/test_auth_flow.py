"""Logging in: lockout and its expiry, the TOTP step, first-login enrolment, rehash,
temporary passwords, and the idle lock's unlock — each audited, on both backends."""

from __future__ import annotations

from datetime import timedelta

import pytest

from console import account, mfa
from console.auth import (
    LoginStep,
    begin_login,
    finish_login,
    start_enrolment,
)
from console.errors import AuthenticationFailed, SessionEnded
from console.permissions import Permission
from console.roles import update_role
from console.users import AccountKind
from tests.conftest import ADMIN, ADMIN_PASSWORD
from tests.idhelp import (
    PASSWORD,
    add_user,
    details,
    enrol,
    events,
    last_event,
    login,
    user_row,
)

GENERIC = "Login failed: wrong username or password."


def test_lockout_same_message_and_expiry(runtime, db, clock) -> None:
    sec = runtime.settings.security
    add_user(runtime, db, "bob", "auditor")
    for _ in range(sec.lockout_threshold):
        with pytest.raises(AuthenticationFailed) as err:
            login(runtime, db, "bob", "wrong-password-123")
        assert str(err.value) == GENERIC
    lock = last_event(db, "auth.lock", target="user:bob")
    assert lock.actor == "anonymous:bob" and details(lock)["factor"] == "password"
    with pytest.raises(AuthenticationFailed) as err:
        login(runtime, db, "bob")  # the right password, but locked: the same answer
    assert str(err.value) == GENERIC
    assert details(last_event(db, "auth.login"))["reason"] == "locked"
    # Attempts while locked do not extend the lock.
    clock.advance(minutes=sec.lockout_minutes - 1)
    with pytest.raises(AuthenticationFailed):
        login(runtime, db, "bob", "wrong-password-123")
    clock.advance(minutes=1, seconds=1)
    # Expired: the count starts afresh, so one more mistake does not lock again.
    with pytest.raises(AuthenticationFailed):
        login(runtime, db, "bob", "wrong-password-123")
    login(runtime, db, "bob").require(Permission.AUDIT_READ)
    assert len(events(db, "auth.lock", target="user:bob")) == 1


def test_failures_outside_the_window_do_not_add_up(runtime, db, clock) -> None:
    sec = runtime.settings.security
    add_user(runtime, db, "bob")
    for _ in range(sec.lockout_threshold - 1):
        with pytest.raises(AuthenticationFailed):
            login(runtime, db, "bob", "wrong-password-123")
    clock.advance(minutes=sec.lockout_window_minutes + 1)
    with pytest.raises(AuthenticationFailed):
        login(runtime, db, "bob", "wrong-password-123")
    login(runtime, db, "bob")


def test_totp_step_with_drift_and_no_replay(runtime, db, clock) -> None:
    sec = runtime.settings.security
    add_user(runtime, db, "bob", "auditor")
    secret = enrol(runtime, db, "bob")
    pending = begin_login(runtime.database, db, sec, "bob", PASSWORD)
    assert pending.step is LoginStep.TOTP
    assert details(last_event(db, "auth.password"))["next"] == "totp"
    with pytest.raises(AuthenticationFailed, match="wrong or expired code"):
        finish_login(runtime.database, db, sec, runtime.keys, pending, code="000000")
    previous_step = mfa.code_at(secret, clock.now() - timedelta(seconds=30))
    bob = finish_login(runtime.database, db, sec, runtime.keys, pending, code=previous_step)
    bob.require(Permission.AUDIT_READ)
    assert details(last_event(db, "auth.login", target="user:bob"))["mfa"] == "totp"
    with pytest.raises(AuthenticationFailed, match="timed out"):  # one use per login
        finish_login(runtime.database, db, sec, runtime.keys, pending, code=previous_step)
    with pytest.raises(AuthenticationFailed, match="wrong or expired code"):  # replay
        login(runtime, db, "bob", code=previous_step)
    with pytest.raises(AuthenticationFailed, match="needs a TOTP code"):
        login(runtime, db, "bob")
    too_old = mfa.code_at(secret, clock.now() - timedelta(seconds=90))
    clock.advance(seconds=30)
    with pytest.raises(AuthenticationFailed):
        login(runtime, db, "bob", code=too_old)
    login(runtime, db, "bob", code=mfa.code_at(secret, clock.now() + timedelta(seconds=30)))


def test_totp_failures_lock_separately_from_passwords(runtime, db, clock) -> None:
    sec = runtime.settings.security
    add_user(runtime, db, "bob")
    secret = enrol(runtime, db, "bob")
    for _ in range(sec.lockout_threshold - 1):
        with pytest.raises(AuthenticationFailed):
            login(runtime, db, "bob", "wrong-password-123")
    for _ in range(sec.lockout_threshold - 1):
        with pytest.raises(AuthenticationFailed, match="code"):
            login(runtime, db, "bob", code="123456")
    # Neither count reached the threshold, although together they passed it.
    row = user_row(db, "bob")
    assert row.locked_until is None and row.failed_totp_count == sec.lockout_threshold - 1
    with pytest.raises(AuthenticationFailed, match="code"):
        login(runtime, db, "bob", code="123456")
    assert details(last_event(db, "auth.lock", target="user:bob"))["factor"] == "totp"
    with pytest.raises(AuthenticationFailed) as err:
        login(runtime, db, "bob", code=mfa.code_at(secret, clock.now()))
    assert str(err.value) == GENERIC
    clock.advance(minutes=sec.lockout_minutes + 1)
    login(runtime, db, "bob", code=mfa.code_at(secret, clock.now()))


@pytest.mark.parametrize("how", ["vendor", "role flag", "config"])
def test_required_totp_is_enrolled_at_first_login(runtime, db, clock, how: str) -> None:
    sec = runtime.settings.security
    if how == "vendor":
        add_user(runtime, db, "fp-jane", "support", kind=AccountKind.VENDOR)
    else:
        add_user(runtime, db, "fp-jane", "auditor")
    if how == "role flag":
        from console.principal import os_principal

        update_role(db, os_principal("root"), "auditor", requires_mfa=True)
    if how == "config":
        sec = sec.model_copy(update={"mfa_required_roles": ("auditor",)})
    pending = begin_login(runtime.database, db, sec, "fp-jane", PASSWORD)
    assert pending.step is LoginStep.ENROL
    with pytest.raises(AuthenticationFailed, match="set up TOTP"):
        login(runtime, db, "fp-jane", security=sec)
    enrolment = start_enrolment(db, runtime.keys, pending)
    assert enrolment.uri.startswith("otpauth://totp/FlowPro:fp-jane?secret=")
    assert enrolment.secret in enrolment.uri
    assert enrolment.secret.encode() not in (user_row(db, "fp-jane").totp_secret or b"")
    with pytest.raises(AuthenticationFailed, match="code"):
        finish_login(runtime.database, db, sec, runtime.keys, pending, code="000000")
    import base64

    raw = base64.b32decode(enrolment.secret + "=" * (-len(enrolment.secret) % 8))
    finish_login(runtime.database, db, sec, runtime.keys, pending,
                 code=mfa.code_at(raw, clock.now()))
    assert user_row(db, "fp-jane").totp_confirmed
    stages = [details(e)["stage"] for e in events(db, "auth.totp_enrol", target="user:fp-jane")]
    assert stages == ["started", "confirmed"]
    assert enrolment.secret not in "".join(e.details for e in events(db, "auth.totp_enrol"))
    clock.advance(seconds=30)
    assert begin_login(runtime.database, db, sec, "fp-jane", PASSWORD).step is LoginStep.TOTP


def test_pending_login_times_out(runtime, db, clock) -> None:
    sec = runtime.settings.security
    add_user(runtime, db, "bob")
    secret = enrol(runtime, db, "bob")
    pending = begin_login(runtime.database, db, sec, "bob", PASSWORD)
    clock.advance(minutes=6)
    with pytest.raises(AuthenticationFailed, match="timed out"):
        finish_login(runtime.database, db, sec, runtime.keys, pending,
                     code=mfa.code_at(secret, clock.now()))


def test_disabled_between_password_and_code(runtime, db, clock, root) -> None:
    from console.users import disable_user

    sec = runtime.settings.security
    add_user(runtime, db, "bob")
    secret = enrol(runtime, db, "bob")
    pending = begin_login(runtime.database, db, sec, "bob", PASSWORD)
    disable_user(db, root, "bob", reason="left meanwhile")
    with pytest.raises(AuthenticationFailed):
        finish_login(runtime.database, db, sec, runtime.keys, pending,
                     code=mfa.code_at(secret, clock.now()))
    assert details(last_event(db, "auth.login"))["reason"] == "disabled"


def test_rehash_when_the_parameters_change(runtime, db) -> None:
    sec = runtime.settings.security
    before = user_row(db, ADMIN).password_hash
    assert "t=1" in before
    stronger = sec.model_copy(update={"argon2_time_cost": 2})
    login(runtime, db, ADMIN, ADMIN_PASSWORD, security=stronger)
    after = user_row(db, ADMIN).password_hash
    assert after != before and "t=2" in after
    login(runtime, db, ADMIN, ADMIN_PASSWORD, security=stronger)
    assert user_row(db, ADMIN).password_hash == after  # no needless rehash
    login(runtime, db, ADMIN, ADMIN_PASSWORD)  # still verifies with the old settings


def test_temporary_password_login_is_marked_and_powerless(runtime, db) -> None:
    add_user(runtime, db, "bob", "auditor", must_change=True)
    pending = begin_login(runtime.database, db, runtime.settings.security, "bob", PASSWORD)
    assert pending.must_change_password
    bob = finish_login(runtime.database, db, runtime.settings.security, runtime.keys, pending)
    assert bob.effective_permissions() == frozenset()
    assert details(last_event(db, "auth.login"))["must_change"] is True


def test_idle_lock_and_unlock(runtime, db, clock) -> None:
    sec = runtime.settings.security
    add_user(runtime, db, "bob", "auditor")
    secret = enrol(runtime, db, "bob")
    bob = login(runtime, db, "bob", code=mfa.code_at(secret, clock.now()))
    account.record_idle_lock(db, bob, idle_minutes=10)
    lock = last_event(db, "auth.idle_lock")
    assert lock.actor == "bob" and lock.session_id == bob.session_id
    assert account.uses_totp(db, bob)
    with pytest.raises(AuthenticationFailed, match="Wrong password"):
        account.unlock_session(db, bob, security=sec, keys=runtime.keys, password="nope-nope")
    clock.advance(seconds=30)
    with pytest.raises(AuthenticationFailed, match="code"):
        account.unlock_session(db, bob, security=sec, keys=runtime.keys, password=PASSWORD,
                               code="000000")
    account.unlock_session(db, bob, security=sec, keys=runtime.keys, password=PASSWORD,
                           code=mfa.code_at(secret, clock.now()))
    outcomes = [e.outcome for e in events(db, "auth.unlock", target="user:bob")]
    assert outcomes == ["denied", "denied", "ok"]
    bob.require(Permission.AUDIT_READ)


def test_failed_unlocks_lock_the_account_and_end_the_session(runtime, db) -> None:
    sec = runtime.settings.security
    add_user(runtime, db, "bob", "auditor")
    bob = login(runtime, db, "bob")
    for _ in range(sec.lockout_threshold - 1):
        with pytest.raises(AuthenticationFailed):
            account.unlock_session(db, bob, security=sec, keys=runtime.keys,
                                   password="wrong-password-1")
    with pytest.raises(SessionEnded, match="locked"):
        account.unlock_session(db, bob, security=sec, keys=runtime.keys,
                               password="wrong-password-1")
    with pytest.raises(SessionEnded):
        bob.require(Permission.AUDIT_READ)


def test_voluntary_totp_enrolment(runtime, db, clock) -> None:
    sec = runtime.settings.security
    add_user(runtime, db, "bob")
    bob = login(runtime, db, "bob")
    enrolment = account.enrol_totp(db, bob, keys=runtime.keys)
    import base64

    raw = base64.b32decode(enrolment.secret + "=" * (-len(enrolment.secret) % 8))
    from console.errors import ValidationError

    with pytest.raises(ValidationError, match="code"):
        account.confirm_totp(db, bob, security=sec, keys=runtime.keys, code="000000")
    account.confirm_totp(db, bob, security=sec, keys=runtime.keys,
                         code=mfa.code_at(raw, clock.now()))
    clock.advance(seconds=30)
    assert begin_login(runtime.database, db, sec, "bob", PASSWORD).step is LoginStep.TOTP


def test_parallel_guesses_are_all_counted(runtime, db, monkeypatch) -> None:
    """Failures guessed in parallel must not overwrite each other's count (row lock)."""
    import threading

    from console import auth

    add_user(runtime, db, "bob")
    barrier = threading.Barrier(2)
    original = auth.is_locked

    def slow(user, now):
        try:
            barrier.wait(timeout=1.5)
        except threading.BrokenBarrierError:
            pass
        return original(user, now)

    monkeypatch.setattr(auth, "is_locked", slow)

    def guess() -> None:
        with runtime.database.scope() as session:
            try:
                login(runtime, session, "bob", "wrong-password-123")
            except AuthenticationFailed:
                pass

    threads = [threading.Thread(target=guess) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    monkeypatch.setattr(auth, "is_locked", original)
    assert user_row(db, "bob").failed_password_count == 2


def test_a_hand_made_pending_login_is_refused(runtime, db, clock) -> None:
    from console.auth import PendingLogin

    user = user_row(db, ADMIN)
    forged = PendingLogin(user_id=user.id, username=ADMIN, step=LoginStep.DONE,
                          must_change_password=False, channel="tui", source=None,
                          expires_at=clock.now() + timedelta(minutes=5))
    with pytest.raises(AuthenticationFailed, match="timed out"):
        finish_login(runtime.database, db, runtime.settings.security, runtime.keys, forged)
    assert events(db, "auth.login") == []
