"""Job runs (long work in steps, resumable from a checkpoint) and the leases that keep one
runner per run, conflicting runs apart, and one scheduler per database."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Column, Text
from sqlmodel import Field, SQLModel

from models.types import BigIntPK, UTCDateTime


class JobState(StrEnum):
    QUEUED = "queued"  # waiting for the scheduler (or for a conflicting run to end)
    RUNNING = "running"  # a runner holds its lease
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # a step raised; resumable from the last checkpoint
    CANCELLED = "cancelled"  # stopped on request at a step boundary; keeps what was done
    INTERRUPTED = "interrupted"  # its runner died or was stopped; resumable


class Executor(StrEnum):
    SCHEDULER = "scheduler"  # handed to the scheduler process
    HERE = "here"  # runs in the process that started it (a console, `jobs run`)


class StopReason(StrEnum):
    """Why an unfinished run stopped running (decides whether the scheduler may resume it)."""

    NONE = ""
    OWNER_LOST = "owner-lost"  # the runner's heartbeat went stale or its process died
    SHUTDOWN = "shutdown"  # its process was asked to stop (SIGTERM, console closed)
    AUTHORITY = "authority"  # the person it ran as logged out or lost the permission
    CANCELLED = "cancelled"
    ERROR = "error"


class JobRun(SQLModel, table=True):
    __tablename__ = "job_runs"

    id: int | None = Field(default=None, sa_column=Column(BigIntPK, primary_key=True,
                                                          autoincrement=True))
    kind: str = Field(max_length=64, index=True)
    params: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    state: str = Field(default=JobState.QUEUED.value, max_length=16, index=True)
    executor: str = Field(default=Executor.SCHEDULER.value, max_length=16)
    started_by: str = Field(max_length=128)
    started_by_kind: str = Field(max_length=16)  # user | os | scheduler
    schedule: str = Field(default="", max_length=64)  # the [schedules] entry that made it
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # first claim
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # this attempt
    claimed_done: int = Field(default=0, sa_type=BigInteger)  # progress when claimed
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    heartbeat_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    lease_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    owner_token: str | None = Field(default=None, max_length=32)
    owner_host: str = Field(default="", max_length=255)
    owner_pid: int | None = None
    attempts: int = 0  # claims: the first start plus every resume
    interruptions: int = 0  # times its runner was found dead
    progress_done: int = Field(default=0, sa_type=BigInteger)
    progress_total: int | None = Field(default=None, sa_type=BigInteger)
    progress_message: str = Field(default="", max_length=255)
    cancel_requested_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancel_requested_by: str = Field(default="", max_length=128)
    stop_reason: str = Field(default="", max_length=16)
    checkpoint: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    result: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    error: str = Field(default="", sa_column=Column(Text, nullable=False))


class JobLease(SQLModel, table=True):
    """A named lease: `scheduler` (one per database) or `lock:<name>` (a conflict group
    held by the run `run_id`). Free when missing or when `expires_at` has passed."""

    __tablename__ = "job_leases"

    name: str = Field(primary_key=True, max_length=128)
    holder: str = Field(max_length=32)
    run_id: int | None = Field(default=None, sa_type=BigInteger)
    host: str = Field(default="", max_length=255)
    pid: int | None = None
    acquired_at: datetime = Field(sa_type=UTCDateTime)
    heartbeat_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
