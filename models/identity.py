"""Console accounts, roles and login sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Integer, LargeBinary, String
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime


class Role(SQLModel, table=True):
    __tablename__ = "roles"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True, index=True)
    description: str = Field(default="", max_length=255)
    builtin: bool = False
    requires_mfa: bool = False
    created_at: datetime = Field(sa_type=UTCDateTime)


class RolePermission(SQLModel, table=True):
    __tablename__ = "role_permissions"

    role_id: int = Field(sa_column=Column(Integer, ForeignKey("roles.id", ondelete="CASCADE"),
                                          primary_key=True))
    permission: str = Field(sa_column=Column(String(64), primary_key=True))


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True, index=True)
    display_name: str = Field(default="", max_length=128)
    email: str = Field(default="", max_length=254)
    kind: str = Field(default="staff", max_length=16)  # staff | vendor | service
    password_hash: str | None = Field(default=None, max_length=255)
    must_change_password: bool = False
    password_changed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    disabled: bool = False
    disabled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    disabled_reason: str = Field(default="", max_length=255)
    failed_password_count: int = 0
    failed_password_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    failed_totp_count: int = 0
    failed_totp_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    totp_secret: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    totp_confirmed: bool = False
    totp_last_step: int | None = None
    created_at: datetime = Field(sa_type=UTCDateTime)
    created_by: str = Field(default="", max_length=128)
    last_login_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class UserRole(SQLModel, table=True):
    __tablename__ = "user_roles"

    user_id: int = Field(sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"),
                                          primary_key=True))
    role_id: int = Field(sa_column=Column(Integer, ForeignKey("roles.id", ondelete="RESTRICT"),
                                          primary_key=True))


class LoginSession(SQLModel, table=True):
    """One interactive session (TUI, CLI login, support session)."""

    __tablename__ = "login_sessions"

    id: str = Field(primary_key=True, max_length=36)
    user_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    principal: str = Field(max_length=128)
    channel: str = Field(default="tui", max_length=16)  # tui | cli | support
    source: str | None = Field(default=None, max_length=128)
    started_at: datetime = Field(sa_type=UTCDateTime)
    last_seen_at: datetime = Field(sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    end_reason: str = Field(default="", max_length=64)
