"""Bounded work per request: over HEADWATER_MAX_EDGES_PER_REQUEST, a 413 problem that says the
limit, before anything is written; at the limit, the request goes through."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import get_settings

LIMIT = 3


@pytest.fixture
def limited(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("HEADWATER_MAX_EDGES_PER_REQUEST", str(LIMIT))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def roots(client: TestClient, count: int) -> list[str]:
    ids = []
    for i in range(count):
        body = {"namespace": "limits", "name": f"r{i}", "version": "1", "size": 10.0}
        response = client.post("/api/v1/datasets", json={**body, "origin": {"human": 1.0}})
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


def refused(response: Any, requested: int) -> None:
    assert response.status_code == 413, response.text
    problem = response.json()
    assert problem["type"].endswith("/too-many-edges")
    assert problem["limit"] == LIMIT
    assert problem["requested"] == requested
    assert f"at most {LIMIT}" in problem["detail"]


@pytest.mark.usefixtures("limited")
def test_a_dataset_with_more_parents_than_the_limit_is_refused(client: TestClient) -> None:
    parents = [{"id": i, "relation": "derived_from"} for i in roots(client, LIMIT + 1)]
    body = {"namespace": "limits", "name": "wide", "version": "1"}
    refused(client.post("/api/v1/datasets", json={**body, "parents": parents}), LIMIT + 1)
    assert client.get("/api/v1/datasets", params={"name": "wide"}).json()["items"] == []
    ok = client.post("/api/v1/datasets", json={**body, "parents": parents[:LIMIT]})
    assert ok.status_code == 201, ok.text


@pytest.mark.usefixtures("limited")
def test_a_training_set_larger_than_the_limit_is_refused(client: TestClient) -> None:
    members = [{"id": i} for i in roots(client, LIMIT + 1)]
    body = {"namespace": "limits", "name": "lm", "version": "1", "training_set": members}
    refused(client.post("/api/v1/models", json=body), LIMIT + 1)


@pytest.mark.usefixtures("limited")
def test_an_openlineage_event_with_more_edges_than_the_limit_is_refused(
    client: TestClient,
) -> None:
    def dataset(name: str) -> dict[str, Any]:
        return {"namespace": "limits-ol", "name": name}

    event = {
        "eventType": "COMPLETE",
        "eventTime": "2026-11-26T00:00:00Z",
        "producer": "https://example.com/producer",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": "limits", "name": "mix"},
        "inputs": [dataset("in1"), dataset("in2")],
        "outputs": [dataset("out1"), dataset("out2")],
    }
    refused(client.post("/api/v1/lineage", json=event), 4)
    batch = client.post("/api/v1/lineage/batch", json=[event])
    assert batch.status_code == 207
    assert batch.json()["items"][0]["problem"]["limit"] == LIMIT
