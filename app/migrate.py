"""Schema migrations, runnable from the installed package (``headwater migrate``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

import migrations
from app.db import normalize_url

SCRIPT_LOCATION = Path(migrations.__file__).parent
VERSION_TABLE = "alembic_version"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def head_revision() -> str | None:
    return ScriptDirectory(str(SCRIPT_LOCATION)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None: never migrated). Read from Alembic's table
    directly: the readiness probe asks every few seconds, and a migration context logs twice
    each time one is made."""
    with engine.connect() as conn:
        if not inspect(conn).has_table(VERSION_TABLE):
            return None
        revision: str | None = conn.execute(
            text(f"SELECT version_num FROM {VERSION_TABLE}")
        ).scalar()
        return revision
