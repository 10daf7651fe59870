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
            policies = conn.execute(
                text("SELECT name, version, rules FROM policies ORDER BY version")
            ).all()
            assert {p.name for p in policies} == {"default"}
            assert [p.version for p in policies] == list(range(1, len(policies) + 1))
            assert "sources_preserved" not in policies[0].rules
            assert policies[-1].rules["sources_preserved"]["pass_at_least"] == 0.9

        migrate.downgrade(rendered, "base")
        assert set(inspect(engine).get_table_names()) == {"alembic_version"}
        migrate.upgrade(rendered)
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    finally:
        engine.dispose()
