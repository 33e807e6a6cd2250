"""Helpers for the identity tests: make accounts, log in, read the audit trail."""

from __future__ import annotations

import json

from sqlmodel import col, select

from console import mfa
from console.auth import authenticate
from console.db import writing
from console.principal import Principal, os_principal
from console.users import AccountKind, create_user
from models.audit import AuditEvent
from models.identity import User

PASSWORD = "Quiet-Lantern-Orbit-58"
OTHER_PASSWORD = "Velvet-Canyon-Mosaic-31"


def add_user(runtime, db, name: str, *roles: str, kind: AccountKind = AccountKind.STAFF,
             password: str | None = PASSWORD, actor: Principal | None = None,
             must_change: bool = False) -> User:
    return create_user(db, actor or os_principal("root"), name,
                       security=runtime.settings.security, password=password, kind=kind,
                       roles=roles, display_name=name.title(),
                       must_change_password=must_change)


def login(runtime, db, name: str, password: str = PASSWORD, code: str | None = None,
          security=None) -> Principal:
    return authenticate(runtime.database, db, security or runtime.settings.security, name,
                        password, channel="cli", keys=runtime.keys, totp_code=code)


def enrol(runtime, db, name: str) -> bytes:
    """Give `name` a confirmed TOTP secret directly; returns the secret."""
    secret = mfa.new_secret()
    with writing(db):
        user = db.exec(select(User).where(User.username == name)).one()
        mfa.store_secret(runtime.keys, user, secret)
        user.totp_confirmed = True
        db.add(user)
    return secret


def user_row(db, name: str) -> User:
    db.rollback()
    return db.exec(select(User).where(User.username == name)
                   .execution_options(populate_existing=True)).one()


def events(db, action: str, *, target: str | None = None) -> list[AuditEvent]:
    db.rollback()
    query = select(AuditEvent).where(AuditEvent.action == action)
    if target is not None:
        query = query.where(AuditEvent.target == target)
    return list(db.exec(query.order_by(col(AuditEvent.id))).all())


def last_event(db, action: str, *, target: str | None = None) -> AuditEvent:
    found = events(db, action, target=target)
    assert found, f"no audit event {action}"
    return found[-1]


def details(event: AuditEvent) -> dict:
    return json.loads(event.details)
