"""The ``headwater`` command."""

from __future__ import annotations

import faulthandler
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import typer
import uvicorn

from app.audit.cli import audit
from app.auth.cli import tokens
from app.config import Settings, get_settings
from app.embedded import DataDirBusy, DataDirLock, EmbeddedPostgres, service_database
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


def lock_data_dir(settings: Settings) -> DataDirLock | None:
    """Refuse to start on a data folder another service uses (its embedded PostgreSQL is
    shared); the caller holds the lock while it runs."""
    if settings.database_url is not None:
        return None
    try:
        return DataDirLock(settings.data_dir).acquire()
    except DataDirBusy as exc:
        typer.echo(f"headwater: {exc}", err=True)
        raise typer.Exit(1) from None


@cli.command()
def serve() -> None:
    """Migrate the database to head and serve the API (embedded PostgreSQL without DATABASE_URL)."""
    from app.auth.security import AuthMisconfigured
    from app.main import create_app

    settings = get_settings()
    configure(settings.log_level)
    # a crash in native code (a C extension) writes every thread's Python stack to stderr
    # before the process dies, so that it can be traced; worker processes inherit the setting
    faulthandler.enable()
    os.environ.setdefault("PYTHONFAULTHANDLER", "1")
    data_dir_lock = lock_data_dir(settings)
    try:
        try:
            app = create_app(settings=settings, run_migrations=True)
        except AuthMisconfigured as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        if settings.workers > 1:
            # the app above has checked the settings; each worker process builds its own
            serve_workers(settings)
            return
        config = uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            # SIGTERM: stop accepting, let requests in flight finish (up to this many seconds),
            # then the lifespan stops the worker, the pool and, last, the embedded PostgreSQL
            timeout_graceful_shutdown=settings.shutdown_grace_seconds,
        )
        server = CleanStopServer(config)
        server.run()
        if not server.started:
            raise typer.Exit(3)
    finally:
        if data_dir_lock is not None:
            data_dir_lock.release()


class CleanStopServer(uvicorn.Server):
    """uvicorn's server, except that a stop asked for by SIGINT or SIGTERM ends with exit
    status 0 instead of re-raising the signal: a clean stop is a success (and `make run`
    does not report it as ``Terminated``)."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def serve_workers(settings: Settings) -> None:
    """HEADWATER_WORKERS processes on one database: this process migrates it (and runs the
    embedded PostgreSQL, when there is no DATABASE_URL) and supervises them."""
    from app import migrate

    embedded = None
    url = settings.database_url
    if url is None:
        embedded = EmbeddedPostgres(settings.data_dir)
        url = embedded.start()
        os.environ["DATABASE_URL"] = url  # the workers inherit it
    # /metrics in any worker adds up what every worker counted (see app.metrics)
    metrics_dir = None
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        metrics_dir = tempfile.mkdtemp(prefix="headwater-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        migrate.upgrade(url)
        uvicorn.run(
            "app.main:from_environment",
            factory=True,
            workers=settings.workers,
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=settings.shutdown_grace_seconds,
        )
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
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
