"""workload: indexes for the period figures, the coverage cache and its staleness triggers

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-01 22:00:00

- ix_action_period (at, author, type, outcome, duration_s, id) answers the actions of a
  period by author and type from the index alone; ix_action_calls (type, at, author,
  outcome, id) the calls per week (it extends ix_action_type_at, which it replaces);
  ix_action_amends finds whether an action was corrected without scanning a million.
- ix_reminder_overdue (patient_id, due_date, state, closed_on, postponed_until): the
  overdue reminders per patient without reading reminder rows; ix_patient_followed the
  followed patients per care manager and fragility level without reading patient rows.
- coverage_cache / coverage_cache_state / coverage_stale (carehub.workload.models), and
  triggers marking a patient stale whenever her record, a fact, a coding or a reminder
  of hers is written.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0012'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, events, the patient's id in NEW/OLD)
_WATCHED = (
    ('patient', ('INSERT', 'UPDATE', 'DELETE'), 'id'),
    ('clinical_fact', ('UPDATE',), 'patient_id'),  # its codings are written with it
    ('fact_coding', ('INSERT', 'UPDATE', 'DELETE'), 'patient_id'),
    ('reminder', ('INSERT', 'UPDATE', 'DELETE'), 'patient_id'),
)


def _triggers() -> list[tuple[str, str]]:
    found = []
    for table, events, column in _WATCHED:
        for event in events:
            row = 'OLD' if event == 'DELETE' else 'NEW'
            name = f'trg_coverage_stale_{table}_{event.lower()}'
            found.append((name, f'CREATE TRIGGER {name} AFTER {event} ON {table} BEGIN '
                                f'INSERT OR IGNORE INTO coverage_stale (patient_id) '
                                f'VALUES ({row}.{column}); END'))
    return found


def upgrade() -> None:
    op.create_table(
        'coverage_cache',
        sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('patient_id', sa.Uuid(), nullable=False),
        sa.Column('up_to_date', sa.Boolean(), nullable=False),
        sa.Column('care_manager_id', sa.Uuid(), nullable=True),
        sa.PrimaryKeyConstraint('code', 'patient_id'),
    )
    op.create_table(
        'coverage_cache_state',
        sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('as_of', sa.Date(), nullable=False),
        sa.Column('rules_digest', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint('code'),
    )
    op.create_table(
        'coverage_stale',
        sa.Column('patient_id', sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint('patient_id'),
    )
    for _name, sql in _triggers():
        op.execute(sql)
    with op.batch_alter_table('coordination_action', schema=None) as batch_op:
        batch_op.drop_index('ix_action_type_at')
        batch_op.create_index('ix_action_period', ['at', 'author', 'type', 'outcome',
                                                   'duration_s', 'id'], unique=False)
        batch_op.create_index('ix_action_calls', ['type', 'at', 'author', 'outcome', 'id'],
                              unique=False)
        batch_op.create_index('ix_action_amends', ['amends_id'], unique=False,
                              sqlite_where=sa.text('amends_id IS NOT NULL'))
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.create_index('ix_patient_followed', ['status', 'deceased_date',
                                                      'care_manager_id', 'fragility_level',
                                                      'id'], unique=False)
    with op.batch_alter_table('reminder', schema=None) as batch_op:
        batch_op.create_index('ix_reminder_overdue', ['patient_id', 'due_date', 'state',
                                                      'closed_on', 'postponed_until'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('reminder', schema=None) as batch_op:
        batch_op.drop_index('ix_reminder_overdue')
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.drop_index('ix_patient_followed')
    with op.batch_alter_table('coordination_action', schema=None) as batch_op:
        batch_op.drop_index('ix_action_amends')
        batch_op.drop_index('ix_action_calls')
        batch_op.drop_index('ix_action_period')
        batch_op.create_index('ix_action_type_at', ['type', 'at'], unique=False)
    for name, _sql in _triggers():
        op.execute(f'DROP TRIGGER IF EXISTS {name}')
    op.drop_table('coverage_stale')
    op.drop_table('coverage_cache_state')
    op.drop_table('coverage_cache')
