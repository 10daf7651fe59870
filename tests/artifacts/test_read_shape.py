"""Every field a version shows, as the API shows it: what a dataset and a model answer, read one
by one and in a list, is pinned here whole."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.artifacts.test_api import dataset, model

DIGITAL = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"


def without_times(body: dict[str, Any]) -> dict[str, Any]:
    shown = {k: v for k, v in body.items() if k != "created_at"}
    if isinstance(shown.get("origin"), dict):
        shown["origin"] = {k: v for k, v in shown["origin"].items() if k != "declared_at"}
    if isinstance(shown.get("retraction"), dict):
        shown["retraction"] = {
            k: v for k, v in shown["retraction"].items() if k not in ("created_at", "id")
        }
    return shown


def test_a_dataset_shows_its_columns_origin_composition_and_retraction(
    client: TestClient,
) -> None:
    created = dataset(
        client,
        "shape",
        size=400,
        uri="s3://lake/shape",
        checksum="sha256:" + "0" * 64,
        description="pinned",
        origin={"synthetic": 1.0, "synthetic_depth": 2, "digitalSourceType": DIGITAL},
    )
    expected = {
        "id": created["id"],
        "kind": "dataset",
        "namespace": "s3://lake",
        "name": "shape",
        "version": "v1",
        "description": "pinned",
        "composition": {
            "human_fraction": 0.0,
            "synthetic_fraction": 1.0,
            "unknown_fraction": 0.0,
            "depth_histogram": {"2": 1.0},
            "max_depth": 2,
            "mean_synthetic_depth": 2.0,
            "depth_load": 2.0,
            "total_amount": 400.0,
            "weights_assumed": False,
            "stale": False,
        },
        "retraction": None,
        "size": 400.0,
        "uri": "s3://lake/shape",
        "checksum": "sha256:" + "0" * 64,
        "origin": {
            "human": 0.0,
            "synthetic": 1.0,
            "unknown": 0.0,
            "synthetic_depth": 2,
            "digitalSourceType": DIGITAL,
            "declared_by": "anonymous",
        },
        "facets": {},
    }
    assert without_times(created) == expected
    assert created["origin"]["declared_at"] is not None
    read = client.get(f"/api/v1/datasets/{created['id']}").json()
    assert read == created

    retracted = client.post(
        f"/api/v1/datasets/{created['id']}/retraction", json={"reason": "never true"}
    )
    assert retracted.status_code == 201, retracted.text
    read = client.get(f"/api/v1/datasets/{created['id']}").json()
    assert without_times(read) == {
        **expected,
        "retraction": {"reason": "never true", "retracted_by": "anonymous"},
    }
    listed = client.get("/api/v1/datasets", params={"namespace": "s3://lake", "name": "shape"})
    assert listed.json()["items"] == [read]


def test_a_model_shows_its_training_run_and_no_dataset_fields(client: TestClient) -> None:
    data = dataset(client, "model-shape", size=10, origin={"human": 1.0})
    created = model(client, "shape", training_set=[{"id": data["id"]}])
    run = client.get("/api/v1/training-runs", params={"model": "shape"}).json()["items"]
    assert without_times(created) == {
        "id": created["id"],
        "kind": "model",
        "namespace": "models",
        "name": "shape",
        "version": "1",
        "description": None,
        "composition": {
            "human_fraction": 1.0,
            "synthetic_fraction": 0.0,
            "unknown_fraction": 0.0,
            "depth_histogram": {"0": 1.0},
            "max_depth": 0,
            "mean_synthetic_depth": 0.0,
            "depth_load": 0.0,
            "total_amount": 10.0,
            "weights_assumed": False,
            "stale": False,
        },
        "retraction": None,
        "training_run_id": run[0]["id"],
    }
    assert client.get(f"/api/v1/models/{created['id']}").json() == created
