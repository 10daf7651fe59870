"""Policies over HTTP: named, versioned, validated, and used by the gate."""

from __future__ import annotations

import copy
from typing import Any

from fastapi.testclient import TestClient

from tests.artifacts.test_api import dataset


def default_body(client: TestClient) -> dict[str, Any]:
    policy = client.get("/api/v1/policies/default").json()
    return {"description": policy["description"], "rules": policy["rules"]}


def test_the_default_policy_is_the_designs(client: TestClient) -> None:
    policy = client.get("/api/v1/policies/default").json()
    assert policy["version"] >= 2
    first = client.get("/api/v1/policies/default", params={"version": 1}).json()
    assert first["rules"].get("sources_preserved") is None
    rules = policy["rules"]
    assert rules["sources_preserved"]["pass_at_least"] == 0.9
    assert "Shumailov" in rules["sources_preserved"]["reference"]
    # exactly 1:2 synthetic:real passes (design section 4)
    assert 2 / 3 - 1e-9 < rules["human_fraction"]["pass_at_least"] <= 2 / 3
    assert rules["human_fraction"]["fail_below"] == 0.10
    assert rules["depth_load"] == {
        "pass_at_most": 0.25,
        "fail_above": 1.0,
        "reference": rules["depth_load"]["reference"],
    }
    assert rules["deep_tail"]["min_depth"] == 3
    assert rules["unknown_fraction"]["pass_at_most"] == 0.2
    assert "Alemohammad" in rules["fresh_real"]["reference"]
    assert "Shumailov" in rules["replace"]["reference"]
    first = client.get("/api/v1/policies/default", params={"version": 1}).json()
    assert first["rules"]["human_fraction"]["pass_at_least"] == 0.67


def test_exactly_one_to_two_synthetic_to_real_passes_human_fraction(client: TestClient) -> None:
    dataset(client, "real", size=2000, origin={"human": 1})
    dataset(client, "synthetic", size=1000, origin={"synthetic": 1})
    proposal = {
        "training_set": [
            {"namespace": "s3://lake", "name": "real"},
            {"namespace": "s3://lake", "name": "synthetic"},
        ]
    }
    judged = client.post("/api/v1/gate", json=proposal).json()
    statuses = {f["rule"]: f["status"] for f in judged["findings"]}
    assert statuses["human_fraction"] == "pass", judged


def test_a_changed_policy_is_a_new_version_and_the_old_one_stays(client: TestClient) -> None:
    body = default_body(client)
    first = client.put("/api/v1/policies/strict", json=body)
    assert (first.status_code, first.json()["version"]) == (201, 1)
    same = client.put("/api/v1/policies/strict", json=body)
    assert (same.status_code, same.json()["version"]) == (200, 1)

    stricter = copy.deepcopy(body)
    stricter["rules"]["human_fraction"]["pass_at_least"] = 0.9
    second = client.put("/api/v1/policies/strict", json=stricter)
    assert (second.status_code, second.json()["version"]) == (201, 2)
    assert client.get("/api/v1/policies/strict").json()["version"] == 2
    old = client.get("/api/v1/policies/strict", params={"version": 1}).json()
    assert old["rules"]["human_fraction"] == body["rules"]["human_fraction"]
    assert client.get("/api/v1/policies/strict", params={"version": 3}).status_code == 404

    names = [p["name"] for p in client.get("/api/v1/policies").json()["items"]]
    assert names == ["default", "strict"]


def test_the_gate_judges_under_the_named_policy(client: TestClient) -> None:
    dataset(client, "human", size=800, origin={"human": 1})
    dataset(client, "synthetic", size=200, origin={"synthetic": 1})
    proposal = {
        "training_set": [
            {"namespace": "s3://lake", "name": "human"},
            {"namespace": "s3://lake", "name": "synthetic"},
        ]
    }
    assert client.post("/api/v1/gate", json=proposal).json()["verdict"] == "pass"
    stricter = default_body(client)
    stricter["rules"]["human_fraction"]["pass_at_least"] = 0.9
    client.put("/api/v1/policies/strict", json=stricter)
    judged = client.post("/api/v1/gate", json={**proposal, "policy": "strict"}).json()
    assert judged["verdict"] == "warn"
    assert judged["policy"] == {"name": "strict", "version": 1}
    missing = client.post("/api/v1/gate", json={**proposal, "policy": "nowhere"})
    assert missing.status_code == 404
    assert "nowhere" in missing.json()["detail"]


def test_invalid_thresholds_are_a_422_naming_the_field(client: TestClient) -> None:
    body = default_body(client)
    body["rules"]["human_fraction"]["fail_below"] = 0.9  # above its pass threshold
    response = client.put("/api/v1/policies/bad", json=body)
    assert response.status_code == 422
    assert any("human_fraction" in e["loc"] for e in response.json()["errors"])
    typo = default_body(client)
    typo["rules"]["depth_load"]["pass_at_mots"] = 0.3
    assert client.put("/api/v1/policies/bad", json=typo).status_code == 422
    assert client.put("/api/v1/policies/bad name", json=default_body(client)).status_code == 422
    assert client.get("/api/v1/policies/bad").status_code == 404


def test_a_deep_tail_deeper_than_any_origin_is_refused(client: TestClient) -> None:
    body = {"rules": {"deep_tail": {"pass_at_most": 0.0, "min_depth": 2**64}}}
    response = client.put("/api/v1/policies/deep", json=body)
    assert response.status_code == 422, response.text


def test_remediation_states_amounts_without_float_noise(client: TestClient) -> None:
    synthetic = dataset(client, "samples", size=5_000_000, origin={"synthetic": 1})
    judged = client.post(
        "/api/v1/gate",
        json={"training_set": [{"namespace": "s3://lake", "name": synthetic["name"]}]},
    ).json()
    amount = judged["remediation"]["additional_human_amount"]
    ratio = judged["remediation"]["additional_human_ratio"]
    # the least round figure at or above the exact need: at most 8 significant digits
    for figure in (amount, ratio):
        assert len(repr(figure).replace(".", "").strip("0")) <= 8, figure


def test_policies_list_their_latest_versions_a_page_at_a_time_by_name(client: TestClient) -> None:
    body = default_body(client)
    for name in ("c-policy", "a-policy", "b-policy"):
        client.put(f"/api/v1/policies/{name}", json=body)
    client.put("/api/v1/policies/b-policy", json={**body, "description": "second version"})
    seen: list[tuple[str, int]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/policies", params=params).json()
        assert len(page["items"]) <= 2
        seen += [(p["name"], p["version"]) for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    names = [name for name, _ in seen]
    assert names == sorted(names) and len(set(names)) == len(names)
    assert {"a-policy", "b-policy", "c-policy", "default"} <= set(names)
    assert dict(seen)["b-policy"] == 2
