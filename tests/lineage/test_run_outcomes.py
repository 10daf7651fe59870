"""Run outcomes: a run that FAILs or ABORTs leaves no lineage anyone builds on; START, RUNNING,
OTHER and COMPLETE all record lineage, so a streaming job that never completes has it too."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.graph_check import check_graph
from tests.lineage import corpus

PRODUCER = "https://github.com/acme/pipelines/tree/v1"
SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
NS = "s3://outcomes"


def dataset(name: str, *, rows: int | None = None, model: bool = False, **facets: Any) -> Any:
    out: dict[str, Any] = {"namespace": NS, "name": name, "facets": dict(facets)}
    if model:
        out["facets"]["datasetType"] = {"datasetType": "MODEL"}
    if rows is not None:
        out["outputFacets"] = {"outputStatistics": {"rowCount": rows}}
    return out


def human(name: str, rows: int) -> Any:
    return dataset(
        name,
        rows=rows,
        version={"datasetVersion": "v1"},
        headwater_origin={"human": 1.0},
    )


def event(
    kind: str, run_id: str, job: str, inputs: list[Any], outputs: list[Any], second: int = 0
) -> dict[str, Any]:
    return {
        "eventType": kind,
        "eventTime": f"2024-06-03T09:00:{second:02d}Z",
        "run": {"runId": run_id},
        "job": {"namespace": "acme", "name": job},
        "producer": PRODUCER,
        "schemaURL": SCHEMA,
        "inputs": inputs,
        "outputs": outputs,
    }


def post(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/v1/lineage", json=body)
    assert response.status_code in (200, 201), response.text
    result: dict[str, Any] = response.json()
    return result


def items(client: TestClient, kind: str, name: str, namespace: str = NS) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/{kind}s", params={"namespace": namespace, "name": name})
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["items"]
    return found


def retractions(client: TestClient, artifact_id: str) -> list[dict[str, Any]]:
    response = client.get("/api/v1/retractions", params={"artifact_id": artifact_id})
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["items"]
    return found


def seed(client: TestClient) -> None:
    post(client, event("COMPLETE", str(uuid.uuid4()), "load", [], [human("web", 100)]))


def test_outputs_of_a_failed_run_are_retracted_and_never_read_later(
    client: TestClient, session: Session
) -> None:
    seed(client)
    failed = str(uuid.uuid4())
    post(client, event("START", failed, "clean", [dataset("web")], [dataset("clean")], 1))
    post(client, event("FAIL", failed, "clean", [dataset("web")], [], 2))

    (written,) = items(client, "dataset", "clean")
    (retraction,) = retractions(client, written["id"])
    assert retraction["version"]["id"] == written["id"]
    assert f"run {failed} ended FAIL" == retraction["reason"]
    # the edge the START recorded is kept, as retracted
    assert [e["relation"] for e in retraction["edges"]] == ["derived_from"]

    # a later reader of the unversioned table does not link to the failed version
    reader = str(uuid.uuid4())
    post(client, event("COMPLETE", reader, "report", [dataset("clean")], [dataset("report")], 3))
    (report,) = items(client, "dataset", "report")
    graph = client.get(f"/api/v1/datasets/{report['id']}/lineage").json()
    parents = {n["id"] for n in graph["nodes"]} - {report["id"]}
    assert written["id"] not in parents
    check_graph(session)


def test_a_fail_that_arrives_first_still_withholds_the_outputs(
    client: TestClient, session: Session
) -> None:
    seed(client)
    run = str(uuid.uuid4())
    post(client, event("FAIL", run, "clean", [], [dataset("clean")], 2))
    post(client, event("START", run, "clean", [dataset("web")], [dataset("clean")], 1))
    (written,) = items(client, "dataset", "clean")
    graph = client.get(f"/api/v1/datasets/{written['id']}/lineage").json()
    assert graph["edges"] == []
    assert written["composition"]["unknown_fraction"] == 1.0
    (retraction,) = retractions(client, written["id"])
    assert [e["relation"] for e in retraction["edges"]] == ["derived_from"]
    check_graph(session)


def test_a_model_whose_training_aborted_is_not_judged(client: TestClient, session: Session) -> None:
    seed(client)
    run = str(uuid.uuid4())
    model = dataset("chat", model=True, version={"datasetVersion": "1"})
    post(client, event("START", run, "train", [dataset("web")], [model], 1))
    (started,) = items(client, "model", "chat")
    assert started["training_run_id"] is not None
    judged = client.get(f"/api/v1/training-runs/{started['training_run_id']}").json()
    assert judged["verdict"] == "pass"

    post(client, event("ABORT", run, "train", [], [model], 2))
    after = client.get(f"/api/v1/training-runs/{started['training_run_id']}").json()
    assert after["verdict"] is None
    assert after["training_set"] == []
    check_graph(session)


def test_a_streaming_job_records_lineage_before_it_ever_completes(
    client: TestClient, session: Session
) -> None:
    seed(client)
    run = str(uuid.uuid4())
    post(client, event("START", run, "stream", [dataset("web")], [dataset("topic")], 1))
    post(client, event("RUNNING", run, "stream", [dataset("web")], [dataset("topic")], 2))
    post(client, event("OTHER", run, "stream", [], [dataset("topic", rows=50)], 3))
    (topic,) = items(client, "dataset", "topic")
    assert topic["composition"]["human_fraction"] == 1.0
    assert retractions(client, topic["id"]) == []
    check_graph(session)


def test_failed_dbt_runs_of_the_corpus_leave_no_live_lineage(
    client: TestClient, session: Session
) -> None:
    wrote: set[str] = set()
    failed: set[str] = set()
    for _, body in corpus.events("dbt/fail.json", "dbt/sl-postgres-run-failed_run.json"):
        response = client.post("/api/v1/lineage", json=body)
        assert response.status_code in (200, 201), response.text
        if body.get("outputs"):
            wrote.add(body["run"]["runId"])
        if body.get("eventType") in ("FAIL", "ABORT"):
            failed.add(body["run"]["runId"])
    failed &= wrote  # a failed run that named no output has nothing to withhold
    assert len(failed) == 2
    page = client.get("/api/v1/retractions", params={"limit": 200}).json()["items"]
    reasons = {r["reason"] for r in page}
    for run_id in failed:
        assert any(run_id in reason for reason in reasons), (run_id, reasons)
    for retraction in page:
        version = retraction["version"]
        graph = client.get(
            f"/api/v1/{version['kind']}s/{version['id']}/lineage",
            params={"direction": "downstream"},
        ).json()
        assert graph["edges"] == []
    check_graph(session)
