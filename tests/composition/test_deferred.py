"""Corrections too large for one request: stale until finished, never lost across a restart."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session, sessionmaker

from app import writes
from app.artifacts.schemas import DatasetCreate, OriginIn, ParentIn
from app.auth.core import NOBODY_IN_PARTICULAR as ANYONE
from app.composition.models import PropagationJob
from app.config import get_settings
from tests.artifacts.test_api import dataset, ref
from tests.conftest import LiveServer


@pytest.fixture
def small_inline_limit(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("HEADWATER_PROPAGATION_INLINE_LIMIT", "3")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def chain(client: TestClient, length: int) -> list[dict[str, object]]:
    nodes = [dataset(client, "root", size=100, origin={"human": 1})]
    for i in range(length):
        nodes.append(
            dataset(client, f"n{i}", parents=[{**ref(nodes[-1]), "relation": "derived_from"}])
        )
    return nodes


@pytest.mark.usefixtures("small_inline_limit")
def test_a_large_correction_reads_stale_until_a_worker_finishes_it(
    client: TestClient, session: Session
) -> None:
    nodes = chain(client, 6)
    corrected = client.put(f"/api/v1/datasets/{nodes[0]['id']}/origin", json={"synthetic": 1})
    assert corrected.status_code == 200
    assert corrected.json()["composition"]["stale"] is True
    for node in nodes[1:]:
        composition = client.get(f"/api/v1/datasets/{node['id']}").json()["composition"]
        assert composition["stale"] is True
        assert composition["human_fraction"] == 1.0  # the old value, said to be stale

    # a write below a stale node is stale too, not silently current
    late = dataset(client, "late", parents=[{**ref(nodes[-1]), "relation": "derived_from"}])
    assert late["composition"]["stale"] is True

    pending = client.get("/api/v1/propagations", params={"status": "pending"}).json()["items"]
    assert [(job["status"], job["roots"]) for job in pending] == [("pending", [nodes[0]["id"]])]
    assert "corrected" in pending[0]["cause"]

    assert writes.finish_deferred(session) is not None
    assert writes.finish_deferred(session) is None
    done = client.get(f"/api/v1/propagations/{pending[0]['id']}").json()
    assert done["status"] == "done"
    assert done["nodes_done"] == done["nodes_total"] == len(nodes) + 1
    for node in [*nodes, late]:
        composition = client.get(f"/api/v1/datasets/{node['id']}").json()["composition"]
        assert composition["stale"] is False
        assert composition["synthetic_fraction"] == 1.0


@pytest.mark.usefixtures("small_inline_limit")
@pytest.mark.parametrize("workers", [1, 4])
def test_a_pending_correction_survives_a_restart(
    committed: str, tmp_path: Path, workers: int
) -> None:
    engine = create_engine(committed)
    sessions = sessionmaker(engine)
    with sessions.begin() as session:
        previous = None
        for i in range(5):
            node, _ = writes.register_dataset(
                session,
                DatasetCreate(
                    namespace="r",
                    name=f"n{i}",
                    version="1",
                    size=10,
                    origin=OriginIn(human=1) if previous is None else None,
                    parents=[]
                    if previous is None
                    else [ParentIn(id=previous, relation="derived_from")],
                ),
                actor=ANYONE,
            )
            previous = node.id
            if i == 0:
                root_id = node.id
        leaf_id = previous
    # the correction is accepted and deferred; no worker runs before the service stops
    with sessions.begin() as session:
        writes.correct_origin(session, root_id, OriginIn(synthetic=1), "relabelled", actor=ANYONE)
    with Session(engine) as session:
        pending = session.scalars(select(PropagationJob).where(PropagationJob.status == "pending"))
        assert len(pending.all()) == 1

    env = {"DATABASE_URL": committed, "HEADWATER_LOG_LEVEL": "warning"}
    server = LiveServer({**env, "HEADWATER_WORKERS": str(workers)}, tmp_path)
    server.start()
    try:
        with server.client() as client:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                composition = client.get(f"/api/v1/datasets/{leaf_id}").json()["composition"]
                if not composition["stale"]:
                    break
                time.sleep(0.2)
            assert composition["stale"] is False
            assert composition["synthetic_fraction"] == 1.0
    finally:
        server.stop()
        engine.dispose()
