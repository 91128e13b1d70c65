"""directory: drop the three indexes no query reads

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 21:50:00

Every query of the directory (carehub/directory, ui/) reaches practitioner_activity through
ix_activity_place or its id, and practitioner through its id. ix_practitioner_active,
ix_practitioner_import_id and ix_practitioner_activity_practitioner_id served only the
import's own statements (a deactivation, a count, the re-import's delete), which scan the
table once each as cheaply; rebuilding them cost a third of a first import's index time,
and keeping them up to date slowed every re-import.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('practitioner_activity', schema=None) as batch_op:
        batch_op.drop_index('ix_practitioner_activity_practitioner_id')
    with op.batch_alter_table('practitioner', schema=None) as batch_op:
        batch_op.drop_index('ix_practitioner_import_id')
        batch_op.drop_index('ix_practitioner_active')


def downgrade() -> None:
    with op.batch_alter_table('practitioner', schema=None) as batch_op:
        batch_op.create_index('ix_practitioner_active', ['active'], unique=False)
        batch_op.create_index('ix_practitioner_import_id', ['import_id'], unique=False)
    with op.batch_alter_table('practitioner_activity', schema=None) as batch_op:
        batch_op.create_index('ix_practitioner_activity_practitioner_id', ['practitioner_id'],
                              unique=False)
