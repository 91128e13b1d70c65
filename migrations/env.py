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



def include_object(obj: object, name: str | None, type_: str, reflected: bool,
                   compare_to: object) -> bool:
    # The R*Tree over communes is a virtual table made by hand in 0003: never drop it.
    return not (type_ == "table" and reflected and compare_to is None
                and (name or "").startswith("commune_rtree"))


context.configure(
    connection=connection,
    target_metadata=metadata,
    include_object=include_object,
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
