"""Sources over HTTP: listed with their state, checks recorded, training runs re-judged."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.artifacts.test_api import dataset, model

CHECKSUM = "sha256:" + "ab" * 32


def human_source(
    client: TestClient, name: str, size: float = 1000, **fields: Any
) -> dict[str, Any]:
    return dataset(
        client,
        name,
        size=size,
        origin={"human": 1},
        uri=f"file:///corpora/{name}.txt",
        checksum=CHECKSUM,
        **fields,
    )


def report(client: TestClient, *checks: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/v1/sources/checks", json={"checks": list(checks)})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def run_of(client: TestClient, trained: dict[str, Any]) -> dict[str, Any]:
    run_id = trained["training_run_id"]
    result: dict[str, Any] = client.get(f"/api/v1/training-runs/{run_id}").json()
    return result


def finding(document: dict[str, Any], rule: str = "sources_preserved") -> dict[str, Any]:
    found: dict[str, Any] = {f["rule"]: f for f in document["findings"]}[rule]
    return found


def test_a_source_is_human_data_with_a_uri(client: TestClient) -> None:
    web = human_source(client, "web")
    dataset(client, "no-uri", size=10, origin={"human": 1})
    dataset(client, "synthetic", size=10, origin={"synthetic": 1}, uri="file:///x")
    gen = model(client, "lm", training_set=[{"id": web["id"]}])

    page = client.get("/api/v1/sources").json()
    assert [s["name"] for s in page["items"]] == ["web"]
    (source,) = page["items"]
    assert source["status"] == "unchecked"
    assert source["reason"] == "not checked yet"
    assert source["checksum"] == CHECKSUM
    assert [r["id"] for r in source["training_runs"]] == [gen["training_run_id"]]
    quick = client.get("/api/v1/sources", params={"runs": "false"}).json()["items"]
    assert quick[0]["training_runs"] == [] and quick[0]["status"] == "unchecked"
    assert client.get("/api/v1/sources", params={"status": "lost"}).json()["items"] == []
    assert client.get("/api/v1/sources", params={"namespace": "elsewhere"}).json()["items"] == []
    assert client.get("/api/v1/sources", params={"status": "gone"}).status_code == 422


def test_sources_are_paginated(client: TestClient) -> None:
    for index in range(3):
        human_source(client, f"part-{index}")
    first = client.get("/api/v1/sources", params={"limit": 2}).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = client.get("/api/v1/sources", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [s["name"] for s in first["items"] + rest["items"]] == ["part-2", "part-1", "part-0"]
    assert rest["next_cursor"] is None


def test_without_checked_sources_the_rule_does_not_apply(client: TestClient) -> None:
    web = human_source(client, "web")
    gen = model(client, "lm", training_set=[{"id": web["id"]}])
    run = run_of(client, gen)
    assert finding(run)["status"] == "not_applicable"
    assert run["verdict"] == "pass"
    report(client, {"id": web["id"], "status": "unchecked", "reason": "no credentials"})
    assert finding(run_of(client, gen))["status"] == "not_applicable"


def test_a_lost_source_re_judges_its_training_runs_with_the_cause(client: TestClient) -> None:
    web = human_source(client, "web", size=1000)
    books = human_source(client, "books", size=9000)
    gen = model(client, "lm", training_set=[{"id": web["id"]}, {"id": books["id"]}])

    recorded = report(
        client,
        {"id": web["id"], "status": "verified", "observed_checksum": CHECKSUM},
        {"id": books["id"], "status": "verified", "observed_checksum": CHECKSUM},
    )
    assert recorded["changed"] == 2 and recorded["rejudged_models"] == 1
    run = run_of(client, gen)
    assert finding(run)["status"] == "pass" and finding(run)["observed"] == 1.0
    assert {s["answered_by"] for s in recorded["items"]} == {"original"}
    assert all(s["verified_at"] for s in recorded["items"])

    report(client, {"id": books["id"], "status": "lost", "reason": "not found"})
    run = run_of(client, gen)
    # 9000 of 10000 checked human rows are gone: 10 % still verified
    assert finding(run)["status"] == "warn"
    assert abs(finding(run)["observed"] - 0.1) < 1e-12
    assert run["verdict"] == "warn"
    latest = run["history"][-1]
    assert latest["verdict"] == "warn"
    assert "books@v1 verified → lost: not found" in latest["cause"]
    assert run["history"][-2]["verdict"] == "pass"

    lost = client.get("/api/v1/sources", params={"status": "lost"}).json()["items"]
    assert [(s["name"], s["reason"]) for s in lost] == [("books", "not found")]
    assert lost[0]["verified_at"] is not None  # when it was last seen whole
    assert lost[0]["training_runs"][0]["verdict"] == "warn"


def test_the_gate_reports_the_finding_and_proposes_no_lost_source(client: TestClient) -> None:
    web = human_source(client, "web", size=1000)
    synthetic = dataset(client, "synthetic", size=1000, origin={"synthetic": 1})
    backup = human_source(client, "backup", size=50_000)
    spare = human_source(client, "spare", size=40_000)
    report(
        client,
        {"id": web["id"], "status": "changed", "observed_checksum": "sha256:" + "00" * 32},
        {"id": backup["id"], "status": "lost", "reason": "gone"},
        {"id": spare["id"], "status": "verified"},
    )
    answer = client.post(
        "/api/v1/gate",
        json={
            "training_set": [
                {"namespace": "s3://lake", "name": "web"},
                {"namespace": "s3://lake", "name": "synthetic"},
            ]
        },
    ).json()
    assert finding(answer)["status"] == "warn"
    assert finding(answer)["observed"] == 0.0
    assert answer["verdict"] == "warn"
    proposed = [s["name"] for s in answer["remediation"]["sources"]]
    assert "spare" in proposed and "backup" not in proposed and "web" not in proposed
    assert "sources_preserved" in [r["rule"] for r in answer["remediation"]["not_fixable"]]
    assert synthetic["id"] not in [s["id"] for s in answer["remediation"]["sources"]]


def test_a_preserved_copy_is_named_and_kept(client: TestClient) -> None:
    web = human_source(client, "web")
    response = client.put(
        f"/api/v1/sources/{web['id']}/archive", json={"archive_uri": "file:///vault/web.txt"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["archive_uri"] == "file:///vault/web.txt"
    assert response.json()["status"] == "unchecked"
    recorded = report(
        client,
        {
            "id": web["id"],
            "status": "verified",
            "answered_by": "archive",
            "reason": "original lost",
        },
    )
    (item,) = recorded["items"]
    assert (item["status"], item["answered_by"]) == ("verified", "archive")
    assert item["archive_uri"] == "file:///vault/web.txt"
    assert client.get(f"/api/v1/sources/{web['id']}").json()["answered_by"] == "archive"


def test_reports_about_what_is_not_a_source_are_refused(client: TestClient) -> None:
    plain = dataset(client, "plain", size=10)
    response = client.post(
        "/api/v1/sources/checks", json={"checks": [{"id": plain["id"], "status": "verified"}]}
    )
    assert response.status_code == 404
    assert response.json()["missing"] == [{"id": plain["id"]}]
    web = human_source(client, "web")
    twice = {"checks": [{"id": web["id"], "status": "lost"}, {"id": web["id"], "status": "lost"}]}
    assert client.post("/api/v1/sources/checks", json=twice).status_code == 422
    bad = {"checks": [{"id": web["id"], "status": "gone"}]}
    assert client.post("/api/v1/sources/checks", json=bad).status_code == 422


def test_openlineage_datasets_in_a_store_are_sources(client: TestClient) -> None:
    digest = "sha256:" + "CD" * 32
    event = {
        "eventType": "COMPLETE",
        "eventTime": "2026-11-26T00:00:00Z",
        "run": {"runId": "0193b3a4-7c1e-7cc1-8f00-000000000012"},
        "job": {"namespace": "pipelines", "name": "train"},
        "producer": "https://example.com/producer",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "inputs": [
            {
                "namespace": "s3://corpora",
                "name": "web/2019.jsonl",
                "facets": {
                    "version": {"datasetVersion": digest},
                    "headwater_origin": {"human": 1.0},
                },
            },
            {
                "namespace": "file",
                "name": "/srv/books.txt",
                "facets": {"headwater_origin": {"human": 1.0}},
            },
        ],
        "outputs": [
            {
                "namespace": "models",
                "name": "lm",
                "facets": {
                    "datasetType": {"datasetType": "MODEL"},
                    "version": {"datasetVersion": "1"},
                },
            }
        ],
    }
    response = client.post("/api/v1/lineage", json=event)
    assert response.status_code == 201, response.text
    listed = {s["name"]: s for s in client.get("/api/v1/sources").json()["items"]}
    web, books = listed["web/2019.jsonl"], listed["/srv/books.txt"]
    assert (web["uri"], web["checksum"]) == ("s3://corpora/web/2019.jsonl", digest.lower())
    assert (books["uri"], books["checksum"]) == ("file:///srv/books.txt", None)
    assert [r["model"]["name"] for r in web["training_runs"]] == ["lm"]


def test_a_source_may_name_its_preserved_copy_when_recorded(client: TestClient) -> None:
    web = human_source(client, "web", archive_uri="file:///vault/web.txt")
    assert client.get(f"/api/v1/sources/{web['id']}").json()["archive_uri"] == (
        "file:///vault/web.txt"
    )
    # the same version posted again with a new copy: the version is the same, the copy moved
    again = client.post(
        "/api/v1/datasets",
        json={
            "namespace": "s3://lake",
            "name": "web",
            "version": "v1",
            "size": 1000,
            "origin": {"human": 1},
            "uri": "file:///corpora/web.txt",
            "checksum": CHECKSUM,
            "archive_uri": "file:///vault2/web.txt",
        },
    )
    assert again.status_code == 200, again.text
    assert client.get(f"/api/v1/sources/{web['id']}").json()["archive_uri"] == (
        "file:///vault2/web.txt"
    )
    not_a_source = client.post(
        "/api/v1/datasets",
        json={"namespace": "s3://lake", "name": "x", "version": "1", "archive_uri": "file:///a"},
    )
    assert not_a_source.status_code == 422
    assert not_a_source.json()["errors"][0]["loc"] == "body.archive_uri"


def test_a_retracted_version_is_no_source(client: TestClient) -> None:
    web = human_source(client, "web")
    human_source(client, "books")
    retracted = client.post(
        f"/api/v1/datasets/{web['id']}/retraction", json={"reason": "never ingested"}
    )
    assert retracted.status_code == 201, retracted.text
    assert [s["name"] for s in client.get("/api/v1/sources").json()["items"]] == ["books"]
    gone = client.post(
        "/api/v1/sources/checks", json={"checks": [{"id": web["id"], "status": "lost"}]}
    )
    assert gone.status_code == 404
