"""Retractions: wrong lineage leaves the live graph, descendants are recomputed, training runs
are re-judged with the retraction as the cause, and what was retracted stays readable."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests import graph_check
from tests.training.test_corrections import Pipeline


@pytest.fixture
def lab(client: TestClient) -> Pipeline:
    return Pipeline(client)


def mixed(lab: Pipeline) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], str]:
    """human (900) and synthetic (100) mixed; a model trained on the mix: passes at 0.9 human."""
    human = lab.dataset("human", 900, origin={"human": 1.0})
    synthetic = lab.dataset("synthetic", 100, origin={"synthetic": 1.0})
    mix = lab.dataset(
        "mix",
        parents=[
            {"id": human["id"], "relation": "derived_from"},
            {"id": synthetic["id"], "relation": "derived_from"},
        ],
    )
    return human, synthetic, mix, lab.model("lm", mix)


def edge_between(client: TestClient, child: dict[str, Any], parent: dict[str, Any]) -> str:
    graph = client.get(f"/api/v1/datasets/{child['id']}/lineage").json()
    (edge,) = [e for e in graph["edges"] if e["parent_id"] == parent["id"]]
    found: str = edge["id"]
    return found


def test_retracting_an_edge_recomputes_descendants_and_rejudges_with_its_reason(
    client: TestClient, session: Session, lab: Pipeline
) -> None:
    human, _, mix, run_id = mixed(lab)
    assert lab.run(run_id)["composition"]["human_fraction"] == pytest.approx(0.9)

    edge_id = edge_between(client, mix, human)
    response = client.post(
        f"/api/v1/edges/{edge_id}/retraction", json={"reason": "mix never read the human set"}
    )
    assert response.status_code == 201, response.text
    retraction = response.json()
    assert retraction["version"] is None
    assert [(e["id"], e["relation"]) for e in retraction["edges"]] == [(edge_id, "derived_from")]

    after = client.get(f"/api/v1/datasets/{mix['id']}").json()
    assert after["composition"]["synthetic_fraction"] == pytest.approx(1.0)
    run = lab.run(run_id)
    assert run["verdict"] == "fail"
    assert "mix never read the human set" in run["history"][-1]["cause"]
    assert run["history"][0]["verdict"] == "pass"  # the old verdict stays beside the new one

    again = client.post(f"/api/v1/edges/{edge_id}/retraction", json={"reason": "twice"})
    assert again.status_code == 200
    assert again.json()["id"] == retraction["id"]
    listed = client.get("/api/v1/retractions", params={"artifact_id": human["id"]}).json()
    assert [r["id"] for r in listed["items"]] == [retraction["id"]]
    assert client.get(f"/api/v1/retractions/{retraction['id']}").json() == retraction
    graph_check.check_graph(session)
    assert graph_check.verdict_mismatches(session) == []


def test_retracting_a_version_takes_it_out_of_the_graph_but_keeps_it_readable(
    client: TestClient, session: Session, lab: Pipeline
) -> None:
    _, synthetic, mix, run_id = mixed(lab)
    response = client.post(
        f"/api/v1/datasets/{synthetic['id']}/retraction",
        json={"reason": "written by a job that crashed"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["version"]["id"] == synthetic["id"]

    kept = client.get(f"/api/v1/datasets/{synthetic['id']}").json()
    assert kept["retraction"]["reason"] == "written by a job that crashed"
    listed = client.get("/api/v1/datasets", params={"namespace": lab.namespace}).json()["items"]
    assert {i["name"]: i["retraction"] is not None for i in listed} == {
        "human": False,
        "synthetic": True,
        "mix": False,
    }
    after = client.get(f"/api/v1/datasets/{mix['id']}").json()
    assert after["composition"]["human_fraction"] == pytest.approx(1.0)
    run = lab.run(run_id)
    assert run["verdict"] == "pass"
    assert "written by a job that crashed" in run["history"][-1]["cause"]
    # never the newest version a gate or a reader picks
    gate = client.post(
        "/api/v1/gate",
        json={"training_set": [{"namespace": lab.namespace, "name": "synthetic"}]},
    )
    assert gate.status_code == 404
    graph_check.check_graph(session)
    assert graph_check.verdict_mismatches(session) == []


def test_a_retracted_model_is_no_longer_judged(
    client: TestClient, session: Session, lab: Pipeline
) -> None:
    *_, run_id = mixed(lab)
    model_id = lab.run(run_id)["model"]["id"]
    response = client.post(f"/api/v1/models/{model_id}/retraction", json={"reason": "bad run"})
    assert response.status_code == 201, response.text
    assert lab.run(run_id)["verdict"] is None
    assert client.get(f"/api/v1/models/{model_id}").json()["retraction"]["reason"] == "bad run"
    graph_check.check_graph(session)


@pytest.mark.parametrize(
    "path", ["/api/v1/edges/{id}/retraction", "/api/v1/datasets/{id}/retraction"]
)
def test_unknown_targets_are_404_and_a_reason_is_required(client: TestClient, path: str) -> None:
    url = path.format(id=uuid.uuid4())
    assert client.post(url, json={"reason": "x"}).status_code == 404
    assert client.post(url, json={}).status_code == 422
    assert client.post(url, json={"reason": "  "}).status_code == 422


def test_a_retracted_edge_is_not_recreated_by_later_events_of_its_run(
    client: TestClient, session: Session
) -> None:
    run_id = str(uuid.uuid4())

    def post(kind: str) -> None:
        body = {
            "eventType": kind,
            "eventTime": "2024-06-03T09:00:00Z",
            "run": {"runId": run_id},
            "job": {"namespace": "r", "name": "job"},
            "producer": "https://example.com/p",
            "inputs": [{"namespace": "r", "name": "a"}, {"namespace": "r", "name": "b"}],
            "outputs": [{"namespace": "r", "name": "out"}],
        }
        assert client.post("/api/v1/lineage", json=body).status_code == 201

    post("START")
    (out,) = client.get("/api/v1/datasets", params={"namespace": "r", "name": "out"}).json()[
        "items"
    ]
    graph = client.get(f"/api/v1/datasets/{out['id']}/lineage").json()
    names = {n["id"]: n["name"] for n in graph["nodes"]}
    (wrong,) = [e for e in graph["edges"] if names[e["parent_id"]] == "b"]
    response = client.post(f"/api/v1/edges/{wrong['id']}/retraction", json={"reason": "not read"})
    assert response.status_code == 201
    post("COMPLETE")
    graph = client.get(f"/api/v1/datasets/{out['id']}/lineage").json()
    assert {names.get(n["id"]) for n in graph["nodes"]} == {"out", "a"}
    graph_check.check_graph(session)


def test_the_gate_refuses_a_retracted_version_named_explicitly(
    client: TestClient, lab: Pipeline
) -> None:
    _, synthetic, *_ = mixed(lab)
    client.post(f"/api/v1/datasets/{synthetic['id']}/retraction", json={"reason": "crashed"})
    named = {"namespace": lab.namespace, "name": "synthetic", "version": "1"}
    response = client.post("/api/v1/gate", json={"training_set": [named]})
    assert response.status_code == 409, response.text
    assert response.json()["retracted"][0]["id"] == synthetic["id"]
    assert "crashed" in response.json()["detail"]
