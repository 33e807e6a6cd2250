"""jobs: job runs and leases

Revision ID: 0004_jobs
Revises: 0001_foundation
Create Date: 2026-11-22 02:19:27.788620

Its own branch from the foundation (label "jobs"), so it merges with the other domains'
migrations in any order.
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.types

revision: str = '0004_jobs'
down_revision: str | Sequence[str] | None = '0001_foundation'
branch_labels: str | Sequence[str] | None = ('jobs',)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('job_leases',
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('holder', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('run_id', sa.BigInteger(), nullable=True),
    sa.Column('host', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=True),
    sa.Column('acquired_at', models.types.UTCDateTime(), nullable=False),
    sa.Column('heartbeat_at', models.types.UTCDateTime(), nullable=False),
    sa.Column('expires_at', models.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('job_runs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('params', sa.Text(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('executor', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('started_by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('started_by_kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('schedule', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', models.types.UTCDateTime(), nullable=False),
    sa.Column('started_at', models.types.UTCDateTime(), nullable=True),
    sa.Column('claimed_at', models.types.UTCDateTime(), nullable=True),
    sa.Column('claimed_done', sa.BigInteger(), nullable=False),
    sa.Column('ended_at', models.types.UTCDateTime(), nullable=True),
    sa.Column('heartbeat_at', models.types.UTCDateTime(), nullable=True),
    sa.Column('lease_expires_at', models.types.UTCDateTime(), nullable=True),
    sa.Column('owner_token', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('owner_host', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('owner_pid', sa.Integer(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('interruptions', sa.Integer(), nullable=False),
    sa.Column('progress_done', sa.BigInteger(), nullable=False),
    sa.Column('progress_total', sa.BigInteger(), nullable=True),
    sa.Column('progress_message', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('cancel_requested_at', models.types.UTCDateTime(), nullable=True),
    sa.Column('cancel_requested_by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('stop_reason', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('checkpoint', sa.Text(), nullable=True),
    sa.Column('result', sa.Text(), nullable=True),
    sa.Column('error', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_job_runs_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_job_runs_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_job_runs_state'), ['state'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_job_runs_state'))
        batch_op.drop_index(batch_op.f('ix_job_runs_kind'))
        batch_op.drop_index(batch_op.f('ix_job_runs_created_at'))

    op.drop_table('job_runs')
    op.drop_table('job_leases')
