"""prevention: the call queue (one row per patient on her care manager's call list)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 06:50:00

- call_queue: per patient on the list, what the call list's order reads that does not
  depend on the hour (priority parts, earliest due date and call-back, calling hours,
  channel), computed for one day and set of rules; ix_call_queue_manager reads one care
  manager's list from the index.
- call_queue_state: the day and rules (digest) each care manager's rows were built for.
- call_queue_stale: patients whose row no longer holds, kept by triggers whenever her
  record, a phone, a reminder, a call or SMS, or a stay coding of hers is written.
Derived data (carehub.prevention.callqueue): rebuilt from the database, never the truth.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, events, the patient's id in NEW/OLD, a condition on the row or '')
_WATCHED = (
    ('patient', ('INSERT', 'UPDATE', 'DELETE'), 'id', ''),
    ('patient_phone', ('INSERT', 'UPDATE', 'DELETE'), 'patient_id', ''),
    ('reminder', ('INSERT', 'UPDATE', 'DELETE'), 'patient_id', ''),
    ('coordination_action', ('INSERT', 'UPDATE', 'DELETE'), 'patient_id', ''),
    # Only encounters make a recent stay (carehub.prevention.priority._RECENT_STAY_SQL).
    ('fact_coding', ('INSERT', 'UPDATE', 'DELETE'), 'patient_id', "{row}.kind = 'encounter'"),
)


def _triggers() -> list[tuple[str, str]]:
    found = []
    for table, events, column, condition in _WATCHED:
        for event in events:
            rows = ('OLD',) if event == 'DELETE' else ('NEW', 'OLD') if event == 'UPDATE' \
                else ('NEW',)
            for row in rows:
                name = f'trg_call_queue_stale_{table}_{event.lower()}_{row.lower()}'
                when = f' WHEN {condition.format(row=row)}' if condition else ''
                found.append((name, f'CREATE TRIGGER {name} AFTER {event} ON {table}{when} '
                                    f'BEGIN INSERT OR IGNORE INTO call_queue_stale '
                                    f'(patient_id) VALUES ({row}.{column}); END'))
    return found


def upgrade() -> None:
    op.create_table(
        'call_queue',
        sa.Column('patient_id', sa.Uuid(), nullable=False),
        sa.Column('manager_id', sa.Uuid(), nullable=False),
        sa.Column('top', sa.Integer(), nullable=False),
        sa.Column('callbacks', sa.String(), nullable=True),
        sa.Column('rest', sa.Integer(), nullable=False),
        sa.Column('due', sa.Date(), nullable=False),
        sa.Column('planned', sa.String(), nullable=True),
        sa.Column('phoned', sa.Boolean(), nullable=False),
        sa.Column('before', sa.String(length=8), nullable=True),
        sa.Column('available', sa.String(length=8), nullable=True),
        sa.Column('sort_key', sa.String(), nullable=False),
        sa.PrimaryKeyConstraint('patient_id'),
    )
    with op.batch_alter_table('call_queue', schema=None) as batch_op:
        batch_op.create_index('ix_call_queue_manager', ['manager_id', 'patient_id', 'top',
                                                        'callbacks', 'rest', 'due', 'planned',
                                                        'phoned', 'before', 'available',
                                                        'sort_key'], unique=False)
    op.create_table(
        'call_queue_state',
        sa.Column('manager_id', sa.Uuid(), nullable=False),
        sa.Column('digest', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('manager_id'),
    )
    op.create_table(
        'call_queue_stale',
        sa.Column('patient_id', sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint('patient_id'),
    )
    for _name, sql in _triggers():
        op.execute(sql)


def downgrade() -> None:
    for name, _sql in _triggers():
        op.execute(f'DROP TRIGGER IF EXISTS {name}')
    op.drop_table('call_queue_stale')
    op.drop_table('call_queue_state')
    with op.batch_alter_table('call_queue', schema=None) as batch_op:
        batch_op.drop_index('ix_call_queue_manager')
    op.drop_table('call_queue')
