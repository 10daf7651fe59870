"""The ``headwater`` command."""

from __future__ import annotations

import os

import typer
import uvicorn

from app.audit.cli import audit
from app.auth.cli import tokens
from app.config import get_settings
from app.embedded import EmbeddedPostgres, service_database
from app.gate_cli import gate
from app.logs import configure
from app.origin_cli import origin_cli

cli = typer.Typer(help="Headwater: data provenance for machine learning.", no_args_is_help=True)
cli.command(name="gate")(gate)
cli.add_typer(tokens, name="tokens")
cli.add_typer(audit, name="audit")
cli.add_typer(origin_cli, name="origin")


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
    if settings.workers > 1:
        # the app above has checked the settings; each worker builds its own
        serve_workers(settings.workers)
        return
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )


def serve_workers(workers: int) -> None:
    """HEADWATER_WORKERS processes on one database: this process migrates it (and runs the
    embedded PostgreSQL, when there is no DATABASE_URL) and supervises them."""
    from app import migrate

    settings = get_settings()
    embedded = None
    url = settings.database_url
    if url is None:
        embedded = EmbeddedPostgres(settings.data_dir)
        url = embedded.start()
        os.environ["DATABASE_URL"] = url  # the workers inherit it
    try:
        migrate.upgrade(url)
        uvicorn.run(
            "app.main:from_environment",
            factory=True,
            workers=workers,
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=10,
        )
    finally:
        if embedded is not None:
            embedded.stop()


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
