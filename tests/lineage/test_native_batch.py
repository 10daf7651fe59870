"""POST /api/v1/batch: datasets, models and edges in one request, each item on its own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.composition import passes
from app.config import get_settings
from tests import graph_check


def key(namespace: str, name: str) -> dict[str, str]:
    return {"namespace": namespace, "name": name, "version": "1"}


def test_a_batch_records_what_its_items_say_in_one_request(
    client: TestClient, session: Session
) -> None:
    ns = f"batch-{uuid.uuid4().hex[:8]}"
    body: dict[str, Any] = {
        "datasets": [
            {**key(ns, "web"), "size": 1000, "origin": {"human": 1.0}},
            {**key(ns, "vendor"), "size": 500, "origin": {"synthetic": 1.0}},
            # later items name earlier ones by natural key
            {
                **key(ns, "mix"),
                "parents": [
                    {**key(ns, "web"), "relation": "derived_from"},
                    {**key(ns, "vendor"), "relation": "derived_from", "amount": 250},
                ],
            },
        ],
        "models": [{**key(ns, "lm"), "training_set": [key(ns, "mix"), key(ns, "web")]}],
        "edges": [
            {"child": key(ns, "vendor"), "parent": key(ns, "web"), "relation": "derived_from"}
        ],
    }
    response = client.post("/api/v1/batch", json=body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["created"], result["existing"], result["rejected"]) == (5, 0, 0)
    model_id = next(i["id"] for i in result["items"] if i["section"] == "models")
    assert client.get(f"/api/v1/models/{model_id}").json()["training_run_id"] is not None
    graph_check.check_graph(session, [ns])
    assert graph_check.verdict_mismatches(session, [ns]) == []

    again = client.post("/api/v1/batch", json=body).json()
    assert (again["created"], again["existing"], again["rejected"]) == (0, 5, 0)


def test_new_versions_are_stored_as_propagation_composes_them(
    client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    # new versions below new and stored parents, one with more parents than a pass reads at
    # once and one below it, one below a stale parent, and models on them: each stored as a
    # recomputation from scratch composes it, the models judged on what is stored
    monkeypatch.setattr(passes, "WIDE_PARENTS", 2)
    ns = f"batch-{uuid.uuid4().hex[:8]}"
    stored = client.post("/api/v1/datasets", json={**key(ns, "old"), "size": 40})
    assert stored.status_code == 201, stored.text
    old_id = stored.json()["id"]
    # a propagation deferred above it has not reached it yet
    session.execute(
        text("UPDATE artifacts SET composition_stale = true WHERE id = :id"), {"id": old_id}
    )
    session.commit()
    body: dict[str, Any] = {
        "datasets": [
            {**key(ns, "web"), "size": 1000, "origin": {"human": 1.0}},
            {**key(ns, "vendor"), "size": 500, "origin": {"synthetic": 1.0}},
            {
                **key(ns, "mix"),
                "size": 2000,
                "origin": {"human": 0.5, "unknown": 0.5},
                "parents": [
                    {**key(ns, "web"), "relation": "derived_from"},
                    {**key(ns, "vendor"), "relation": "derived_from", "amount": 250},
                ],
            },
            {
                **key(ns, "wide"),
                "parents": [
                    {**key(ns, "web"), "relation": "derived_from"},
                    {**key(ns, "vendor"), "relation": "derived_from"},
                    {**key(ns, "mix"), "relation": "derived_from"},
                ],
            },
            {**key(ns, "below-wide"), "parents": [{**key(ns, "wide"), "relation": "derived_from"}]},
            {**key(ns, "below-old"), "parents": [{"id": old_id, "relation": "derived_from"}]},
        ],
        "models": [
            {**key(ns, "lm"), "training_set": [key(ns, "mix"), key(ns, "below-wide")]},
            {**key(ns, "tuned"), "training_set": [key(ns, "web")], "base_model": key(ns, "lm")},
        ],
    }
    response = client.post("/api/v1/batch", json=body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["created"], result["existing"], result["rejected"]) == (8, 0, 0)
    ids = {i["index"]: i["id"] for i in result["items"] if i["section"] == "datasets"}
    stale = session.execute(
        text("SELECT composition_stale FROM artifacts WHERE id = :id"), {"id": ids[5]}
    ).scalar_one()
    assert stale
    session.execute(
        text("UPDATE artifacts SET composition_stale = false WHERE id IN (:old, :below)"),
        {"old": old_id, "below": ids[5]},
    )
    session.commit()
    for item in result["items"]:
        if item["section"] == "models":
            model = client.get(f"/api/v1/models/{item['id']}").json()
            assert model["training_run_id"] is not None
    graph_check.check_graph(session, [ns])
    assert graph_check.verdict_mismatches(session, [ns]) == []


def test_each_item_is_recorded_or_rejected_on_its_own(client: TestClient, session: Session) -> None:
    ns = f"batch-{uuid.uuid4().hex[:8]}"
    assert client.post("/api/v1/datasets", json={**key(ns, "kept"), "size": 10}).status_code == 201
    body = {
        "datasets": [
            {**key(ns, "a"), "size": 10, "origin": {"human": 1.0}},
            {**key(ns, "orphan"), "parents": [{**key(ns, "nowhere"), "relation": "derived_from"}]},
            {**key(ns, "a"), "size": 10, "origin": {"human": 1.0}},
            {**key(ns, "kept"), "size": 99},
            {**key(ns, "b"), "parents": [{**key(ns, "a"), "relation": "derived_from"}]},
        ],
        "edges": [
            {"child": key(ns, "a"), "parent": key(ns, "b"), "relation": "derived_from"},
        ],
    }
    response = client.post("/api/v1/batch", json=body)
    assert response.status_code == 207, response.text
    items = {(i["section"], i["index"]): i for i in response.json()["items"]}
    assert items["datasets", 0]["status"] == "created"
    assert items["datasets", 1]["problem"]["status"] == 404
    assert items["datasets", 2]["problem"]["status"] == 409  # listed twice
    assert items["datasets", 3]["problem"]["status"] == 409  # differs from the recorded one
    assert items["datasets", 4]["status"] == "created"
    assert items["edges", 0]["problem"]["type"].endswith("/cycle")
    graph_check.check_graph(session, [ns])


@pytest.fixture
def two_edges(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("HEADWATER_MAX_EDGES_PER_REQUEST", "2")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.usefixtures("two_edges")
def test_a_batch_over_the_edge_limit_is_refused_whole(client: TestClient) -> None:
    ns = f"batch-{uuid.uuid4().hex[:8]}"
    parents = [{**key(ns, "root"), "relation": "derived_from"}]
    body = {
        "datasets": [key(ns, "root")] + [{**key(ns, f"d{i}"), "parents": parents} for i in range(3)]
    }
    response = client.post("/api/v1/batch", json=body)
    assert response.status_code == 413
    assert response.json()["limit"] == 2
