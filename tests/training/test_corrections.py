"""Training runs follow corrections upstream, and keep the verdicts they had before.

A human root relabelled as partly or wholly synthetic turns a passing run into a warning or a
failure; relabelled back, it passes again. Each judgement stays in the run's history with its
time, the policy version that made it and the write that caused it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests import graph_check


class Pipeline:
    """What a pipeline records, in a namespace of its own."""

    def __init__(self, client: TestClient, namespace: str | None = None) -> None:
        self.client = client
        self.namespace = namespace or f"runs-{uuid.uuid4().hex}"

    def dataset(self, name: str, size: float | None = None, **body: Any) -> dict[str, Any]:
        payload = {"namespace": self.namespace, "name": name, "version": "1", **body}
        if size is not None:
            payload["size"] = size
        response = self.client.post("/api/v1/datasets", json=payload)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def model(self, name: str, *training_set: dict[str, Any], version: str = "1") -> str:
        """Record the model version; the id of its training run."""
        response = self.client.post(
            "/api/v1/models",
            json={
                "namespace": self.namespace,
                "name": name,
                "version": version,
                "training_set": [{"id": d["id"]} for d in training_set],
            },
        )
        assert response.status_code == 201, response.text
        run_id: str = response.json()["training_run_id"]
        assert run_id is not None
        return run_id

    def correct(self, dataset: dict[str, Any], reason: str, **origin: Any) -> None:
        response = self.client.put(
            f"/api/v1/datasets/{dataset['id']}/origin", json={**origin, "reason": reason}
        )
        assert response.status_code == 200, response.text

    def run(self, run_id: str) -> dict[str, Any]:
        response = self.client.get(f"/api/v1/training-runs/{run_id}")
        assert response.status_code == 200, response.text
        run: dict[str, Any] = response.json()
        return run

    def listed(self, **params: Any) -> set[str]:
        response = self.client.get("/api/v1/training-runs", params=params)
        assert response.status_code == 200, response.text
        return {item["id"] for item in response.json()["items"]}


def history(run: dict[str, Any]) -> list[str]:
    return [entry["verdict"] for entry in run["history"]]


def assert_history_well_formed(run: dict[str, Any]) -> None:
    """Each entry says when, under which policy version and why; the last is the current one."""
    times = [datetime.fromisoformat(entry["judged_at"]) for entry in run["history"]]
    assert times == sorted(times)
    for entry in run["history"]:
        assert entry["policy"]["name"] == "default"
        assert entry["policy"]["version"] >= 1
        assert entry["cause"]
        assert {f["rule"] for f in entry["findings"]} >= {"human_fraction", "depth_load"}
    last = run["history"][-1]
    assert last["verdict"] == run["verdict"]
    assert last["policy"] == run["policy"]
    assert datetime.fromisoformat(last["judged_at"]) >= datetime.fromisoformat(run["judged_at"])


def test_relabelling_a_human_root_flips_the_run_and_keeps_the_old_verdicts(
    client: TestClient, session: Session
) -> None:
    lab = Pipeline(client)
    root = lab.dataset("web/2019", 1000, origin={"human": 1.0})
    cleaned = lab.dataset("web/clean", parents=[{"id": root["id"], "relation": "derived_from"}])
    run_id = lab.model("lm", cleaned)
    assert lab.run(run_id)["verdict"] == "pass"

    lab.correct(root, "half of it was machine-translated", human=0.5, synthetic=0.5)
    run = lab.run(run_id)
    assert run["verdict"] == "warn"
    assert run["composition"]["synthetic_fraction"] == pytest.approx(0.5)
    assert history(run) == ["pass", "warn"]
    first, second = run["history"]
    assert "recorded" in first["cause"]
    assert f"{lab.namespace}/web/2019@1" in second["cause"]
    assert "half of it was machine-translated" in second["cause"]
    assert first["composition"]["human_fraction"] == pytest.approx(1.0)
    assert second["composition"]["human_fraction"] == pytest.approx(0.5)
    assert_history_well_formed(run)

    lab.correct(root, "all of it was generated", synthetic=1.0)
    run = lab.run(run_id)
    assert run["verdict"] == "fail"
    assert history(run) == ["pass", "warn", "fail"]
    assert_history_well_formed(run)
    assert run_id in lab.listed(verdict="fail")
    assert run_id not in lab.listed(verdict="pass")
    assert run_id not in lab.listed(verdict="warn")

    lab.correct(root, "the audit was wrong", human=1.0)
    run = lab.run(run_id)
    assert run["verdict"] == "pass"
    assert history(run) == ["pass", "warn", "fail", "pass"]
    assert_history_well_formed(run)
    assert run_id not in lab.listed(verdict="fail")
    assert run_id in lab.listed(verdict="pass")
    graph_check.check_graph(session, [lab.namespace])
    assert not graph_check.verdict_mismatches(session, [lab.namespace])


def test_the_listing_filters_by_verdict_namespace_and_model(client: TestClient) -> None:
    ours = Pipeline(client)
    theirs = Pipeline(client)
    root = ours.dataset("crawl", 1000, origin={"human": 1.0})
    ours_lm = ours.model("lm", root)
    ours_other = ours.model("other", root)
    theirs_lm = theirs.model("lm", root)
    untouched = theirs.model("clean", theirs.dataset("books", 500, origin={"human": 1.0}))

    ours.correct(root, "generated after all", synthetic=1.0)
    failing = {ours_lm, ours_other, theirs_lm}
    assert ours.listed(verdict="fail", namespace=ours.namespace) == {ours_lm, ours_other}
    assert ours.listed(verdict="fail", namespace=theirs.namespace) == {theirs_lm}
    assert ours.listed(namespace=ours.namespace, model="lm") == {ours_lm}
    assert ours.listed(namespace=theirs.namespace, model="lm", verdict="fail") == {theirs_lm}
    assert ours.listed(verdict="fail") >= failing
    assert untouched not in ours.listed(verdict="fail")
    assert ours.listed(verdict="pass", namespace=theirs.namespace) == {untouched}
    assert ours.listed(verdict="pass", namespace=ours.namespace) == set()
    page = client.get(
        "/api/v1/training-runs", params={"verdict": "fail", "namespace": ours.namespace}
    ).json()
    assert {item["verdict"] for item in page["items"]} == {"fail"}
    assert {item["model"]["namespace"] for item in page["items"]} == {ours.namespace}


def test_a_correction_elsewhere_leaves_a_run_and_its_history_alone(client: TestClient) -> None:
    lab = Pipeline(client)
    run_id = lab.model("lm", lab.dataset("ours", 1000, origin={"human": 1.0}))
    before = lab.run(run_id)
    unrelated = lab.dataset("theirs", 1000, origin={"human": 1.0})
    lab.correct(unrelated, "not ours", synthetic=1.0)
    after = lab.run(run_id)
    assert after["history"] == before["history"]
    assert after["judged_at"] == before["judged_at"]


def test_a_later_trained_on_edge_re_judges_the_run(client: TestClient, session: Session) -> None:
    lab = Pipeline(client)
    human = lab.dataset("human", 1000, origin={"human": 1.0})
    synthetic = lab.dataset("synthetic", 3000, origin={"synthetic": 1.0})
    run_id = lab.model("lm", human)
    run = lab.run(run_id)
    assert run["verdict"] == "pass"

    model_id = run["model"]["id"]
    response = client.post(
        "/api/v1/edges",
        json={
            "child": {"id": model_id},
            "parent": {"id": synthetic["id"]},
            "relation": "trained_on",
        },
    )
    assert response.status_code == 201, response.text
    run = lab.run(run_id)
    assert {m["id"]: m["amount"] for m in run["training_set"]} == {
        human["id"]: 1000,
        synthetic["id"]: 3000,
    }
    assert run["composition"]["human_fraction"] == pytest.approx(0.25)
    assert run["composition"]["total_amount"] == pytest.approx(4000)
    assert run["verdict"] == "warn"
    assert history(run) == ["pass", "warn"]
    assert "edge" in run["history"][-1]["cause"]
    assert_history_well_formed(run)
    graph_check.check_graph(session, [lab.namespace])


def test_each_verdict_names_the_policy_version_that_made_it(client: TestClient) -> None:
    lab = Pipeline(client)
    root = lab.dataset("root", 1000, origin={"human": 1.0})
    run_id = lab.model("lm", root)
    policy = client.get("/api/v1/policies/default").json()
    stricter = {
        "description": "stricter",
        "rules": {
            **policy["rules"],
            "human_fraction": {**policy["rules"]["human_fraction"], "pass_at_least": 0.95},
        },
    }
    response = client.put("/api/v1/policies/default", json=stricter)
    assert response.status_code == 201, response.text
    new_version = response.json()["version"]
    assert new_version == policy["version"] + 1

    lab.correct(root, "a tenth is unknown", human=0.9, unknown=0.1)
    run = lab.run(run_id)
    assert run["verdict"] == "warn"
    assert [(h["verdict"], h["policy"]["version"]) for h in run["history"]] == [
        ("pass", policy["version"]),
        ("warn", new_version),
    ]
    assert run["policy"] == {"name": "default", "version": new_version}


def test_a_correction_re_judges_a_run_against_its_corrected_previous_generation(
    client: TestClient, session: Session
) -> None:
    """A model version can be recorded before the version its data turns out to come from.
    After a correction upstream of both, the later-recorded previous generation must be
    re-judged before the run that compares itself with it."""
    lab = Pipeline(client)
    generated = lab.dataset("generated", 100)
    fresh = lab.dataset("fresh", 900, origin={"human": 1.0})
    current = lab.model("lm", generated, fresh, version="b")
    source = lab.dataset("source", 1000, origin={"human": 1.0})
    previous = lab.model("lm", source, version="a")
    previous_model = lab.run(previous)["model"]["id"]
    response = client.post(
        "/api/v1/edges",
        json={
            "child": {"id": generated["id"]},
            "parent": {"id": previous_model},
            "relation": "generated_by",
        },
    )
    assert response.status_code == 201, response.text
    run = lab.run(current)
    assert run["previous_generation"]["version"] == "a"
    # 900 human rows against the previous generation's 1000: replace warns, nothing else
    judged = {f["rule"]: f["status"] for f in run["findings"]}
    assert {rule: status for rule, status in judged.items() if status in ("warn", "fail")} == {
        "replace": "warn"
    }

    lab.correct(source, "half of the source is of unknown origin", human=0.5, unknown=0.5)
    assert lab.run(previous)["previous_generation"] is None
    run = lab.run(current)
    assert run["previous_generation"]["human_amount"] == pytest.approx(500)
    assert {f["rule"]: f["status"] for f in run["findings"]}["replace"] == "pass"
    assert run["verdict"] == "pass"
    assert not graph_check.verdict_mismatches(session, [lab.namespace])
