"""The native write and read API, in-process, against the real database."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

PROBLEM = "application/problem+json"


def dataset(client: TestClient, name: str, **fields: Any) -> dict[str, Any]:
    body = {"namespace": "s3://lake", "name": name, "version": "v1", **fields}
    response = client.post("/api/v1/datasets", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def model(client: TestClient, name: str, version: str = "1", **fields: Any) -> dict[str, Any]:
    body = {"namespace": "models", "name": name, "version": version, **fields}
    response = client.post("/api/v1/models", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def ref(item: dict[str, Any]) -> dict[str, str]:
    return {"id": item["id"]}


def test_a_dataset_is_recorded_and_read_back(client: TestClient) -> None:
    created = dataset(client, "web/2019", size=1000, origin={"human": 1.0}, uri="s3://lake/web")
    assert created["composition"]["human_fraction"] == 1.0
    assert created["composition"]["total_amount"] == 1000
    assert created["origin"]["human"] == 1.0

    by_id = client.get(f"/api/v1/datasets/{created['id']}").json()
    assert by_id == created
    page = client.get(
        "/api/v1/datasets", params={"namespace": "s3://lake", "name": "web/2019"}
    ).json()
    assert [item["id"] for item in page["items"]] == [created["id"]]
    assert page["next_cursor"] is None


def test_no_declared_origin_is_unknown_not_human(client: TestClient) -> None:
    created = dataset(client, "crawl/2025", size=10)
    assert created["composition"]["unknown_fraction"] == 1.0
    assert created["origin"] is None


def test_posting_the_same_version_twice_returns_it(client: TestClient) -> None:
    body = {"namespace": "ns", "name": "a", "version": "1", "size": 5, "origin": {"human": 1}}
    first = client.post("/api/v1/datasets", json=body)
    again = client.post("/api/v1/datasets", json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]


def test_same_key_different_content_is_a_conflict_saying_what_differs(client: TestClient) -> None:
    body = {"namespace": "ns", "name": "a", "version": "1", "size": 5}
    client.post("/api/v1/datasets", json=body)
    response = client.post("/api/v1/datasets", json={**body, "size": 6})
    assert response.status_code == 409
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["differences"]["size"] == {"recorded": 5.0, "posted": 6.0}
    assert "size" in problem["detail"]


def test_generated_data_sits_one_generation_deeper(client: TestClient) -> None:
    human = dataset(client, "human", size=1000, origin={"human": 1})
    gen0 = model(client, "lm", "0", training_set=[ref(human)])
    assert gen0["training_run_id"] is not None
    assert gen0["composition"]["human_fraction"] == 1.0
    synthetic = dataset(
        client, "synthetic", size=1000, parents=[{**ref(gen0), "relation": "generated_by"}]
    )
    assert synthetic["composition"]["depth_histogram"] == {"1": 1.0}
    mixed = dataset(
        client,
        "mixed",
        parents=[
            {**ref(human), "relation": "derived_from", "amount": 500},
            {**ref(synthetic), "relation": "derived_from", "amount": 500},
        ],
    )
    assert mixed["composition"]["human_fraction"] == pytest.approx(0.5)
    assert mixed["composition"]["synthetic_fraction"] == pytest.approx(0.5)
    assert mixed["composition"]["total_amount"] == 1000


def test_a_missing_parent_is_a_404_naming_it(client: TestClient) -> None:
    response = client.post(
        "/api/v1/datasets",
        json={
            "namespace": "ns",
            "name": "child",
            "version": "1",
            "parents": [
                {"namespace": "ns", "name": "ghost", "version": "9", "relation": "derived_from"}
            ],
        },
    )
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert "ns/ghost@9" in response.json()["detail"]
    assert response.json()["missing"]["name"] == "ghost"


def test_an_unknown_model_in_a_training_set_is_a_404(client: TestClient) -> None:
    response = client.post(
        "/api/v1/models",
        json={
            "namespace": "m",
            "name": "x",
            "version": "1",
            "training_set": [{"id": "00000000-0000-0000-0000-000000000000"}],
        },
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "a", "version": "1"}, "body.namespace"),
        ({"namespace": "n", "name": "a", "version": "1", "size": -1}, "body.size"),
        ({"namespace": "n", "name": "a", "version": "1", "size": "big"}, "body.size"),
        ({"namespace": "n", "name": "", "version": "1"}, "body.name"),
        (
            {"namespace": "n", "name": "a", "version": "1", "origin": {"human": 2}},
            "body.origin.human",
        ),
        ({"namespace": "n", "name": "a", "version": "1", "colour": "red"}, "body.colour"),
        (
            {
                "namespace": "n",
                "name": "a",
                "version": "1",
                "parents": [{"relation": "derived_from"}],
            },
            "body.parents.0",
        ),
    ],
)
def test_invalid_bodies_list_each_field(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    response = client.post("/api/v1/datasets", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == 422
    assert any(error["loc"].startswith(field) for error in problem["errors"]), problem


def test_origin_fractions_that_do_not_add_up_are_refused(client: TestClient) -> None:
    response = client.post(
        "/api/v1/datasets",
        json={
            "namespace": "n",
            "name": "a",
            "version": "1",
            "origin": {"human": 0.5, "synthetic": 0.7},
        },
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == "body.origin"


def test_malformed_json_and_bad_ids_are_client_errors(client: TestClient) -> None:
    response = client.post(
        "/api/v1/datasets", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert client.get("/api/v1/datasets/not-a-uuid").status_code == 422
    missing = client.get("/api/v1/datasets/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == PROBLEM
    assert client.get("/api/v1/nowhere").headers["content-type"] == PROBLEM


def test_a_body_over_the_limit_is_a_413(client: TestClient) -> None:
    huge = b'{"namespace": "' + b"x" * (11 * 1024 * 1024) + b'"}'
    response = client.post(
        "/api/v1/datasets", content=huge, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM


def test_a_later_edge_is_recorded_once_and_propagates(client: TestClient) -> None:
    human = dataset(client, "h", size=100, origin={"human": 1})
    child = dataset(client, "c", size=100)
    edge = {"child": ref(child), "parent": ref(human), "relation": "derived_from"}
    first = client.post("/api/v1/edges", json=edge)
    again = client.post("/api/v1/edges", json=edge)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert (
        client.get(f"/api/v1/datasets/{child['id']}").json()["composition"]["human_fraction"] == 1
    )
    different = client.post("/api/v1/edges", json={**edge, "amount": 3})
    assert different.status_code == 409


def test_an_edge_closing_a_cycle_is_refused_naming_the_path(client: TestClient) -> None:
    a = dataset(client, "a")
    b = dataset(client, "b", parents=[{**ref(a), "relation": "derived_from"}])
    c = dataset(client, "c", parents=[{**ref(b), "relation": "derived_from"}])
    response = client.post(
        "/api/v1/edges", json={"child": ref(a), "parent": ref(c), "relation": "derived_from"}
    )
    assert response.status_code == 409
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["path"] == [
        "dataset s3://lake/a@v1",
        "dataset s3://lake/b@v1",
        "dataset s3://lake/c@v1",
    ]
    self_loop = client.post(
        "/api/v1/edges", json={"child": ref(a), "parent": ref(a), "relation": "used"}
    )
    assert self_loop.status_code == 409


def test_edges_join_the_kinds_their_relation_names(client: TestClient) -> None:
    d = dataset(client, "d")
    m = model(client, "m")
    wrong = client.post(
        "/api/v1/edges", json={"child": ref(d), "parent": ref(d), "relation": "trained_on"}
    )
    assert wrong.status_code == 422
    assert "which is a dataset, not a model" in wrong.json()["detail"]
    ok = client.post(
        "/api/v1/edges", json={"child": ref(m), "parent": ref(d), "relation": "trained_on"}
    )
    assert ok.status_code == 201


def test_an_end_declaring_the_kind_its_relation_rules_out_is_a_422_at_that_end(
    client: TestClient,
) -> None:
    d = dataset(client, "d")
    m = model(client, "m")
    for end, body in (
        ("child", {"child": {**ref(m), "kind": "dataset"}, "parent": ref(d)}),
        ("parent", {"child": ref(m), "parent": {**ref(d), "kind": "model"}}),
    ):
        wrong = client.post("/api/v1/edges", json={**body, "relation": "trained_on"})
        assert wrong.status_code == 422
        assert wrong.json()["errors"] == [
            {"loc": f"body.{end}.kind", "msg": "wrong kind", "type": "value_error"}
        ]
        assert f"The {end} of a `trained_on` edge is a" in wrong.json()["detail"]


def test_lineage_walks_upstream_and_downstream(client: TestClient) -> None:
    root = dataset(client, "root", size=10, origin={"human": 1})
    lm = model(client, "lm", training_set=[ref(root)])
    out = dataset(client, "out", size=10, parents=[{**ref(lm), "relation": "generated_by"}])
    up = client.get(f"/api/v1/datasets/{out['id']}/lineage", params={"direction": "upstream"})
    assert up.status_code == 200
    graph = up.json()
    assert {(n["name"], n["distance"]) for n in graph["nodes"]} == {
        ("out", 0),
        ("lm", 1),
        ("root", 2),
    }
    assert {e["relation"] for e in graph["edges"]} == {"generated_by", "trained_on"}
    shallow = client.get(
        f"/api/v1/datasets/{out['id']}/lineage", params={"direction": "upstream", "depth": 1}
    ).json()
    assert {n["name"] for n in shallow["nodes"]} == {"out", "lm"}
    assert len(shallow["edges"]) == 1
    down = client.get(
        f"/api/v1/models/{lm['id']}/lineage", params={"direction": "downstream"}
    ).json()
    assert {n["name"] for n in down["nodes"]} == {"lm", "out"}
    assert graph["truncated"] is False
    capped = client.get(
        f"/api/v1/datasets/{out['id']}/lineage", params={"direction": "upstream", "max_nodes": 2}
    ).json()
    assert capped["truncated"] is True
    assert [n["name"] for n in capped["nodes"]] == ["out", "lm"]
    assert [e["relation"] for e in capped["edges"]] == ["generated_by"]
    bad = client.get(f"/api/v1/datasets/{out['id']}/lineage", params={"direction": "sideways"})
    assert bad.status_code == 422


def test_lists_paginate_newest_first_with_an_opaque_cursor(client: TestClient) -> None:
    for version in range(5):
        client.post(
            "/api/v1/datasets", json={"namespace": "p", "name": "paged", "version": str(version)}
        )
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"namespace": "p", "name": "paged", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/api/v1/datasets", params=params).json()
        seen += [item["version"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["4", "3", "2", "1", "0"]
    bad = client.get("/api/v1/datasets", params={"cursor": "garbage!"})
    assert bad.status_code == 422
    assert client.get("/api/v1/datasets", params={"limit": 0}).status_code == 422


def test_an_origin_correction_reaches_every_descendant(client: TestClient) -> None:
    root = dataset(client, "root", size=100, origin={"human": 1})
    mid = dataset(client, "mid", parents=[{**ref(root), "relation": "derived_from"}])
    lm = model(client, "lm", training_set=[ref(mid)])
    corrected = client.put(
        f"/api/v1/datasets/{root['id']}/origin",
        json={"human": 0.5, "synthetic": 0.5, "reason": "half was machine translated"},
    )
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["composition"]["synthetic_fraction"] == pytest.approx(0.5)
    for path in (f"/api/v1/datasets/{mid['id']}", f"/api/v1/models/{lm['id']}"):
        assert client.get(path).json()["composition"]["synthetic_fraction"] == pytest.approx(0.5)


def test_contributors_name_where_the_synthetic_mass_entered(client: TestClient) -> None:
    human = dataset(client, "h", size=600, origin={"human": 1})
    scraped = dataset(client, "scraped", size=200, origin={"human": 0.5, "synthetic": 0.5})
    lm = model(client, "lm", training_set=[ref(human)])
    generated = dataset(client, "gen", size=200, parents=[{**ref(lm), "relation": "generated_by"}])
    mix = dataset(
        client,
        "mix",
        parents=[
            {**ref(human), "relation": "derived_from"},
            {**ref(scraped), "relation": "derived_from"},
            {**ref(generated), "relation": "derived_from"},
        ],
    )
    detail = client.get(f"/api/v1/datasets/{mix['id']}/composition")
    assert detail.status_code == 200
    body = detail.json()
    assert body["synthetic_fraction"] == pytest.approx(0.3)
    shares = {c["name"]: c["synthetic_share"] for c in body["contributors"]}
    assert shares == pytest.approx({"gen": 200 / 300, "scraped": 100 / 300})
    own = client.get(f"/api/v1/datasets/{generated['id']}/composition").json()
    assert [(c["name"], c["kind"]) for c in own["contributors"]] == [("lm", "model")]
    trained = model(client, "next", training_set=[ref(mix)])
    model_detail = client.get(f"/api/v1/models/{trained['id']}/composition").json()
    assert {c["name"] for c in model_detail["contributors"]} == {"gen", "scraped"}
    human_detail = client.get(f"/api/v1/datasets/{human['id']}/composition").json()
    assert human_detail["contributors"] == []


def test_re_declaring_the_original_origin_after_a_correction_keeps_the_correction(
    client: TestClient,
) -> None:
    first = dataset(client, "corrected", size=1000, origin={"human": 1.0})
    corrected = client.put(
        f"/api/v1/datasets/{first['id']}/origin",
        json={"human": 0.5, "synthetic": 0.5, "reason": "half was machine translated"},
    )
    assert corrected.status_code == 200, corrected.text
    body = {"namespace": "s3://lake", "name": "corrected", "version": "v1", "size": 1000}
    again = client.post("/api/v1/datasets", json={**body, "origin": {"human": 1.0}})
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first["id"]
    assert again.json()["origin"]["human"] == 0.5
    assert again.json()["composition"]["human_fraction"] == 0.5
    # the corrected origin is a re-post too; any other one is a conflict
    same = client.post(
        "/api/v1/datasets", json={**body, "origin": {"human": 0.5, "synthetic": 0.5}}
    )
    assert same.status_code == 200, same.text
    other = client.post("/api/v1/datasets", json={**body, "origin": {"human": 0.2}})
    assert other.status_code == 409, other.text


def test_a_new_edge_answers_with_when_it_was_recorded(client: TestClient) -> None:
    parent = dataset(client, "parent", size=10, origin={"human": 1})
    child = dataset(client, "child", size=10)
    response = client.post(
        "/api/v1/edges",
        json={"child": ref(child), "parent": ref(parent), "relation": "derived_from"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["created_at"] is not None
    graph = client.get(f"/api/v1/datasets/{child['id']}/lineage").json()
    assert [e["created_at"] is not None for e in graph["edges"]] == [True]


def test_a_generator_contributes_synthetic_data(client: TestClient) -> None:
    human = dataset(client, "human", size=100, origin={"human": 1})
    lm = model(client, "lm", training_set=[ref(human)])
    generated = dataset(
        client, "generated", size=100, parents=[{"id": lm["id"], "relation": "generated_by"}]
    )
    detail = client.get(f"/api/v1/datasets/{generated['id']}/composition").json()
    assert [
        (c["name"], c["synthetic_share"], c["synthetic_fraction"]) for c in detail["contributors"]
    ] == [("lm", 1.0, 1.0)]


def test_an_empty_training_set_is_a_422_and_an_omitted_one_an_unknown_model(
    client: TestClient,
) -> None:
    body = {"namespace": "models", "name": "lm", "version": "1"}
    empty = client.post("/api/v1/models", json={**body, "training_set": []})
    assert empty.status_code == 422, empty.text
    assert empty.json()["errors"][0]["loc"] == "body.training_set"
    assert "omit training_set" in empty.text
    external = client.post("/api/v1/models", json=body)
    assert external.status_code == 201, external.text
    assert external.json()["training_run_id"] is None
    assert external.json()["composition"]["unknown_fraction"] == 1.0


@pytest.mark.parametrize("by", ["id", "natural key"])
def test_a_model_in_a_training_set_gets_a_hint_to_use_base_model(
    client: TestClient, by: str
) -> None:
    human = dataset(client, "human", size=100, origin={"human": 1})
    base = model(client, "base", training_set=[ref(human)])
    named = ref(base) if by == "id" else {"namespace": "models", "name": "base", "version": "1"}
    response = client.post(
        "/api/v1/models",
        json={"namespace": "models", "name": "tuned", "version": "1", "training_set": [named]},
    )
    assert response.status_code == 422, response.text
    assert "base_model" in response.json()["detail"]
    assert response.json()["errors"][0]["loc"] == "body.training_set.0"
