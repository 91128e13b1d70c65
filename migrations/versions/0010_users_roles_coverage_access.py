"""users: passwords, coverage (who covers for whom) and break-the-glass access grants

Revision ID: 0010
Revises: 0011
Create Date: 2026-12-01 19:45:00

app_user gets an argon2id password hash (NULL: the OS account signs in); coverage says who
covers for a colleague's caseload or one patient between two dates; access_grant keeps
every "open anyway" with its reason and expiry, for the supervisor.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0010'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('password_hash',
                                      sqlmodel.sql.sqltypes.AutoString(length=255),
                                      nullable=True))
        batch_op.add_column(sa.Column('password_changed_at',
                                      sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))

    op.create_table('coverage',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('covered_user_id', sa.Uuid(), nullable=True),
    sa.Column('patient_id', sa.Uuid(), nullable=True),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('ended_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['covered_user_id'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('coverage', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_coverage_user_id'), ['user_id'], unique=False)

    op.create_table('access_grant',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('access_grant', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_access_grant_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_grant_patient_id'), ['patient_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_access_grant_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('access_grant', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_grant_user_id'))
        batch_op.drop_index(batch_op.f('ix_access_grant_patient_id'))
        batch_op.drop_index(batch_op.f('ix_access_grant_at'))
    op.drop_table('access_grant')
    with op.batch_alter_table('coverage', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_coverage_user_id'))
    op.drop_table('coverage')
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.drop_column('password_changed_at')
        batch_op.drop_column('password_hash')
