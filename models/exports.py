"""Exports (the disclosure register: what left the installation, why and to whom) and
backups of the database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, LargeBinary, Text
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime


class Export(SQLModel, table=True):
    """One export bundle, from the moment it was asked for. Rows are never deleted: the
    register of disclosures outlives the files."""

    __tablename__ = "exports"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16, index=True)  # subject | handover | logs
    purpose: str = Field(max_length=32, index=True)  # console.export.purposes.Purpose
    reference: str = Field(default="", max_length=200)  # legal order / consent reference
    disclosed_to: str = Field(default="", max_length=200)  # who receives it
    protection: str = Field(max_length=16)  # recipients | passphrase | none
    recipients: str = Field(default="[]", sa_column=Column(Text, nullable=False))  # age1...
    packaging: str = Field(default="tar", max_length=16)  # tar | directory
    subject_kind: str | None = Field(default=None, max_length=16)
    subject_id: int | None = Field(default=None, index=True)
    categories: str = Field(default="[]", sa_column=Column(Text, nullable=False))  # JSON
    filters: str = Field(default="{}", sa_column=Column(Text, nullable=False))  # JSON
    masked: bool = False  # PII masked: made by someone without pii.read
    name: str = Field(max_length=128)  # the bundle's file name without suffix
    output_dir: str = Field(max_length=1024)
    path: str = Field(default="", max_length=1100)  # the finished bundle
    state: str = Field(default="running", max_length=16, index=True)
    rows: int = Field(default=0, sa_type=BigInteger)
    size_bytes: int = Field(default=0, sa_type=BigInteger)
    manifest_sha256: str = Field(default="", max_length=64)
    notes: str = Field(default="[]", sa_column=Column(Text, nullable=False))  # JSON list
    created_by: str = Field(max_length=128)
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    job_run_id: int | None = Field(default=None, sa_type=BigInteger, index=True)
    request_id: int | None = Field(default=None, index=True)
    error: str = Field(default="", sa_column=Column(Text, nullable=False))
    # A passphrase, sealed with the installation's secrets.key, kept only until the bundle
    # is sealed (so a resumed run can finish it), then wiped.
    sealed_passphrase: bytes | None = Field(default=None, sa_column=Column(LargeBinary,
                                                                         nullable=True))


class Backup(SQLModel, table=True):
    """One backup file of the database (encrypted like a bundle)."""

    __tablename__ = "backups"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=128, unique=True)
    path: str = Field(default="", max_length=1100)
    backend: str = Field(max_length=16)  # sqlite | postgresql
    protection: str = Field(max_length=16)
    recipients: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    state: str = Field(default="running", max_length=16, index=True)
    size_bytes: int = Field(default=0, sa_type=BigInteger)
    sha256: str = Field(default="", max_length=64)  # of the finished file
    manifest_sha256: str = Field(default="", max_length=64)
    created_by: str = Field(max_length=128)
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    removed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    job_run_id: int | None = Field(default=None, sa_type=BigInteger)
    error: str = Field(default="", sa_column=Column(Text, nullable=False))
    sealed_passphrase: bytes | None = Field(default=None, sa_column=Column(LargeBinary,
                                                                         nullable=True))
