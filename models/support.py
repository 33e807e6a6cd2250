"""FlowPro support access: SSH keys of vendor accounts, requests, approvals, grants,
support sessions and their signed receipts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime


class SshKey(SQLModel, table=True):
    """A public key that lets a vendor account through the SSH gate (only while it holds
    an active grant)."""

    __tablename__ = "ssh_keys"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"),
                                          nullable=False, index=True))
    algorithm: str = Field(max_length=32)
    public_key: str = Field(sa_column=Column(Text, nullable=False))  # "<type> <base64>"
    comment: str = Field(default="", max_length=255)
    fingerprint: str = Field(max_length=64, unique=True)  # SHA256:..., as ssh-keygen -lf
    bits: int = 0
    added_at: datetime = Field(sa_type=UTCDateTime)
    added_by: str = Field(max_length=128)


class SupportRequest(SQLModel, table=True):
    """An engineer asks for access (or for more time: `extends_grant_id`)."""

    __tablename__ = "support_requests"

    id: int | None = Field(default=None, primary_key=True)
    engineer_id: int = Field(foreign_key="users.id", index=True)
    engineer: str = Field(max_length=64)
    scope: str = Field(max_length=255)  # permissions, comma-separated, sorted
    minutes: int  # the requested window
    reason: str = Field(max_length=500)
    ticket: str = Field(max_length=64)
    # Not a foreign key: grants point back at their request, and a cycle of foreign keys
    # would make both tables impossible to create or drop in one step.
    extends_grant_id: int | None = Field(default=None, index=True)
    requested_by: str = Field(max_length=128)
    requested_at: datetime = Field(sa_type=UTCDateTime, index=True)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    status: str = Field(default="pending", max_length=16, index=True)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decided_by: str = Field(default="", max_length=255)
    decision_note: str = Field(default="", max_length=500)


class SupportApproval(SQLModel, table=True):
    """One approver's yes, with the window and scope that approver allowed."""

    __tablename__ = "support_approvals"
    __table_args__ = (UniqueConstraint("request_id", "approver"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(sa_column=Column(
        Integer, ForeignKey("support_requests.id", ondelete="CASCADE"), nullable=False,
        index=True))
    approver: str = Field(max_length=128)
    approver_user_id: int | None = None
    minutes: int
    scope: str = Field(max_length=255)
    note: str = Field(default="", max_length=500)
    at: datetime = Field(sa_type=UTCDateTime)


class SupportGrant(SQLModel, table=True):
    """Access for one engineer, one scope, one window. Active while not ended and
    `starts_at <= now < ends_at`; it ends by expiry (past `ends_at`), revocation, or
    being superseded by an approved extension."""

    __tablename__ = "support_grants"

    id: int | None = Field(default=None, primary_key=True)
    engineer_id: int = Field(foreign_key="users.id", index=True)
    engineer: str = Field(max_length=64)
    scope: str = Field(max_length=255)
    reason: str = Field(max_length=500)
    ticket: str = Field(max_length=64)
    request_id: int | None = Field(default=None, foreign_key="support_requests.id")
    requested_by: str = Field(max_length=128)
    requested_minutes: int
    approved_by: str = Field(max_length=255)
    minutes: int  # the approved window
    created_at: datetime = Field(sa_type=UTCDateTime)
    starts_at: datetime = Field(sa_type=UTCDateTime)
    ends_at: datetime = Field(sa_type=UTCDateTime, index=True)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    end_reason: str = Field(default="", max_length=16)  # revoked | superseded
    ended_by: str = Field(default="", max_length=128)
    end_note: str = Field(default="", max_length=500)
    superseded_by: int | None = None


class SupportSession(SQLModel, table=True):
    """One support session through the SSH gate; its id is the login session's id, so
    its transcript is the audit events carrying that session id."""

    __tablename__ = "support_sessions"

    id: str = Field(sa_column=Column(String(36), primary_key=True))
    engineer_id: int = Field(foreign_key="users.id", index=True)
    engineer: str = Field(max_length=64)
    grant_id: int = Field(foreign_key="support_grants.id", index=True)
    source: str | None = Field(default=None, max_length=128)
    started_at: datetime = Field(sa_type=UTCDateTime, index=True)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    end_reason: str = Field(default="", max_length=255)


class SupportReceipt(SQLModel, table=True):
    """The signed, plain-language account of one support session."""

    __tablename__ = "support_receipts"

    id: int | None = Field(default=None, primary_key=True)
    session_id: str = Field(sa_column=Column(
        String(36), ForeignKey("support_sessions.id"), nullable=False, unique=True))
    grant_id: int = Field(foreign_key="support_grants.id", index=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    summary: str = Field(sa_column=Column(Text, nullable=False))
    payload: str = Field(sa_column=Column(Text, nullable=False))  # canonical JSON, signed
    key_id: str = Field(max_length=64)
    signature: str = Field(max_length=200)
