"""Amounts from what real events carry: rows from inputStatistics or dataQualityMetrics, bytes
when a run counts no rows at all, a parent's size recorded earlier; the composition says where
each weight came from."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.graph_check import check_graph
from tests.lineage.test_run_outcomes import PRODUCER, SCHEMA

NS = "s3://amounts"


def source(name: str, origin: dict[str, Any], **outputs: Any) -> dict[str, Any]:
    out = {
        "namespace": NS,
        "name": name,
        "facets": {"version": {"datasetVersion": "v1"}, "headwater_origin": origin},
    }
    if outputs:
        out["outputFacets"] = {"outputStatistics": outputs}
    return out


def read(name: str, **input_facets: Any) -> dict[str, Any]:
    return {
        "namespace": NS,
        "name": name,
        "facets": {"version": {"datasetVersion": "v1"}},
        "inputFacets": input_facets,
    }


def run(client: TestClient, inputs: list[Any], outputs: list[Any]) -> None:
    response = client.post(
        "/api/v1/lineage",
        json={
            "eventType": "COMPLETE",
            "eventTime": "2024-06-03T09:00:00Z",
            "run": {"runId": str(uuid.uuid4())},
            "job": {"namespace": "amounts", "name": "job"},
            "producer": PRODUCER,
            "schemaURL": SCHEMA,
            "inputs": inputs,
            "outputs": outputs,
        },
    )
    assert response.status_code == 201, response.text


@pytest.fixture(autouse=True)
def sources(client: TestClient) -> None:
    run(client, [], [source("human", {"human": 1.0}), source("synthetic", {"synthetic": 1.0})])


def mix(client: TestClient) -> dict[str, Any]:
    (item,) = client.get("/api/v1/datasets", params={"namespace": NS, "name": "mix"}).json()[
        "items"
    ]
    detail: dict[str, Any] = client.get(f"/api/v1/datasets/{item['id']}/composition").json()
    return detail


def weights(detail: dict[str, Any], client: TestClient) -> dict[str, tuple[float, str]]:
    names = {}
    for w in detail["weights"]:
        parent = client.get(f"/api/v1/datasets/{w['parent_id']}").json()
        names[parent["name"]] = (w["weight"], w["source"])
    return names


def test_data_quality_row_counts_weigh_the_inputs(client: TestClient, session: Session) -> None:
    run(
        client,
        [
            read("human", dataQualityMetrics={"rowCount": 300}),
            read("synthetic", inputStatistics={"rowCount": 100}),
        ],
        [{"namespace": NS, "name": "mix"}],
    )
    detail = mix(client)
    assert detail["human_fraction"] == pytest.approx(0.75)
    assert detail["weights_assumed"] is False
    assert weights(detail, client) == {
        "human": (300.0, "dataQualityMetrics.rowCount"),
        "synthetic": (100.0, "inputStatistics.rowCount"),
    }
    check_graph(session)


def test_bytes_weigh_a_run_that_counts_no_rows(client: TestClient, session: Session) -> None:
    run(
        client,
        [
            read("human", inputStatistics={"size": 1000}),
            read("synthetic", dataQualityMetrics={"bytes": 3000}),
        ],
        [{"namespace": NS, "name": "mix", "outputFacets": {"outputStatistics": {"size": 4000}}}],
    )
    detail = mix(client)
    assert detail["human_fraction"] == pytest.approx(0.25)
    assert detail["total_amount"] == 4000.0
    assert weights(detail, client) == {
        "human": (1000.0, "inputStatistics.size"),
        "synthetic": (3000.0, "dataQualityMetrics.bytes"),
    }
    check_graph(session)


def test_bytes_are_not_mixed_with_rows(client: TestClient, session: Session) -> None:
    run(client, [], [source("sized", {"synthetic": 1.0}, rowCount=100)])
    run(
        client,
        [
            read("human", inputStatistics={"rowCount": 100}),
            read("sized", inputStatistics={"size": 9}),
        ],
        [{"namespace": NS, "name": "mix"}],
    )
    detail = mix(client)
    # the second input's bytes are not rows: it weighs by its size recorded earlier (100 rows)
    assert weights(detail, client) == {
        "human": (100.0, "inputStatistics.rowCount"),
        "sized": (100.0, "parent_size"),
    }
    assert detail["human_fraction"] == pytest.approx(0.5)
    check_graph(session)


def test_without_any_amount_the_weights_say_they_were_assumed(
    client: TestClient, session: Session
) -> None:
    run(client, [read("human"), read("synthetic")], [{"namespace": NS, "name": "mix"}])
    detail = mix(client)
    assert detail["weights_assumed"] is True
    assert weights(detail, client) == {
        "human": (1.0, "assumed_equal"),
        "synthetic": (1.0, "assumed_equal"),
    }
    check_graph(session)
