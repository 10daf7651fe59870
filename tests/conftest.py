"""The database harness: a real PostgreSQL, migrated with Alembic, one transaction per test.

The server is ``HEADWATER_TEST_DATABASE_URL`` or ``DATABASE_URL`` when set, else an embedded
PostgreSQL kept under ``.headwater-test/``. Tests run in a database of their own on it, created
afresh for each session.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app import migrate
from app.cli import cli
from app.config import get_settings
from app.db import get_session, normalize_url
from app.embedded import EmbeddedPostgres
from app.group_commit import GroupCommit, get_group_commit
from app.main import create_app
from app.serve_probe import NotReady, free_port, launch, wait_ready

ROOT = Path(__file__).resolve().parent.parent
TABLES = (
    "training_run_verdicts, training_runs, propagation_jobs, lineage_events, edges, artifacts,"
    " audit_entries, audit_head, tokens, retracted_edges, retractions, aliases"
)


@pytest.fixture(scope="session")
def server() -> Iterator[URL]:
    configured = os.environ.get("HEADWATER_TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if configured:
        yield make_url(normalize_url(configured))
        return
    embedded = EmbeddedPostgres(ROOT / ".headwater-test")
    uri = embedded.start()
    yield make_url(normalize_url(uri))
    embedded.stop(only_if_started_here=True)


def fresh_database(server: URL, name: str) -> URL:
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return server.set(database=name)


@pytest.fixture(scope="session")
def database_url(server: URL) -> str:
    """A migrated database for in-process tests; each test rolls its work back."""
    name = (server.database or "headwater") + "_test"
    url = fresh_database(server, name)
    rendered = url.render_as_string(hide_password=False)
    migrate.upgrade(rendered)
    return rendered


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn:
        outer = conn.begin()
        yield conn
        outer.rollback()


@pytest.fixture
def session(connection: Connection) -> Iterator[Session]:
    with Session(bind=connection, join_transaction_mode="create_savepoint") as session:
        yield session


@contextmanager
def within(session: Session) -> Iterator[Session]:
    """A transaction in ``session``: with the test's session, a savepoint of its transaction."""
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise


def serve_from(app: FastAPI, session: Session) -> None:
    """Make every request of ``app`` run in ``session`` (the test's rolled-back transaction),
    the groups of single OpenLineage events too."""

    def test_session() -> Iterator[Session]:
        with within(session):
            yield session

    group_commit = GroupCommit(lambda: within(session), get_settings().group_commit_max_events)
    app.dependency_overrides[get_session] = test_session
    app.dependency_overrides[get_group_commit] = lambda: group_commit


@pytest.fixture
def client(database_url: str, session: Session) -> Iterator[TestClient]:
    """The app in-process, every request inside the test's rolled-back transaction."""
    app = create_app(database_url, run_worker=False)
    serve_from(app, session)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


# Committed data: for real HTTP, real concurrent connections and crash tests.


@pytest.fixture(scope="session")
def committed_url(server: URL) -> str:
    name = (server.database or "headwater") + "_committed"
    rendered = fresh_database(server, name).render_as_string(hide_password=False)
    migrate.upgrade(rendered)
    return rendered


def truncate(url: str) -> None:
    """Empty the tables tests write to; the policies the migrations seeded stay."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {TABLES} CASCADE"))
    engine.dispose()


@pytest.fixture
def committed(committed_url: str) -> Iterator[str]:
    """A migrated database whose lineage tables are emptied after the test."""
    yield committed_url
    truncate(committed_url)


class LiveServer:
    """``headwater serve`` in a subprocess, over real HTTP."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **env, "HEADWATER_PORT": str(self.port)}
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> LiveServer:
        self.log = open(self.cwd / f"server-{self.port}.log", "ab")  # noqa: SIM115
        self.process = launch([sys.executable, "-m", "app", "serve"], self.env, ROOT, self.log)
        try:
            wait_ready(self.process, self.url, timeout)
        except NotReady as exc:
            # a server left running would hold its database connections for the whole session
            self.stop()
            raise RuntimeError(f"server {exc}: {self.logs()}") from exc
        return self

    def logs(self) -> str:
        return (self.cwd / f"server-{self.port}.log").read_text(errors="replace")[-4000:]

    def stop(self, sig: int = 15) -> int:
        assert self.process is not None
        self.process.send_signal(sig)
        code = self.process.wait(timeout=60)
        self.log.close()
        return code

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)


def serving(url: str, logs: Path, env: dict[str, str] | None = None) -> Iterator[LiveServer]:
    server = LiveServer(
        {"DATABASE_URL": url, "HEADWATER_LOG_LEVEL": "warning", **(env or {})}, logs
    )
    server.start()
    try:
        yield server
    finally:
        if server.process is not None and server.process.poll() is None:
            server.stop()


# Tests of concurrency and crashes run against one process and against several on one database:
# @pytest.mark.parametrize("live_server", WORKERS, indirect=True)
WORKERS = [pytest.param(1, id="1-worker"), pytest.param(4, id="4-workers")]


@pytest.fixture
def live_server(
    committed: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[LiveServer]:
    """``headwater serve`` for one test on the committed database (emptied afterwards), with
    ``HEADWATER_WORKERS`` = the parameter (default 1)."""
    workers = str(getattr(request, "param", 1))
    yield from serving(committed, tmp_path, {"HEADWATER_WORKERS": workers})


@pytest.fixture(scope="module")
def server_env() -> dict[str, str]:
    """Settings beyond the database for a module's shared server; a module overrides it."""
    return {}


@pytest.fixture(scope="module")
def module_server(
    committed_url: str, server_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """One ``headwater serve`` shared by a module's tests (starting one takes seconds), on the
    committed database, emptied before it starts and after it stops."""
    truncate(committed_url)
    try:
        yield from serving(committed_url, tmp_path_factory.mktemp("server"), server_env)
    finally:
        truncate(committed_url)


# The command: in this process, as a shell would run it (starting an interpreter for each run
# costs seconds; tests that need a process of its own start one).


@dataclass(frozen=True)
class Done:
    returncode: int
    stdout: str
    stderr: str


def headwater(
    *args: str, env: Mapping[str, str | None] | None = None, stdin: str | None = None
) -> Done:
    """``headwater ARGS``: the typer app parses the flags and the environment (this process's,
    without its ``HEADWATER_`` settings, plus ``env``, where None removes a variable), reads
    standard input, and exits with its code; the settings are read afresh."""
    environment: dict[str, str | None] = {k: None for k in os.environ if k.startswith("HEADWATER_")}
    environment.update({"COLUMNS": "80", **(env or {})})
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, list(args), input=stdin, env=environment)
    finally:
        get_settings.cache_clear()
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Done(result.exit_code, result.stdout, result.stderr)
