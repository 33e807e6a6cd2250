"""exports: the disclosure register, backups, data-subject requests, the erasure ledger

Revision ID: 0007_exports
Revises: 0001_foundation
Create Date: 2026-11-22 04:14:57.688439

Its own branch from the foundation (label "exports"), so it merges with the other domains'
migrations in any order.
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.types

revision: str = '0007_exports'
down_revision: str | Sequence[str] | None = '0001_foundation'
branch_labels: str | Sequence[str] | None = ('exports',)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('backups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('path', sqlmodel.sql.sqltypes.AutoString(length=1100), nullable=False),
    sa.Column('backend', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('protection', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('recipients', sa.Text(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('manifest_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('created_at', models.types.UTCDateTime(), nullable=False),
    sa.Column('finished_at', models.types.UTCDateTime(), nullable=True),
    sa.Column('removed_at', models.types.UTCDateTime(), nullable=True),
    sa.Column('job_run_id', sa.BigInteger(), nullable=True),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('sealed_passphrase', sa.LargeBinary(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    with op.batch_alter_table('backups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_backups_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_backups_state'), ['state'], unique=False)

    op.create_table('erasure_ledger',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subject_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('categories', sa.Text(), nullable=False),
    sa.Column('erased_at', models.types.UTCDateTime(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=True),
    sa.Column('reapplied_at', models.types.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('erasure_ledger', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_erasure_ledger_subject_key'), ['subject_key'], unique=False)

    op.create_table('exports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('purpose', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('reference', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('disclosed_to', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('protection', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('recipients', sa.Text(), nullable=False),
    sa.Column('packaging', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('subject_kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('subject_id', sa.Integer(), nullable=True),
    sa.Column('categories', sa.Text(), nullable=False),
    sa.Column('filters', sa.Text(), nullable=False),
    sa.Column('masked', sa.Boolean(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('output_dir', sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=False),
    sa.Column('path', sqlmodel.sql.sqltypes.AutoString(length=1100), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('rows', sa.BigInteger(), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('manifest_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('created_at', models.types.UTCDateTime(), nullable=False),
    sa.Column('finished_at', models.types.UTCDateTime(), nullable=True),
    sa.Column('job_run_id', sa.BigInteger(), nullable=True),
    sa.Column('request_id', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('sealed_passphrase', sa.LargeBinary(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('exports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_exports_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_exports_job_run_id'), ['job_run_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_exports_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_exports_purpose'), ['purpose'], unique=False)
        batch_op.create_index(batch_op.f('ix_exports_request_id'), ['request_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_exports_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_exports_subject_id'), ['subject_id'], unique=False)

    op.create_table('subject_keys',
    sa.Column('subject_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('wrapped', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', models.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('subject_key')
    )
    op.create_table('subject_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('subject_kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('handler', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('response', sa.Text(), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('created_at', models.types.UTCDateTime(), nullable=False),
    sa.Column('fulfilled_at', models.types.UTCDateTime(), nullable=True),
    sa.Column('closed_at', models.types.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('subject_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subject_requests_due_on'), ['due_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_subject_requests_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_subject_requests_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_subject_requests_subject_id'), ['subject_id'], unique=False)

    op.create_table('subject_request_actions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('at', models.types.UTCDateTime(), nullable=False),
    sa.Column('by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('export_id', sa.Integer(), nullable=True),
    sa.Column('job_run_id', sa.BigInteger(), nullable=True),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['subject_requests.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('subject_request_actions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subject_request_actions_request_id'), ['request_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('subject_request_actions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subject_request_actions_request_id'))

    op.drop_table('subject_request_actions')
    with op.batch_alter_table('subject_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subject_requests_subject_id'))
        batch_op.drop_index(batch_op.f('ix_subject_requests_state'))
        batch_op.drop_index(batch_op.f('ix_subject_requests_kind'))
        batch_op.drop_index(batch_op.f('ix_subject_requests_due_on'))

    op.drop_table('subject_requests')
    op.drop_table('subject_keys')
    with op.batch_alter_table('exports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_exports_subject_id'))
        batch_op.drop_index(batch_op.f('ix_exports_state'))
        batch_op.drop_index(batch_op.f('ix_exports_request_id'))
        batch_op.drop_index(batch_op.f('ix_exports_purpose'))
        batch_op.drop_index(batch_op.f('ix_exports_kind'))
        batch_op.drop_index(batch_op.f('ix_exports_job_run_id'))
        batch_op.drop_index(batch_op.f('ix_exports_created_at'))

    op.drop_table('exports')
    with op.batch_alter_table('erasure_ledger', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_erasure_ledger_subject_key'))

    op.drop_table('erasure_ledger')
    with op.batch_alter_table('backups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_backups_state'))
        batch_op.drop_index(batch_op.f('ix_backups_created_at'))

    op.drop_table('backups')
