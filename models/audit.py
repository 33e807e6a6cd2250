"""The append-only, hash-chained audit trail and its signed checkpoints."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Text
from sqlmodel import Field, SQLModel

from models.types import BigIntPK, UTCDateTime


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_events"

    id: int | None = Field(default=None, sa_column=Column(BigIntPK, primary_key=True,
                                                          autoincrement=True))
    at: datetime = Field(sa_type=UTCDateTime, index=True)
    actor: str = Field(max_length=128, index=True)
    actor_kind: str = Field(max_length=16)
    session_id: str | None = Field(default=None, max_length=36, index=True)
    action: str = Field(max_length=64, index=True)
    target: str = Field(default="", max_length=255, index=True)
    outcome: str = Field(max_length=8)  # ok | denied | error
    details: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    source: str | None = Field(default=None, max_length=128)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)


class AuditCheckpoint(SQLModel, table=True):
    __tablename__ = "audit_checkpoints"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime)
    last_event_id: int = Field(sa_type=BigInteger, index=True)
    chain_hash: str = Field(max_length=64)
    key_id: str = Field(max_length=64)
    signature: str = Field(max_length=200)
