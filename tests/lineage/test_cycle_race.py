"""Two writers racing to close a cycle from both ends: exactly one may succeed."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from app import writes
from app.artifacts.schemas import DatasetCreate
from app.auth.core import NOBODY_IN_PARTICULAR as ANYONE
from app.errors import CycleRefused
from app.lineage.models import Edge
from app.lineage.schemas import EdgeCreate, EdgeEnd
from tests.conftest import WORKERS, LiveServer


def test_racing_writers_cannot_both_close_a_cycle(committed: str) -> None:
    engine = create_engine(committed, pool_size=4)
    sessions = sessionmaker(engine)
    rounds = 10
    pairs = []
    with sessions.begin() as session:
        for i in range(rounds):
            a, _ = writes.register_dataset(
                session, DatasetCreate(namespace="race", name=f"a{i}", version="1"), actor=ANYONE
            )
            b, _ = writes.register_dataset(
                session, DatasetCreate(namespace="race", name=f"b{i}", version="1"), actor=ANYONE
            )
            pairs.append((a.id, b.id))

    for a, b in pairs:
        barrier = threading.Barrier(2)
        outcomes: list[Any] = []

        def write(
            child: Any,
            parent: Any,
            barrier: threading.Barrier = barrier,
            outcomes: list[Any] = outcomes,
        ) -> None:
            with sessions() as session:
                # both transactions are open and have read the graph before either writes
                session.execute(select(func.count()).select_from(Edge))
                barrier.wait()
                try:
                    writes.add_edge(
                        session,
                        EdgeCreate(
                            child=EdgeEnd(id=child),
                            parent=EdgeEnd(id=parent),
                            relation="derived_from",
                        ),
                        actor=ANYONE,
                    )
                    session.commit()
                    outcomes.append("ok")
                except CycleRefused:
                    session.rollback()
                    outcomes.append("cycle")

        threads = [
            threading.Thread(target=write, args=(a, b)),
            threading.Thread(target=write, args=(b, a)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(outcomes) == ["cycle", "ok"]

    with Session(engine) as session:
        ids = [x for pair in pairs for x in pair]
        edges = session.scalars(select(Edge).where(Edge.child_id.in_(ids))).all()
        assert len(edges) == rounds
    engine.dispose()


@pytest.mark.parametrize("live_server", WORKERS, indirect=True)
def test_racing_http_writers_cannot_both_close_a_cycle(live_server: LiveServer) -> None:
    """Over HTTP: with several workers the two requests are served by different processes."""
    rounds = 10
    with live_server.client() as client:
        pairs = []
        for i in range(rounds):
            ends = []
            for side in ("a", "b"):
                body = {"namespace": "race-http", "name": f"{side}{i}", "version": "1"}
                response = client.post("/api/v1/datasets", json=body)
                assert response.status_code == 201, response.text
                ends.append(response.json()["id"])
            pairs.append(ends)

    for a, b in pairs:
        barrier = threading.Barrier(2)
        statuses: list[int] = []

        def write(
            child: str,
            parent: str,
            barrier: threading.Barrier = barrier,
            statuses: list[int] = statuses,
        ) -> None:
            body = {"child": {"id": child}, "parent": {"id": parent}, "relation": "derived_from"}
            with live_server.client() as client:
                barrier.wait()
                statuses.append(client.post("/api/v1/edges", json=body).status_code)

        threads = [
            threading.Thread(target=write, args=(a, b)),
            threading.Thread(target=write, args=(b, a)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(statuses) == [201, 409]
