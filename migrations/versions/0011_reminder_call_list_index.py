"""prevention: a covering index for the day's call list

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-01 20:30:00

ix_reminder_call_list holds every reminder column the call list's order reads (by patient:
state, dates, escalation, points, reason), so ordering a 50,000-patient team's ~200,000
reminders reads the index alone instead of one wide reminder row per reminder.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0011'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('reminder', schema=None) as batch_op:
        batch_op.create_index('ix_reminder_call_list',
                              ['patient_id', 'state', 'due_date', 'planned_at',
                               'postponed_until', 'escalation', 'points', 'reason'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('reminder', schema=None) as batch_op:
        batch_op.drop_index('ix_reminder_call_list')
