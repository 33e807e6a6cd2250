"""Processing logs: the fixed tables. The entries themselves live in per-month tables
(SQLite) or range partitions (PostgreSQL) that `console.logs.store` creates at run time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Integer, SmallInteger, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime


class LogFile(SQLModel, table=True):
    """What was read from one log file: found again by the hash of its first line, so a
    renamed, copied or compressed rotation resumes where the reading stopped."""

    __tablename__ = "log_files"

    id: int | None = Field(default=None, primary_key=True)
    fingerprint: str = Field(max_length=64, unique=True, index=True)  # sha256 of line 1
    path: str = Field(max_length=1024, index=True)  # where it was last read
    device: int = Field(default=0, sa_type=BigInteger)
    inode: int = Field(default=0, sa_type=BigInteger)
    offset: int = Field(default=0, sa_type=BigInteger)  # uncompressed bytes consumed
    lines: int = Field(default=0, sa_type=BigInteger)  # lines consumed (next line number - 1)
    format: str = Field(max_length=16)
    source: str = Field(max_length=64)
    entries: int = Field(default=0, sa_type=BigInteger)
    unparsed: int = Field(default=0, sa_type=BigInteger)
    last_entry_id: int | None = Field(default=None, sa_type=BigInteger)
    first_seen_at: datetime = Field(sa_type=UTCDateTime)
    last_read_at: datetime = Field(sa_type=UTCDateTime)


class LogOrigin(SQLModel, table=True):
    """(source system, host, program) interned once: each entry stores only this id."""

    __tablename__ = "log_origins"
    __table_args__ = (UniqueConstraint("source", "host", "program", name="uq_log_origins"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=64, index=True)
    host: str = Field(max_length=255, index=True)
    program: str = Field(max_length=128)


class LogRollup(SQLModel, table=True):
    """Entries per time bucket x level x source, kept at ingest so that histograms and
    approximate counts never scan entries. `span` is the bucket width in seconds
    (300, 3600 or 86400); `bucket` the bucket's start (Unix seconds, UTC)."""

    __tablename__ = "log_rollups"

    span: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    bucket: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    level: int = Field(sa_column=Column(SmallInteger, primary_key=True, autoincrement=False))
    source: str = Field(sa_column=Column(String(64), primary_key=True))
    count: int = Field(default=0, sa_type=BigInteger)


class LogPartition(SQLModel, table=True):
    """One month of entries (a table on SQLite, a partition on PostgreSQL)."""

    __tablename__ = "log_partitions"

    month: str = Field(primary_key=True, max_length=7)  # YYYY-MM
    table_name: str = Field(max_length=64)
    rows: int = Field(default=0, sa_type=BigInteger)  # kept at ingest and trim
    created_at: datetime = Field(sa_type=UTCDateTime)


class LogEntry(SQLModel):
    """The shape of one entry (not a table: see console.logs.store). `ts` is not stored:
    the id is the time in microseconds times 1024 plus a sequence number."""

    __tablename__ = "log_entries"

    id: int
    ts: datetime
    level: int
    origin: int
    message: str
    prefix: str
    extra: str | None = None
    file_id: int | None = None
    line: int | None = None
