"""The hub's schema migrations (migrations/hub): where they live and which head they reach."""

from __future__ import annotations

from alembic.config import Config
from alembic.script import ScriptDirectory

from carehub.paths import migrations_dir


def hub_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir() / "hub"))
    return config


def hub_script() -> ScriptDirectory:
    return ScriptDirectory.from_config(hub_config())
