"""A recursive-training lineage, written through the API as a pipeline would write it.

A human corpus trains ``writer@0``; its samples, mixed with some human data, train
``writer@1``; ``writer@1``'s samples alone train ``writer@2`` (the replace loop that
collapses). A mix blends those samples with a half-unknown crawl, whose origin is then
corrected, so verdicts carry a history. A shard set gives one dataset many parents.
"""

from __future__ import annotations

from typing import Any

import httpx

LAKE = "s3://lake"
MODELS = "models"
SHARDS = 48


def _post(client: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/v1" + path, json=body)
    assert response.status_code in (200, 201), response.text
    answer: dict[str, Any] = response.json()
    return answer


def load(client: httpx.Client) -> dict[str, str]:
    """Record the scenario; answers the ids by short name."""
    ids: dict[str, str] = {}

    def dataset(key: str, name: str, **body: Any) -> None:
        ids[key] = _post(
            client, "/datasets", {"namespace": LAKE, "name": name, "version": "1", **body}
        )["id"]

    def model(key: str, version: str, training_set: list[dict[str, Any]]) -> None:
        answer = _post(
            client,
            "/models",
            {
                "namespace": MODELS,
                "name": "writer",
                "version": version,
                "training_set": training_set,
            },
        )
        ids[key] = answer["id"]
        ids[key + "_run"] = answer["training_run_id"]

    dataset("web", "web/2019", size=1_000_000, origin={"human": 1.0})
    dataset(
        "clean",
        "web/2019-clean",
        size=800_000,
        parents=[{"id": ids["web"], "relation": "derived_from", "amount": 800_000}],
    )
    model("v0", "0", [{"id": ids["clean"]}])
    dataset(
        "samples0",
        "writer-0/samples",
        size=1_000_000,
        parents=[{"id": ids["v0"], "relation": "generated_by"}],
    )
    model("v1", "1", [{"id": ids["samples0"]}, {"id": ids["clean"], "amount": 200_000}])
    dataset(
        "samples1",
        "writer-1/samples",
        size=1_000_000,
        parents=[{"id": ids["v1"], "relation": "generated_by"}],
    )
    model("v2", "2", [{"id": ids["samples1"]}])
    dataset("crawl", "crawl/2025", size=400_000, origin={"human": 0.5, "unknown": 0.5})
    dataset(
        "mix",
        "mix/2026",
        size=700_000,
        parents=[
            {"id": ids["samples1"], "relation": "derived_from", "amount": 300_000},
            {"id": ids["crawl"], "relation": "derived_from", "amount": 400_000},
        ],
    )
    model("v3", "3", [{"id": ids["mix"]}])
    shards = [
        _post(
            client,
            "/datasets",
            {
                "namespace": LAKE,
                "name": f"shards/{i:03d}",
                "version": "1",
                "size": 1000,
                "origin": {"human": 1.0} if i % 2 else {"synthetic": 1.0},
            },
        )["id"]
        for i in range(SHARDS)
    ]
    dataset(
        "sharded",
        "sharded/all",
        size=SHARDS * 1000,
        parents=[{"id": s, "relation": "derived_from"} for s in shards],
    )
    response = client.put(
        f"/api/v1/datasets/{ids['crawl']}/origin",
        json={
            "human": 0.25,
            "synthetic": 0.25,
            "unknown": 0.5,
            "reason": "a quarter is LLM-written",
        },
    )
    assert response.status_code == 200, response.text
    return ids
