"""Retention: policy overrides, legal holds, plans (previews), runs, the signed anchors that
let the audit trail verify after old events are purged, and the termination workflow."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Column, Text
from sqlmodel import Field, SQLModel

from models.types import BigIntPK, UTCDateTime


class RetentionPolicy(SQLModel, table=True):
    """A policy set in the console; overrides the [retention.policies] default of its
    category from the config."""

    __tablename__ = "retention_policies"

    category: str = Field(primary_key=True, max_length=64)
    keep_value: int
    keep_unit: str = Field(max_length=8)  # days | months | years
    action: str = Field(max_length=16)  # delete | anonymize
    basis: str = Field(default="", max_length=500)
    enabled: bool = True
    updated_at: datetime = Field(sa_type=UTCDateTime)
    updated_by: str = Field(max_length=128)


class LegalHold(SQLModel, table=True):
    """Keeps what it covers from deletion and anonymization. Released, never deleted.
    Covers rows matching every part it names: category, data subject, time range."""

    __tablename__ = "legal_holds"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, index=True)
    reason: str = Field(max_length=500)
    category: str | None = Field(default=None, max_length=64)
    subject_kind: str | None = Field(default=None, max_length=16)  # employee | customer
    subject_id: int | None = None
    range_from: date | None = None
    range_to: date | None = None
    created_at: datetime = Field(sa_type=UTCDateTime)
    created_by: str = Field(max_length=128)
    released_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    released_by: str = Field(default="", max_length=128)
    release_reason: str = Field(default="", max_length=500)


class RetentionPlan(SQLModel, table=True):
    """A saved preview: what a run citing it may change, per category (the items)."""

    __tablename__ = "retention_plans"

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)
    created_by: str = Field(max_length=128)
    source: str = Field(max_length=16)  # cli | tui | scheduler | termination
    purpose: str = Field(default="retention", max_length=16)  # retention | termination
    as_of: date
    category_filter: str = Field(default="", max_length=64)
    state: str = Field(default="open", max_length=16, index=True)  # open | applying | applied
    run_id: int | None = None  # the retention run applying it
    total_due: int = Field(default=0, sa_type=BigInteger)


class RetentionPlanItem(SQLModel, table=True):
    """One category of a plan: the policy applied, the counts, and the exact selection
    (primary-key ranges of the rows due, and their hash)."""

    __tablename__ = "retention_plan_items"

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="retention_plans.id", index=True)
    position: int = 0  # order in which the run goes through the categories
    category: str = Field(max_length=64)
    action: str = Field(max_length=16)
    keep: str = Field(max_length=32)
    cutoff: date
    candidates: int = Field(default=0, sa_type=BigInteger)  # old enough
    due: int = Field(default=0, sa_type=BigInteger)  # to delete or anonymize
    held: int = Field(default=0, sa_type=BigInteger)
    restricted: int = Field(default=0, sa_type=BigInteger)
    referenced: int = Field(default=0, sa_type=BigInteger)
    legal_minimum: int = Field(default=0, sa_type=BigInteger)  # kept by a legal minimum
    holds: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    oldest: str = Field(default="", max_length=40)
    newest: str = Field(default="", max_length=40)
    selection_hash: str = Field(default="", max_length=64)
    ranges: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    samples: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    note: str = Field(default="", max_length=500)


class RetentionRun(SQLModel, table=True):
    """One application of a plan (executed by a `retention` job run)."""

    __tablename__ = "retention_runs"

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="retention_plans.id", index=True)
    job_run_id: int | None = Field(default=None, sa_type=BigInteger, index=True)
    started_at: datetime = Field(sa_type=UTCDateTime, index=True)
    started_by: str = Field(max_length=128)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    state: str = Field(default="running", max_length=16)  # running | done | drifted | failed
    phase: str = Field(default="check", max_length=16)  # check | purge | vacuum | done
    drift: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    error: str = Field(default="", sa_column=Column(Text, nullable=False))
    pages_freed: int = Field(default=0, sa_type=BigInteger)
    bytes_freed: int = Field(default=0, sa_type=BigInteger)
    file_bytes_before: int | None = Field(default=None, sa_type=BigInteger)
    file_bytes_after: int | None = Field(default=None, sa_type=BigInteger)


class RetentionRunItem(SQLModel, table=True):
    """Per category of a run: where it is (the checkpoint), and what it did."""

    __tablename__ = "retention_run_items"

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="retention_runs.id", index=True)
    category: str = Field(max_length=64)
    action: str = Field(max_length=16)
    planned: int = Field(default=0, sa_type=BigInteger)
    cursor: str = Field(default="", max_length=200)  # range index ":" next key
    done: bool = False
    deleted: int = Field(default=0, sa_type=BigInteger)
    anonymized: int = Field(default=0, sa_type=BigInteger)
    skipped: int = Field(default=0, sa_type=BigInteger)  # planned, no longer due at the run
    held: int = Field(default=0, sa_type=BigInteger)
    restricted: int = Field(default=0, sa_type=BigInteger)
    referenced: int = Field(default=0, sa_type=BigInteger)
    legal_minimum: int = Field(default=0, sa_type=BigInteger)
    holds: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    batches: int = 0
    batch_rows: int = 0  # the adapted batch size
    max_batch_ms: float = 0.0
    note: str = Field(default="", max_length=500)


class AuditAnchor(SQLModel, table=True):
    """Signed: every audit event up to `last_purged_id` was purged by retention, and the
    chain continues from `last_purged_hash`. `audit verify` starts from the newest one."""

    __tablename__ = "audit_anchors"

    id: int | None = Field(default=None, sa_column=Column(BigIntPK, primary_key=True,
                                                          autoincrement=True))
    at: datetime = Field(sa_type=UTCDateTime)
    last_purged_id: int = Field(sa_type=BigInteger, index=True)
    last_purged_hash: str = Field(max_length=64)
    purged: int = Field(default=0, sa_type=BigInteger)
    retention_run_id: int | None = None
    key_id: str = Field(max_length=64)
    signature: str = Field(max_length=200)


class TerminationStep(SQLModel, table=True):
    """A confirmed step of the termination workflow (handover export, purge)."""

    __tablename__ = "termination_steps"

    id: int | None = Field(default=None, primary_key=True)
    step: str = Field(max_length=16, index=True)  # export | purge
    agreement_end: date
    at: datetime = Field(sa_type=UTCDateTime)
    by: str = Field(max_length=128)
    reference: str = Field(default="", max_length=255)  # the export, or plan and run ids
    grace_ends_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
