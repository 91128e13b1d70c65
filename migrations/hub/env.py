"""Alembic environment for the team hub (PostgreSQL), apart from the local chain.

carehub.sync.hub_admin.migrate_hub passes an open connection in
config.attributes["connection"]; the hub's tables are written in plain SQL in the
revisions (row-level security policies and grants have no autogenerate support).
"""

from __future__ import annotations

from alembic import context

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Run hub migrations through `carehub hub migrate`, not alone.")

context.configure(connection=connection, target_metadata=None, transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
