"""The schema is owned by Alembic: head equals the models, and downgrade/upgrade round-trips."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import URL

from app import migrate
from app.models import metadata
from tests.conftest import fresh_database


def test_head_is_exactly_the_models_and_round_trips(server: URL) -> None:
    url = fresh_database(server, (server.database or "headwater") + "_migrations")
    rendered = url.render_as_string(hide_password=False)
    engine = create_engine(rendered)
    try:
        migrate.upgrade(rendered)
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
            assert diff == [], diff
            assert migrate.current_revision(engine) == migrate.head_revision()
            policies = conn.execute(text("SELECT name, version FROM policies")).all()
            assert [tuple(p) for p in policies] == [("default", 1), ("default", 2)]

        migrate.downgrade(rendered, "base")
        assert set(inspect(engine).get_table_names()) == {"alembic_version"}
        migrate.upgrade(rendered)
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    finally:
        engine.dispose()
