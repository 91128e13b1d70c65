"""A fresh local database copied from the session's migrated template."""

from __future__ import annotations

import shutil
from pathlib import Path

from carehub.db import Database, open_database
from carehub.keystore import KeyFileStore


def fresh_database(folder: Path, template: tuple[Path, str]) -> Database:
    """A copy of the migrated template (communes loaded), its key in a key file."""
    source, key = template
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "carehub.db"
    shutil.copy(source, target)
    shutil.copy(source.with_name(source.name + ".keycheck"),
                target.with_name(target.name + ".keycheck"))
    (folder / "key").write_text(key)
    return open_database(target, KeyFileStore(folder / "key"))
