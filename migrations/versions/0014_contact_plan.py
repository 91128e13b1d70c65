"""prevention: the contact plan (capacity per care manager, the day of each patient)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 02:30:00

- plan_capacity: calls per working day and working days of each care manager (default
  30 a day, Monday to Friday, when she has no row), and the day her plan was built for.
- plan_assignment: the day each due patient is planned on, kept from one rebuild to the
  next (stable placement); ix_plan_day reads one day of one plan from the index.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'plan_capacity',
        sa.Column('user_id', sa.Uuid(), nullable=False),
        sa.Column('per_day', sa.Integer(), nullable=False),
        sa.Column('days', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column('built_on', sa.Date(), nullable=True),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ),
        sa.PrimaryKeyConstraint('user_id'),
    )
    op.create_table(
        'plan_assignment',
        sa.Column('user_id', sa.Uuid(), nullable=False),
        sa.Column('patient_id', sa.Uuid(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column('urgent', sa.Boolean(), nullable=False),
        sa.Column('pinned', sa.Boolean(), nullable=False),
        sa.Column('carried_from', sa.Date(), nullable=True),
        sa.Column('rank', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
        sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ),
        sa.PrimaryKeyConstraint('user_id', 'patient_id'),
    )
    with op.batch_alter_table('plan_assignment', schema=None) as batch_op:
        batch_op.create_index('ix_plan_day', ['user_id', 'day', 'patient_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('plan_assignment', schema=None) as batch_op:
        batch_op.drop_index('ix_plan_day')
    op.drop_table('plan_assignment')
    op.drop_table('plan_capacity')
