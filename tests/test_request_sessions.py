"""The request's session as the service runs it (``get_session``, not the suite's override):
a write commits before its answer and a failed one leaves nothing; a GET, and a route that
writes nothing, run without a transaction, unless the GET writes first; every request gives
its connection back; and the token check, which runs its query in a worker thread, still
answers 401, 403 and 429."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from app.auth import service as auth_service
from app.auth.schemas import TokenCreate
from app.config import Settings
from app.db import Database, SessionDep, writes_first, writes_nothing
from app.main import create_app
from tests.auth.conftest import bearer

PROBE_TABLE = "session_probe"


def in_a_transaction(session: Session) -> bool:
    """Whether the session's statements share a transaction: a second statement, run after the
    clock moved on, starts later than its transaction only inside one."""
    session.execute(text("SELECT pg_sleep(0.01)"))
    return bool(
        session.execute(text("SELECT statement_timestamp() > transaction_timestamp()")).scalar()
    )


@pytest.fixture
def probe(committed: str) -> Iterator[tuple[TestClient, Database]]:
    """A small app on the service's own session dependency, with routes that write, fail and
    report whether they ran in a transaction."""
    engine = create_engine(committed)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE IF NOT EXISTS {PROBE_TABLE} (n int)"))
    app = FastAPI()
    database = Database.connect(committed)
    app.state.database = database

    @app.get("/transaction")
    def read_transaction(session: SessionDep) -> bool:
        return in_a_transaction(session)

    @app.post("/transaction")
    def write_transaction(session: SessionDep) -> bool:
        return in_a_transaction(session)

    @app.post("/reading")
    @writes_nothing
    def reading_transaction(session: SessionDep) -> bool:
        return in_a_transaction(session)

    @app.get("/writes-first")
    @writes_first
    def writes_first_transaction(session: SessionDep) -> bool:
        return in_a_transaction(session)

    @app.post("/write/{n}")
    def write(n: int, session: SessionDep) -> int:
        session.execute(text(f"INSERT INTO {PROBE_TABLE} VALUES (:n)"), {"n": n})
        return n

    @app.post("/fail/{n}")
    def fail(n: int, session: SessionDep) -> int:
        session.execute(text(f"INSERT INTO {PROBE_TABLE} VALUES (:n)"), {"n": n})
        raise RuntimeError("after the insert")

    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            yield client, database
    finally:
        database.dispose()
        with engine.begin() as conn:
            conn.execute(text(f"DROP TABLE {PROBE_TABLE}"))
        engine.dispose()


def rows(database: Database) -> list[int]:
    with database.read_sessions() as session:
        return list(session.execute(text(f"SELECT n FROM {PROBE_TABLE} ORDER BY n")).scalars())


def test_a_write_commits_before_its_answer_and_a_failed_one_leaves_nothing(
    probe: tuple[TestClient, Database],
) -> None:
    client, database = probe
    assert client.post("/write/1").json() == 1
    assert rows(database) == [1]  # committed by the time the answer arrived
    assert client.post("/fail/2").status_code == 500
    assert rows(database) == [1]  # rolled back
    assert database.engine.pool.checkedout() == 0


def test_only_writing_routes_run_in_a_transaction(probe: tuple[TestClient, Database]) -> None:
    client, database = probe
    assert client.post("/transaction").json() is True
    assert client.get("/transaction").json() is False
    assert client.post("/reading").json() is False
    assert client.get("/writes-first").json() is True
    assert database.engine.pool.checkedout() == 0


HUMAN_DATASET = {"namespace": "s3://sessions", "version": "v1", "size": 10, "origin": {"human": 1}}


def dataset(name: str) -> dict[str, Any]:
    return {**HUMAN_DATASET, "name": name}


def test_every_request_gives_its_connection_back(committed: str) -> None:
    app = create_app(committed, run_worker=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        pool = app.state.database.engine.pool
        created = client.post("/api/v1/datasets", json=dataset("a"))
        assert created.status_code == 201
        member = {"namespace": "s3://sessions", "name": "a", "version": "v1"}
        answers = [
            client.get(f"/api/v1/datasets/{created.json()['id']}"),
            client.get("/api/v1/datasets/00000000-0000-0000-0000-000000000000"),
            client.post("/api/v1/gate", json={"training_set": [member]}),
            client.post("/api/v1/gate", json={"training_set": [{**member, "name": "b"}]}),
            client.post("/api/v1/datasets", json={**dataset("a"), "size": 11}),
        ]
        assert [a.status_code for a in answers] == [200, 404, 200, 404, 409]
        assert pool.checkedout() == 0


def issue(url: str, name: str, *scopes: str) -> str:
    engine = create_engine(url)
    with Session(engine) as session:
        body = TokenCreate.model_validate({"name": name, "scopes": list(scopes)})
        _, secret = auth_service.create(session, body, actor="test")
        session.commit()
    engine.dispose()
    return secret


def test_with_authentication_on_the_token_check_refuses_and_admits(committed: str) -> None:
    reader, gatekeeper = issue(committed, "reader", "read"), issue(committed, "gatekeeper", "gate")
    settings = Settings(auth="required", auth_max_failures=3)
    app = create_app(committed, settings=settings, run_worker=False)
    gate = {"training_set": [{"namespace": "s3://sessions", "name": "nowhere"}]}
    with TestClient(app, raise_server_exceptions=False) as client:
        missing = client.post("/api/v1/gate", json=gate)
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"].startswith("Bearer")
        wrong_scope = client.post("/api/v1/gate", json=gate, headers=bearer(reader))
        assert wrong_scope.status_code == 403
        assert wrong_scope.json()["missing"] == {"scope": "gate"}
        # admitted: the gate itself answers (the dataset is not recorded)
        assert client.post("/api/v1/gate", json=gate, headers=bearer(gatekeeper)).status_code == 404
        assert client.get("/api/v1/datasets", headers=bearer(reader)).status_code == 200
        for _ in range(3):
            assert client.get("/api/v1/datasets", headers=bearer("hw_guess")).status_code == 401
        throttled = client.get("/api/v1/datasets", headers=bearer(reader))
        assert throttled.status_code == 429
        assert app.state.database.engine.pool.checkedout() == 0
