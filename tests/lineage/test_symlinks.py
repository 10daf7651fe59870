"""Symlinks: one dataset under several identifiers, found by any of them, joined across engines."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.graph_check import check_graph
from tests.lineage import corpus
from tests.lineage.test_run_outcomes import PRODUCER, SCHEMA

HIVE = "hive://localhost:9083"


def table(namespace: str, name: str, *links: tuple[str, str, str], **facets: Any) -> Any:
    if links:
        facets["symlinks"] = {
            "identifiers": [{"namespace": n, "name": m, "type": t} for n, m, t in links]
        }
    return {"namespace": namespace, "name": name, "facets": facets}


def complete(job: str, inputs: list[Any], outputs: list[Any]) -> dict[str, Any]:
    return {
        "eventType": "COMPLETE",
        "eventTime": "2024-06-03T09:00:00Z",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": "engines", "name": job},
        "producer": PRODUCER,
        "schemaURL": SCHEMA,
        "inputs": inputs,
        "outputs": outputs,
    }


def post(client: TestClient, body: dict[str, Any]) -> None:
    response = client.post("/api/v1/lineage", json=body)
    assert response.status_code in (200, 201), response.text


def ids(client: TestClient, namespace: str, name: str) -> list[str]:
    response = client.get("/api/v1/datasets", params={"namespace": namespace, "name": name})
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def upstream_names(client: TestClient, dataset_id: str) -> set[tuple[str, str]]:
    graph = client.get(f"/api/v1/datasets/{dataset_id}/lineage").json()
    return {(n["namespace"], n["name"]) for n in graph["nodes"] if n["id"] != dataset_id}


def test_a_table_spark_names_by_location_is_the_one_hive_names(
    client: TestClient, session: Session
) -> None:
    seed = table(
        "s3://raw", "people", version={"datasetVersion": "v1"}, headwater_origin={"human": 1.0}
    )
    post(client, complete("load", [], [seed]))
    spark_side = table("file", "/tmp/warehouse/test", (HIVE, "default.test", "TABLE"))
    post(client, complete("spark.write", [table("s3://raw", "people")], [spark_side]))
    post(client, complete("hive.read", [table(HIVE, "default.test")], [table(HIVE, "default.out")]))

    (by_location,) = ids(client, "file", "/tmp/warehouse/test")
    assert ids(client, HIVE, "default.test") == [by_location]
    (out,) = ids(client, HIVE, "default.out")
    assert upstream_names(client, out) == {(HIVE, "default.test"), ("s3://raw", "people")}
    assert client.get(f"/api/v1/datasets/{out}").json()["composition"]["human_fraction"] == 1.0

    gate = client.post(
        "/api/v1/gate",
        json={"training_set": [{"namespace": "file", "name": "/tmp/warehouse/test"}]},
    )
    assert gate.status_code == 200, gate.text
    assert gate.json()["composition"]["human_fraction"] == 1.0
    check_graph(session)


def test_the_hive_table_a_spark_job_reads_by_location_joins_the_hive_lineage(
    client: TestClient, session: Session
) -> None:
    for _, body in corpus.events("hive/hook-container/simpleCtas.json"):
        post(client, body)
    location = "/opt/hive/data/warehouse/test.db/result_t"
    read = table("file", location, (HIVE, "test.result_t", "TABLE"))
    post(client, complete("spark.report", [read], [table("file", "/tmp/report")]))

    (result,) = ids(client, HIVE, "test.result_t")
    assert ids(client, "file", location) == [result]
    (report,) = ids(client, "file", "/tmp/report")
    assert upstream_names(client, report) == {
        (HIVE, "test.result_t"),
        (HIVE, "test.teams"),
        (HIVE, "test.employees"),
        (HIVE, "test.managers"),
    }
    check_graph(session)


def test_the_corpus_spark_tables_are_one_dataset_under_three_identifiers(
    client: TestClient, session: Session
) -> None:
    for _, body in corpus.events("spark/compat-dataproc-simple"):
        post(client, body)
    names = [
        ("hdfs://dataproc-producer-test-m", "/user/hive/warehouse/t1"),
        ("hdfs://dataproc-producer-test-m/user/hive/warehouse", "default.t1"),
        ("hive://dataproc-producer-test-m:9083", "default.t1"),
    ]
    found = [ids(client, *name) for name in names]
    assert found[0] and found[0] == found[1] == found[2]
    (t2, *_) = ids(client, "hdfs://dataproc-producer-test-m", "/user/hive/warehouse/t2")
    assert ("hdfs://dataproc-producer-test-m/user/hive/warehouse", "default.t1") in upstream_names(
        client, t2
    )
    check_graph(session)
