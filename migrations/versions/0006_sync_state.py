"""sync state: clocks, hub cursors, conflicts, delivery and refusals of outbox entries

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-01 18:40:00
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    meta = op.create_table('sync_meta',
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('value', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    # This workstation's id in hybrid logical clocks.
    op.bulk_insert(meta, [{'key': 'node', 'value': uuid.uuid4().hex[:12]}])
    op.create_table('sync_hub',
    sa.Column('hub', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('cursor', sa.Integer(), nullable=False),
    sa.Column('last_attempt_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('last_success_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('last_error_fr', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.PrimaryKeyConstraint('hub')
    )
    op.create_table('sync_field_clock',
    sa.Column('entity', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('entity_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('field', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('hlc', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.PrimaryKeyConstraint('entity', 'entity_id', 'field')
    )
    op.create_table('sync_conflict',
    sa.Column('kept_value', sa.JSON(), nullable=True),
    sa.Column('overwritten_value', sa.JSON(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('entity', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('entity_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('field', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('kept_hlc', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('overwritten_hlc', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('kept_from', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('overwritten_from', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('resolved_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('resolved_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('resolution', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('sync_conflict', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sync_conflict_patient_id'), ['patient_id'], unique=False)
    op.create_table('sync_action_export',
    sa.Column('action_id', sa.Uuid(), nullable=False),
    sa.Column('target', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('exported_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('action_id', 'target')
    )
    with op.batch_alter_table('outbox_entry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hlc', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('acked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('refused_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('refusal_code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        batch_op.add_column(sa.Column('refusal_reason', sqlmodel.sql.sqltypes.AutoString(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbox_entry', schema=None) as batch_op:
        batch_op.drop_column('refusal_reason')
        batch_op.drop_column('refusal_code')
        batch_op.drop_column('refused_at')
        batch_op.drop_column('acked_at')
        batch_op.drop_column('hlc')
    op.drop_table('sync_action_export')
    with op.batch_alter_table('sync_conflict', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sync_conflict_patient_id'))
    op.drop_table('sync_conflict')
    op.drop_table('sync_field_clock')
    op.drop_table('sync_hub')
    op.drop_table('sync_meta')
