"""The database stops under load and comes back: 503s with Retry-After meanwhile, no hang,
recovery without a restart, and no acknowledged write lost."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send

from app import migrate
from app.db import Database, normalize_url, unavailable
from app.http import InFlightLimitMiddleware
from app.main import create_app
from benchmarks.outage import Post, Writers, post_dataset
from tests.conftest import LiveServer
from tests.scratch_postgres import ScratchPostgres
from tests.test_process import post_event


@pytest.fixture
def cluster() -> Iterator[ScratchPostgres]:
    postgres = ScratchPostgres().start()
    yield postgres
    postgres.destroy()


@pytest.mark.slow
@pytest.mark.parametrize("post", [post_dataset, post_event], ids=["datasets", "openlineage"])
def test_a_database_restart_under_load_is_503s_then_recovery(
    cluster: ScratchPostgres, tmp_path: Path, post: Post
) -> None:
    migrate.upgrade(cluster.url)
    server = LiveServer(
        {"DATABASE_URL": cluster.url, "HEADWATER_LOG_LEVEL": "error"}, tmp_path
    ).start()
    try:
        with Writers(server.url, count=8, post=post) as writers:
            writers.wait_for(201, 40)
            cluster.stop()
            writers.wait_for(503, 20)
            ready = httpx.get(server.url + "/readyz", timeout=30)
            assert ready.status_code == 503
            cluster.start()
            writers.wait_for(201, 40)
        answered = {a.status for a in writers.answers}
        assert answered <= {201, 503}, [
            a.response.text for a in writers.answers if a.status not in (201, 503)
        ][:3]
        assert writers.transport_errors == []
        for refused in (a.response for a in writers.answers if a.status == 503):
            assert refused.headers["retry-after"].isdigit()
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.json()["type"] == "/api/v1/problems/unavailable"
        assert httpx.get(server.url + "/readyz", timeout=30).status_code == 200
    finally:
        server.stop()

    engine = create_engine(normalize_url(cluster.url))
    with engine.connect() as conn:
        stored = set(
            # the OpenLineage writers' versions are in a namespace of their own (crash-ol)
            conn.scalars(
                text("SELECT name FROM artifacts WHERE namespace IN ('outage', 'crash-ol')")
            ).all()
        )
    engine.dispose()
    lost = set(writers.acknowledged) - stored
    assert not lost, f"{len(lost)} acknowledged writes lost"


def test_an_exhausted_pool_answers_503_at_once(database_url: str) -> None:
    app = create_app(database_url, run_worker=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        app.state.database.dispose()
        app.state.database = Database.connect(
            database_url, pool_size=1, max_overflow=0, pool_timeout=0.2
        )
        with app.state.database.engine.connect() as held:
            held.execute(text("SELECT 1"))
            response = client.get("/api/v1/datasets")
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"].isdigit()
        assert "busy" in response.json()["detail"]
        assert client.get("/api/v1/datasets").status_code == 200
        app.state.database.dispose()


def test_requests_past_the_in_flight_limit_answer_503_at_once() -> None:
    release = asyncio.Event()

    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        await release.wait()
        await PlainTextResponse("done")(scope, receive, send)

    limited = InFlightLimitMiddleware(slow, limit=2)

    async def scenario() -> list[int]:
        transport = httpx.ASGITransport(app=limited)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            held = [asyncio.create_task(client.get("/api/v1/datasets")) for _ in range(2)]
            while limited.in_flight < 2:
                await asyncio.sleep(0.01)
            refused = await client.get("/api/v1/datasets")
            probe = asyncio.create_task(client.get("/healthz"))
            await asyncio.sleep(0.05)
            assert refused.headers["retry-after"].isdigit()
            assert refused.json()["type"] == "/api/v1/problems/unavailable"
            release.set()
            answered = [await task for task in (*held, probe)]
            after = await client.get("/api/v1/datasets")
            return [refused.status_code, *(r.status_code for r in answered), after.status_code]

    assert asyncio.run(scenario()) == [503, 200, 200, 200, 200]


class _Failure(Exception):
    """A driver error carrying the SQLSTATE PostgreSQL sent."""

    def __init__(self, sqlstate: str | None) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (PoolTimeout("no connection"), True),
        (InterfaceError("SELECT 1", None, _Failure(None)), True),
        (OperationalError("SELECT 1", None, _Failure("08006")), True),  # connection failure
        (OperationalError("SELECT 1", None, _Failure("57P01")), True),  # admin shutdown
        (OperationalError("SELECT 1", None, _Failure(None)), True),  # no answer at all
        (OperationalError("SELECT 1", None, _Failure("40001")), False),  # serialization
        (OperationalError("SELECT 1", None, _Failure("57014")), False),  # statement timeout
        (ValueError("not the database"), False),
    ],
)
def test_the_database_is_unavailable_only_when_no_statement_was_at_fault(
    error: Exception, expected: bool
) -> None:
    assert unavailable(error) is expected
