"""cohort: fact columns copied onto codings with one covering index; saved searches

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 18:40:00

Each coding gets its fact's kind, status and dates (filled here from clinical_fact, then
by whoever writes facts), and two indexes cover every column a cohort criterion reads:
ix_coding_cohort (by code: the patients having some codes) and ix_coding_patient (by
patient: one patient's codings), so a criterion never looks a fact up. ix_coding_cohort
replaces ix_coding_system_code (system, code, patient_id), which it extends.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('fact_coding', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=12),
                                      nullable=True))
        batch_op.add_column(sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20),
                                      nullable=True))
        batch_op.add_column(sa.Column('start_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('end_date', sa.Date(), nullable=True))
    op.execute("""
        UPDATE fact_coding SET kind = f.kind, status = f.status, start_date = f.start_date,
                               end_date = f.end_date
        FROM clinical_fact AS f WHERE f.id = fact_coding.fact_id
    """)
    with op.batch_alter_table('fact_coding', schema=None) as batch_op:
        batch_op.alter_column('kind', existing_type=sqlmodel.sql.sqltypes.AutoString(length=12),
                              nullable=False)
        batch_op.drop_index('ix_coding_system_code')
        batch_op.create_index('ix_coding_cohort', ['system', 'code', 'kind', 'start_date',
                                                   'end_date', 'status', 'patient_id'],
                              unique=False)
        batch_op.create_index('ix_coding_patient', ['patient_id', 'system', 'code', 'kind',
                                                    'start_date', 'end_date', 'status'],
                              unique=False)

    op.create_table('saved_search',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('expr', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('saved_search', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_saved_search_name'), ['name'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('saved_search', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_saved_search_name'))
    op.drop_table('saved_search')
    with op.batch_alter_table('fact_coding', schema=None) as batch_op:
        batch_op.drop_index('ix_coding_patient')
        batch_op.drop_index('ix_coding_cohort')
        batch_op.create_index('ix_coding_system_code', ['system', 'code', 'patient_id'],
                              unique=False)
        batch_op.drop_column('end_date')
        batch_op.drop_column('start_date')
        batch_op.drop_column('status')
        batch_op.drop_column('kind')
