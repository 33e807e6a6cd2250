"""logs: ingest file state, origins, rollups, month partitions

Revision ID: 0003_logs
Revises: 0001_foundation
Create Date: 2026-11-22 02:40:00

The entries themselves live in per-month tables (SQLite) or range partitions of
`log_entries` (PostgreSQL) created at run time by console.logs.store.
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.types

revision: str = '0003_logs'
down_revision: str | Sequence[str] | None = '0001_foundation'
branch_labels: str | Sequence[str] | None = ('logs',)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('log_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('fingerprint', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('path', sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=False),
    sa.Column('device', sa.BigInteger(), nullable=False),
    sa.Column('inode', sa.BigInteger(), nullable=False),
    sa.Column('offset', sa.BigInteger(), nullable=False),
    sa.Column('lines', sa.BigInteger(), nullable=False),
    sa.Column('format', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('entries', sa.BigInteger(), nullable=False),
    sa.Column('unparsed', sa.BigInteger(), nullable=False),
    sa.Column('last_entry_id', sa.BigInteger(), nullable=True),
    sa.Column('first_seen_at', models.types.UTCDateTime(), nullable=False),
    sa.Column('last_read_at', models.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('log_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_log_files_fingerprint'), ['fingerprint'], unique=True)
        batch_op.create_index(batch_op.f('ix_log_files_path'), ['path'], unique=False)

    op.create_table('log_origins',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('host', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('program', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source', 'host', 'program', name='uq_log_origins')
    )
    with op.batch_alter_table('log_origins', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_log_origins_host'), ['host'], unique=False)
        batch_op.create_index(batch_op.f('ix_log_origins_source'), ['source'], unique=False)

    op.create_table('log_partitions',
    sa.Column('month', sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
    sa.Column('table_name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('rows', sa.BigInteger(), nullable=False),
    sa.Column('created_at', models.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('month')
    )
    op.create_table('log_rollups',
    sa.Column('span', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('bucket', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('level', sa.SmallInteger(), autoincrement=False, nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('count', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('span', 'bucket', 'level', 'source')
    )


def downgrade() -> None:
    op.drop_table('log_rollups')
    op.drop_table('log_partitions')
    with op.batch_alter_table('log_origins', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_log_origins_source'))
        batch_op.drop_index(batch_op.f('ix_log_origins_host'))
    op.drop_table('log_origins')
    with op.batch_alter_table('log_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_log_files_path'))
        batch_op.drop_index(batch_op.f('ix_log_files_fingerprint'))
    op.drop_table('log_files')
