"""Alembic environment for the local database, on SQLModel.metadata.

CareHub runs migrations itself at start-up (carehub.db), passing its open connection
in config.attributes["connection"]; batch mode lets SQLite alter tables.
"""

from __future__ import annotations

from alembic import context

from carehub.schema import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Run migrations through carehub (carehub init / start-up), not alone.")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
