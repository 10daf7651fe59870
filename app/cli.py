"""The ``headwater`` command."""

from __future__ import annotations

import typer
import uvicorn

from app.config import get_settings
from app.embedded import EmbeddedPostgres
from app.gate_cli import gate
from app.logs import configure
from app.sources.cli import sources_cli

cli = typer.Typer(help="Headwater: data provenance for machine learning.", no_args_is_help=True)
cli.command(name="gate")(gate)
cli.add_typer(sources_cli, name="sources")


@cli.command()
def serve() -> None:
    """Migrate the database to head and serve the API (embedded PostgreSQL without DATABASE_URL)."""
    from app.main import create_app

    settings = get_settings()
    configure(settings.log_level)
    app = create_app(settings=settings, run_migrations=True)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )


@cli.command(name="migrate")
def migrate_command() -> None:
    """Migrate the database to head, and stop."""
    from app import migrate

    settings = get_settings()
    configure(settings.log_level)
    embedded = None
    url = settings.database_url
    if url is None:
        embedded = EmbeddedPostgres(settings.data_dir)
        url = embedded.start()
    try:
        migrate.upgrade(url)
        typer.echo(f"database at migration {migrate.head_revision()}")
    finally:
        if embedded is not None:
            embedded.stop(only_if_started_here=True)


def main() -> None:
    cli()
