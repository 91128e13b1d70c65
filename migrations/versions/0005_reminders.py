"""prevention reminders

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 18:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('reminder',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('label_fr', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('planned_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('postponed_until', sa.Date(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('escalation', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
    sa.Column('explanation_fr', sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('last_done', sa.Date(), nullable=True),
    sa.Column('campaign_id', sa.Uuid(), nullable=True),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('closed_on', sa.Date(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('reminder', schema=None) as batch_op:
        batch_op.create_index('ix_reminder_patient_reason', ['patient_id', 'reason', 'state'],
                              unique=False)
        batch_op.create_index('ix_reminder_state_due', ['state', 'due_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_reminder_campaign_id'), ['campaign_id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('reminder', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reminder_campaign_id'))
        batch_op.drop_index('ix_reminder_state_due')
        batch_op.drop_index('ix_reminder_patient_reason')
    op.drop_table('reminder')
