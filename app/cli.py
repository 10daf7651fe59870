"""The ``headwater`` command."""

from __future__ import annotations

import typer
import uvicorn

from app.audit.cli import audit
from app.auth.cli import tokens
from app.config import get_settings
from app.embedded import service_database
from app.gate_cli import gate
from app.logs import configure
from app.origin_cli import origin_cli
from app.sources.cli import sources_cli

cli = typer.Typer(help="Headwater: data provenance for machine learning.", no_args_is_help=True)
cli.command(name="gate")(gate)
cli.add_typer(tokens, name="tokens")
cli.add_typer(audit, name="audit")
cli.add_typer(origin_cli, name="origin")
cli.add_typer(sources_cli, name="sources")


@cli.command()
def serve() -> None:
    """Migrate the database to head and serve the API (embedded PostgreSQL without DATABASE_URL)."""
    from app.auth.security import AuthMisconfigured
    from app.main import create_app

    settings = get_settings()
    configure(settings.log_level)
    try:
        app = create_app(settings=settings, run_migrations=True)
    except AuthMisconfigured as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
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
    with service_database(settings.database_url, settings.data_dir) as url:
        migrate.upgrade(url)
        typer.echo(f"database at migration {migrate.head_revision()}")


def main() -> None:
    cli()
