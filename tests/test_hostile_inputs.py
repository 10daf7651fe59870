"""Inputs a careless client or an attacker sends: each is a 4xx that says what to fix."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.artifacts.schemas import KEY_MAX_BYTES
from app.composition.core import MAX_AMOUNT

H = "/api/v1"


def event(**overrides: Any) -> dict[str, Any]:
    return {
        "eventType": "COMPLETE",
        "eventTime": "2026-01-01T00:00:00Z",
        "producer": "https://example.com/producer",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": "hostile", "name": "job"},
        "inputs": [],
        "outputs": [{"namespace": "hostile", "name": "out"}],
        **overrides,
    }


def human(client: TestClient, name: str, size: float = 1.0) -> str:
    response = client.post(
        f"{H}/datasets",
        json={
            "namespace": "hostile",
            "name": name,
            "version": "1",
            "size": size,
            "origin": {"human": 1},
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


# over-long keys


def test_a_key_over_the_index_limit_is_a_422_naming_the_limit(client: TestClient) -> None:
    long = "x" * 2048
    response = client.post(f"{H}/datasets", json={"namespace": long, "name": long, "version": long})
    assert response.status_code == 422, response.text
    assert f"{KEY_MAX_BYTES} bytes" in response.text


def test_a_key_at_the_limit_is_stored(client: TestClient) -> None:
    namespace = "n" * (KEY_MAX_BYTES - 2)
    response = client.post(
        f"{H}/datasets", json={"namespace": namespace, "name": "a", "version": "b"}
    )
    assert response.status_code == 201, response.text


def test_a_one_megabyte_openlineage_name_is_a_422(client: TestClient) -> None:
    outputs = [{"namespace": "hostile", "name": "n" * 1_000_000}]
    response = client.post(f"{H}/lineage", json=event(outputs=outputs))
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == "body.outputs.0"
    assert f"{KEY_MAX_BYTES} bytes" in response.text


# lone surrogates

SURROGATE_EVENT = (
    '{"eventType": "COMPLETE", "eventTime": "2026-01-01T00:00:00Z",'
    ' "producer": "https://example.com/p", "run": {"runId": "%s"},'
    ' "job": {"namespace": "hostile", "name": "job"},'
    ' "outputs": [{"namespace": "hostile", "name": "%s", "facets": {"x": {"y": "%s"}}}]}'
)


@pytest.mark.parametrize(("name", "facet"), [("\\ud800", "ok"), ("ok", "a\\udfff")])
def test_a_lone_surrogate_in_openlineage_is_a_422(
    client: TestClient, name: str, facet: str
) -> None:
    body = SURROGATE_EVENT % (uuid.uuid4(), name, facet)
    response = client.post(
        f"{H}/lineage", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert "surrogate" in response.json()["detail"]


def test_a_lone_surrogate_in_a_batch_rejects_that_event_only(client: TestClient) -> None:
    body = "[" + SURROGATE_EVENT % (uuid.uuid4(), "\\ud800", "ok") + "]"
    response = client.post(
        f"{H}/lineage/batch", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 207, response.text
    assert response.json()["items"][0]["problem"]["status"] == 422


# overflowing amounts


def test_amounts_whose_sum_overflows_are_a_422(client: TestClient) -> None:
    parents = [human(client, "a"), human(client, "b")]
    response = client.post(
        f"{H}/datasets",
        json={
            "namespace": "hostile",
            "name": "sum",
            "version": "1",
            "parents": [{"id": p, "relation": "derived_from", "amount": 1.7e308} for p in parents],
        },
    )
    assert response.status_code == 422, response.text
    assert "less than or equal to 1000000000000000000" in response.text


def test_largest_amounts_are_accepted(client: TestClient) -> None:
    parents = [human(client, "a"), human(client, "b")]
    response = client.post(
        f"{H}/models",
        json={
            "namespace": "hostile",
            "name": "m",
            "version": "1",
            "training_set": [{"id": p, "amount": MAX_AMOUNT} for p in parents],
        },
    )
    assert response.status_code == 201, response.text
    assert response.json()["composition"]["total_amount"] == 2 * MAX_AMOUNT


def test_an_overflowing_gate_is_a_422(client: TestClient) -> None:
    human(client, "a")
    human(client, "b")
    response = client.post(
        f"{H}/gate",
        json={
            "training_set": [
                {"namespace": "hostile", "name": n, "amount": 1.7e308} for n in ("a", "b")
            ]
        },
    )
    assert response.status_code == 422, response.text


def test_an_overflowing_row_count_is_a_422(client: TestClient) -> None:
    outputs = [
        {
            "namespace": "hostile",
            "name": "out",
            "outputFacets": {"outputStatistics": {"rowCount": 10**400}},
        }
    ]
    response = client.post(f"{H}/lineage", json=event(outputs=outputs))
    assert response.status_code == 422, response.text
    loc = response.json()["errors"][0]["loc"]
    assert loc == "body.outputs.0.outputFacets.outputStatistics.rowCount"


# cursors


def test_a_crafted_cursor_is_a_422(client: TestClient) -> None:
    crafted = base64.urlsafe_b64encode(b"[" * 300).decode()
    response = client.get(f"{H}/datasets", params={"cursor": crafted})
    assert response.status_code == 422, response.text


@pytest.mark.parametrize(
    "raw", [b"[" * 5000, b"{}", b"[1, 2, 3]", b'["datasets", 1, 2]', b"\xff\xfe", b"null"]
)
def test_cursors_this_service_never_issued_are_refused(raw: bytes) -> None:
    from app.errors import ProblemError
    from app.pagination import decode_cursor

    with pytest.raises(ProblemError) as refused:
        decode_cursor("datasets", base64.urlsafe_b64encode(raw).decode())
    assert refused.value.status == 422


def test_a_cursor_of_another_list_is_a_400_saying_so(client: TestClient) -> None:
    human(client, "a")
    human(client, "b")
    cursor = client.get(f"{H}/datasets", params={"limit": 1}).json()["next_cursor"]
    assert client.get(f"{H}/datasets", params={"cursor": cursor}).status_code == 200
    response = client.get(f"{H}/models", params={"cursor": cursor})
    assert response.status_code == 400, response.text
    assert "list of datasets" in response.json()["detail"]


# content types


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", None]
)
def test_a_body_not_sent_as_json_is_a_415(client: TestClient, content_type: str | None) -> None:
    response = client.post(
        f"{H}/datasets",
        content=b'{"namespace": "a", "name": "b", "version": "c"}',
        headers={"content-type": content_type} if content_type else {},
    )
    assert response.status_code == 415, response.text
    assert "application/json" in response.json()["detail"]


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "Application/JSON"]
)
def test_json_is_read(client: TestClient, content_type: str) -> None:
    response = client.post(
        f"{H}/datasets",
        content=b'{"namespace": "a", "name": "b", "version": "c"}',
        headers={"content-type": content_type},
    )
    assert response.status_code == 201, response.text


def test_an_openlineage_re_declaration_of_the_original_origin_keeps_a_correction(
    client: TestClient,
) -> None:
    facets = {
        "version": {"datasetVersion": "1"},
        "headwater_origin": {"human": 1.0},
    }
    inputs = [{"namespace": "hostile", "name": "corpus", "facets": facets}]
    first = client.post(f"{H}/lineage", json=event(inputs=inputs))
    assert first.status_code == 201, first.text
    corpus = first.json()["datasets"][0]
    corrected = client.put(f"{H}/datasets/{corpus}/origin", json={"human": 0.5, "synthetic": 0.5})
    assert corrected.status_code == 200, corrected.text
    rerun = client.post(f"{H}/lineage", json=event(inputs=inputs))
    assert rerun.status_code == 201, rerun.text
    assert client.get(f"{H}/datasets/{corpus}").json()["origin"]["human"] == 0.5
    # a different origin from the pipeline is still a correction
    facets["headwater_origin"] = {"human": 0.25, "synthetic": 0.75}
    changed = client.post(f"{H}/lineage", json=event(inputs=inputs))
    assert changed.status_code == 201, changed.text
    assert client.get(f"{H}/datasets/{corpus}").json()["origin"]["human"] == 0.25


@pytest.mark.parametrize("depth", [150, 900])
def test_a_deeply_nested_openlineage_facet_is_a_422(client: TestClient, depth: int) -> None:
    nested = '{"a":' * depth + "1" + "}" * depth
    body = json.dumps(event()).replace('"outputs": [{', '"outputs": [{"facets": {"deep": X}, ')
    response = client.post(
        f"{H}/lineage",
        content=body.replace("X", nested),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert "levels deep" in response.json()["detail"]


def test_json_too_deep_to_parse_is_a_400(client: TestClient) -> None:
    response = client.post(
        f"{H}/lineage/batch",
        content="[" * 100_000 + "]" * 100_000,
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["type"] == "/api/v1/problems/bad-request"


def test_an_over_long_symlink_identifier_is_a_422(client: TestClient) -> None:
    symlinks = {"identifiers": [{"namespace": "hive://x", "name": "n" * 5000, "type": "TABLE"}]}
    outputs = [{"namespace": "hostile", "name": "out", "facets": {"symlinks": symlinks}}]
    response = client.post(f"{H}/lineage", json=event(outputs=outputs))
    assert response.status_code == 422, response.text
    assert f"{KEY_MAX_BYTES} bytes" in response.text
