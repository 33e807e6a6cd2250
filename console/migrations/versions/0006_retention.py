"""retention: policies set in the console, legal holds, plans, runs, audit anchors and
the termination steps

Revision ID: 0006_retention
Revises: 0001_foundation
Create Date: 2026-11-22 04:13:58.810113

Its own branch from the foundation (label "retention"), so it merges with the other domains'
migrations in any order. No foreign keys into other branches' tables.
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.types

revision: str = '0006_retention'
down_revision: str | Sequence[str] | None = '0001_foundation'
branch_labels: str | Sequence[str] | None = ('retention',)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('audit_anchors',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('at', models.types.UTCDateTime(), nullable=False),
    sa.Column('last_purged_id', sa.BigInteger(), nullable=False),
    sa.Column('last_purged_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('purged', sa.BigInteger(), nullable=False),
    sa.Column('retention_run_id', sa.Integer(), nullable=True),
    sa.Column('key_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('signature', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit_anchors', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_anchors_last_purged_id'), ['last_purged_id'], unique=False)

    op.create_table('legal_holds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('category', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('subject_kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('subject_id', sa.Integer(), nullable=True),
    sa.Column('range_from', sa.Date(), nullable=True),
    sa.Column('range_to', sa.Date(), nullable=True),
    sa.Column('created_at', models.types.UTCDateTime(), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('released_at', models.types.UTCDateTime(), nullable=True),
    sa.Column('released_by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('release_reason', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('legal_holds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_legal_holds_name'), ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_legal_holds_released_at'), ['released_at'], unique=False)

    op.create_table('retention_plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', models.types.UTCDateTime(), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('purpose', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('category_filter', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('total_due', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('retention_plans', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_retention_plans_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_retention_plans_state'), ['state'], unique=False)

    op.create_table('retention_policies',
    sa.Column('category', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('keep_value', sa.Integer(), nullable=False),
    sa.Column('keep_unit', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('basis', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('updated_at', models.types.UTCDateTime(), nullable=False),
    sa.Column('updated_by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.PrimaryKeyConstraint('category')
    )
    op.create_table('termination_steps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('step', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('agreement_end', sa.Date(), nullable=False),
    sa.Column('at', models.types.UTCDateTime(), nullable=False),
    sa.Column('by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('reference', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('grace_ends_at', models.types.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('termination_steps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_termination_steps_step'), ['step'], unique=False)

    op.create_table('retention_plan_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('category', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('keep', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('cutoff', sa.Date(), nullable=False),
    sa.Column('candidates', sa.BigInteger(), nullable=False),
    sa.Column('due', sa.BigInteger(), nullable=False),
    sa.Column('held', sa.BigInteger(), nullable=False),
    sa.Column('restricted', sa.BigInteger(), nullable=False),
    sa.Column('referenced', sa.BigInteger(), nullable=False),
    sa.Column('legal_minimum', sa.BigInteger(), nullable=False),
    sa.Column('holds', sa.Text(), nullable=False),
    sa.Column('oldest', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('newest', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('selection_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('ranges', sa.Text(), nullable=False),
    sa.Column('samples', sa.Text(), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['retention_plans.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('retention_plan_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_retention_plan_items_plan_id'), ['plan_id'], unique=False)

    op.create_table('retention_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('job_run_id', sa.BigInteger(), nullable=True),
    sa.Column('started_at', models.types.UTCDateTime(), nullable=False),
    sa.Column('started_by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('ended_at', models.types.UTCDateTime(), nullable=True),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('phase', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('drift', sa.Text(), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('pages_freed', sa.BigInteger(), nullable=False),
    sa.Column('bytes_freed', sa.BigInteger(), nullable=False),
    sa.Column('file_bytes_before', sa.BigInteger(), nullable=True),
    sa.Column('file_bytes_after', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['plan_id'], ['retention_plans.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('retention_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_retention_runs_job_run_id'), ['job_run_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_retention_runs_plan_id'), ['plan_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_retention_runs_started_at'), ['started_at'], unique=False)

    op.create_table('retention_run_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('category', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('planned', sa.BigInteger(), nullable=False),
    sa.Column('cursor', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('done', sa.Boolean(), nullable=False),
    sa.Column('deleted', sa.BigInteger(), nullable=False),
    sa.Column('anonymized', sa.BigInteger(), nullable=False),
    sa.Column('skipped', sa.BigInteger(), nullable=False),
    sa.Column('held', sa.BigInteger(), nullable=False),
    sa.Column('restricted', sa.BigInteger(), nullable=False),
    sa.Column('referenced', sa.BigInteger(), nullable=False),
    sa.Column('legal_minimum', sa.BigInteger(), nullable=False),
    sa.Column('holds', sa.Text(), nullable=False),
    sa.Column('batches', sa.Integer(), nullable=False),
    sa.Column('batch_rows', sa.Integer(), nullable=False),
    sa.Column('max_batch_ms', sa.Float(), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['retention_runs.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('retention_run_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_retention_run_items_run_id'), ['run_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('retention_run_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_retention_run_items_run_id'))

    op.drop_table('retention_run_items')
    with op.batch_alter_table('retention_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_retention_runs_started_at'))
        batch_op.drop_index(batch_op.f('ix_retention_runs_plan_id'))
        batch_op.drop_index(batch_op.f('ix_retention_runs_job_run_id'))

    op.drop_table('retention_runs')
    with op.batch_alter_table('retention_plan_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_retention_plan_items_plan_id'))

    op.drop_table('retention_plan_items')
    with op.batch_alter_table('termination_steps', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_termination_steps_step'))

    op.drop_table('termination_steps')
    op.drop_table('retention_policies')
    with op.batch_alter_table('retention_plans', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_retention_plans_state'))
        batch_op.drop_index(batch_op.f('ix_retention_plans_created_at'))

    op.drop_table('retention_plans')
    with op.batch_alter_table('legal_holds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_legal_holds_released_at'))
        batch_op.drop_index(batch_op.f('ix_legal_holds_name'))

    op.drop_table('legal_holds')
    with op.batch_alter_table('audit_anchors', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_anchors_last_purged_id'))

    op.drop_table('audit_anchors')
