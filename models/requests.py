"""Data-subject requests, what fulfilled them, the erasure ledger and per-subject keys."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Column, ForeignKey, Integer, LargeBinary, Text
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime


class SubjectRequest(SQLModel, table=True):
    """A request by a data subject (an employee or a customer) about their data."""

    __tablename__ = "subject_requests"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16, index=True)  # access | rectification | erasure | ...
    subject_kind: str = Field(max_length=16)  # employee | customer
    subject_id: int = Field(index=True)
    received_on: date
    due_on: date = Field(index=True)
    state: str = Field(default="open", max_length=16, index=True)
    handler: str = Field(default="", max_length=128)
    notes: str = Field(default="", sa_column=Column(Text, nullable=False))
    outcome: str = Field(default="", max_length=16)  # fulfilled | rejected | withdrawn
    response: str = Field(default="{}", sa_column=Column(Text, nullable=False))  # JSON
    created_by: str = Field(max_length=128)
    created_at: datetime = Field(sa_type=UTCDateTime)
    fulfilled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class RequestAction(SQLModel, table=True):
    """Something done for a request: an export, a job, a change; with its summary."""

    __tablename__ = "subject_request_actions"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(sa_column=Column(Integer, ForeignKey(
        "subject_requests.id", ondelete="CASCADE"), nullable=False, index=True))
    at: datetime = Field(sa_type=UTCDateTime)
    by: str = Field(max_length=128)
    action: str = Field(max_length=32)
    export_id: int | None = None
    job_run_id: int | None = Field(default=None, sa_type=BigInteger)
    summary: str = Field(default="{}", sa_column=Column(Text, nullable=False))  # JSON


class ErasureRecord(SQLModel, table=True):
    """The erasure ledger: who was erased, without saying who. `subject_key` is an HMAC of
    the subject with the installation's pseudonym key, so a restored backup can be
    cleaned again (`requests reapply-erasures`) and nobody can read a name off it."""

    __tablename__ = "erasure_ledger"

    id: int | None = Field(default=None, primary_key=True)
    subject_key: str = Field(max_length=64, index=True)
    categories: str = Field(default="[]", sa_column=Column(Text, nullable=False))  # JSON
    erased_at: datetime = Field(sa_type=UTCDateTime)
    request_id: int | None = None
    reapplied_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SubjectKey(SQLModel, table=True):
    """A per-person key that seals personal values written to the append-only audit trail
    (rectification before/after). Erasure deletes it: the sealed values become noise
    while the trail's hash chain stays intact (crypto-shredding)."""

    __tablename__ = "subject_keys"

    subject_key: str = Field(primary_key=True, max_length=64)  # as in the ledger
    wrapped: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(sa_type=UTCDateTime)
