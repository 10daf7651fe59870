"""Datasets an output's column lineage reads are upstream of it, named in ``inputs`` or not."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.lineage.openlineage import map_event
from tests.graph_check import check_graph
from tests.lineage import corpus
from tests.lineage.test_run_outcomes import PRODUCER, SCHEMA


def column_lineage(*sources: tuple[str, str]) -> dict[str, Any]:
    return {
        "fields": {
            f"c{i}": {"inputFields": [{"namespace": ns, "name": name, "field": "x"}]}
            for i, (ns, name) in enumerate(sources)
        }
    }


def event(inputs: list[Any], outputs: list[Any]) -> dict[str, Any]:
    return {
        "eventType": "COMPLETE",
        "eventTime": "2024-06-03T09:00:00Z",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": "cl", "name": "job"},
        "producer": PRODUCER,
        "schemaURL": SCHEMA,
        "inputs": inputs,
        "outputs": outputs,
    }


def test_column_lineage_inputs_missing_from_inputs_become_parents_of_that_output() -> None:
    mapped = map_event(
        event(
            [{"namespace": "db", "name": "a"}],
            [
                {
                    "namespace": "db",
                    "name": "out",
                    "facets": {"columnLineage": column_lineage(("db", "a"), ("db", "hidden"))},
                },
                {"namespace": "db", "name": "other"},
            ],
        )
    )
    edges = {(e.child.name, e.parent.name, e.relation) for e in mapped.edges}
    assert edges == {
        ("out", "a", "derived_from"),
        ("other", "a", "derived_from"),
        ("out", "hidden", "derived_from"),  # only the output whose columns read it
    }
    assert [n.key.name for n in mapped.nodes] == ["a", "hidden", "out", "other"]


def test_malformed_column_lineage_entries_are_skipped() -> None:
    facet = {"fields": {"c": {"inputFields": [{"name": "no-namespace"}, 5, {"namespace": ""}]}}}
    mapped = map_event(
        event([], [{"namespace": "db", "name": "out", "facets": {"columnLineage": facet}}])
    )
    assert mapped.edges == []


def test_the_glue_sample_output_descends_from_its_column_lineage_files(
    client: TestClient, session: Session
) -> None:
    for _, body in corpus.events("spark/datahub-samples/sample_glue.json"):
        assert client.post("/api/v1/lineage", json=body).status_code == 201
    (out,) = client.get(
        "/api/v1/datasets", params={"namespace": "s3://my-bucket-test", "name": "mydata _output"}
    ).json()["items"]
    graph = client.get(f"/api/v1/datasets/{out['id']}/lineage").json()
    upstream = {n["name"] for n in graph["nodes"] if n["id"] != out["id"]}
    assert {"/output/field1.parquet", "/output/field2.parquet"} <= upstream
    check_graph(session)
