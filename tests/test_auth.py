"""Logging in and out: one answer for every failure, every attempt audited."""

from __future__ import annotations

import time

import pytest
from sqlmodel import select

from console.auth import active_sessions, authenticate, end_session
from console.db import writing
from console.errors import AuthenticationFailed, SessionEnded
from console.permissions import Permission
from models.audit import AuditEvent
from models.identity import User
from tests.conftest import ADMIN, ADMIN_PASSWORD


def login(runtime, db, username: str, password: str):
    return authenticate(runtime.database, db, runtime.settings.security, username, password,
                        source="203.0.113.9:50000")


def test_login_opens_a_session_and_is_audited(runtime, db) -> None:
    principal = login(runtime, db, ADMIN, ADMIN_PASSWORD)
    assert Permission.USERS_WRITE in principal.effective_permissions()
    assert principal.session_id in {s.id for s in active_sessions(db)}
    event = db.exec(select(AuditEvent).where(AuditEvent.action == "auth.login")
                    .order_by(AuditEvent.id.desc())).first()
    assert event.outcome == "ok" and event.actor == ADMIN
    assert event.source == "203.0.113.9:50000"
    end_session(db, principal)
    assert principal.session_id not in {s.id for s in active_sessions(db)}
    with pytest.raises(SessionEnded):
        principal.require(Permission.USERS_READ)


def test_unknown_user_and_wrong_password_look_the_same(runtime, db) -> None:
    messages, durations = [], []
    for username, password in ((ADMIN, "wrong-password-123"), ("ghost", "wrong-password-123")):
        start = time.perf_counter()
        with pytest.raises(AuthenticationFailed) as err:
            login(runtime, db, username, password)
        durations.append(time.perf_counter() - start)
        messages.append(str(err.value))
    assert messages[0] == messages[1]
    denied = db.exec(select(AuditEvent).where(AuditEvent.action == "auth.login",
                                              AuditEvent.outcome == "denied")).all()
    assert len(denied) == 2
    # Both paths verify an argon2 hash; neither answers in a fraction of the other's time.
    assert min(durations) > max(durations) / 5


def test_disabled_user_session_ends_at_next_action(runtime, db) -> None:
    principal = login(runtime, db, ADMIN, ADMIN_PASSWORD)
    with writing(db):
        user = db.exec(select(User).where(User.username == ADMIN)).one()
        user.disabled = True
        db.add(user)
    with pytest.raises(SessionEnded, match="disabled"):
        principal.require(Permission.USERS_READ)
    with pytest.raises(AuthenticationFailed):
        login(runtime, db, ADMIN, ADMIN_PASSWORD)
