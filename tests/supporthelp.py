"""Shared set-up for the support access tests: engineers, staff, support sessions."""

from __future__ import annotations

import pytest
from sqlmodel import select

from console import clock, mfa
from console.auth import authenticate
from console.db import writing
from console.principal import Principal, system_principal
from console.support_sessions import admit, open_session
from console.users import AccountKind, create_user
from models.identity import User
from tests.conftest import ADMIN_PASSWORD

TOTP_SECRET = b"flowpro-test-secret!"
# CLI output and exit codes are the same on both backends (the services under them run on
# both in the service tests); a CLI start costs ~1.5 s, so these run on SQLite only.
CLI_ONE_BACKEND = pytest.mark.parametrize("backend", ["sqlite"])
GOOD = {"reason": "Payroll export job fails", "ticket": "FP-1234"}


def add_user(runtime, db, name: str, *, kind: AccountKind = AccountKind.STAFF,
             roles: tuple[str, ...] = ("admin",), totp: bool = False) -> User:
    user = create_user(db, system_principal("test"), name, security=runtime.settings.security,
                       password=ADMIN_PASSWORD, kind=kind, roles=roles)
    if totp:
        with writing(db):
            user = db.exec(select(User).where(User.username == name)).one()
            mfa.store_secret(runtime.keys, user, TOTP_SECRET)
            user.totp_confirmed = True
            db.add(user)
    return user


def add_engineer(runtime, db, name: str = "fp-jane", *, roles: tuple[str, ...] = ("support",),
                 totp: bool = True) -> User:
    return add_user(runtime, db, name, kind=AccountKind.VENDOR, roles=roles, totp=totp)


def totp_now() -> str:
    return mfa.code_at(TOTP_SECRET, clock.now())


def forget_used_code(db, name: str) -> None:
    """Let a test log the same account in again within one 30 s step (a code works once)."""
    with writing(db):
        user = db.exec(select(User).where(User.username == name)).one()
        user.totp_last_step = None
        db.add(user)


def log_in(runtime, db, name: str, *, channel: str = "cli") -> Principal:
    user = db.exec(select(User).where(User.username == name)).one()
    code = totp_now() if user.totp_confirmed else None
    principal = authenticate(runtime.database, db, runtime.settings.security, name,
                             ADMIN_PASSWORD, channel=channel, keys=runtime.keys,
                             totp_code=code)
    if code:
        forget_used_code(db, name)
    return principal


def support_session(runtime, db, engineer: str = "fp-jane",
                    source: str = "198.51.100.7:40022") -> Principal:
    """A support session as the SSH gate's forced command opens it (TOTP checked apart)."""
    admission = admit(db, engineer, source=source)
    return open_session(runtime.database, db, admission, source=source)
