"""The connection pool: a connection the server closed while it sat idle is replaced before a
request uses it, and taking one from the pool sends nothing to the server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from app.db import Database


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    database = Database.connect(database_url, pool_size=1, max_overflow=0)
    yield database
    database.dispose()


def backend_pid(database: Database) -> int:
    with database.read_sessions() as session:
        pid: int = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        return pid


def terminate(database_url: str, pid: int) -> None:
    other = Database.connect(database_url)
    try:
        with other.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
            deadline = time.monotonic() + 10
            while conn.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
            ).scalar():
                assert time.monotonic() < deadline, "the backend did not exit"
                time.sleep(0.05)
        time.sleep(0.2)  # its socket closes as the process exits, just after it leaves the list
    finally:
        other.dispose()


def test_a_connection_the_server_closed_is_replaced_before_use(
    database: Database, database_url: str
) -> None:
    first = backend_pid(database)
    terminate(database_url, first)

    # a read (each statement its own transaction) and a write transaction both find a live one
    second = backend_pid(database)
    assert second != first
    terminate(database_url, second)
    with database.sessions() as session:
        assert session.execute(text("SELECT pg_backend_pid()")).scalar_one() != second
        session.commit()


def test_taking_a_connection_from_the_pool_sends_nothing(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings: list[Any] = []
    dialect = database.engine.dialect
    original = dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pings.append(dbapi_connection)
        return original(dbapi_connection)

    monkeypatch.setattr(dialect, "do_ping", counted)
    for _ in range(3):
        backend_pid(database)
    assert pings == []
