"""Retractions need the `write` scope and the namespace, name their author, and are audited;
a symlink cannot carry a write into a namespace the token may not write."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from tests.auth.conftest import Issue, bearer


def test_a_retraction_needs_write_in_the_namespace_and_is_audited(
    secured: TestClient, issue: Issue
) -> None:
    writer = bearer(issue("pipeline", "write", "read", namespaces=["s3://team-a/*"]))
    outsider = bearer(issue("other-team", "write", namespaces=["s3://team-b/*"]))
    reader = bearer(issue("dashboard", "read"))
    admin = bearer(issue("root", "admin"))
    created = secured.post(
        "/api/v1/datasets",
        headers=writer,
        json={"namespace": "s3://team-a/raw", "name": "web", "version": "1"},
    )
    assert created.status_code == 201, created.text
    path = f"/api/v1/datasets/{created.json()['id']}/retraction"

    assert secured.post(path, json={"reason": "x"}).status_code == 401
    assert secured.post(path, headers=reader, json={"reason": "x"}).status_code == 403
    assert secured.post(path, headers=outsider, json={"reason": "x"}).status_code == 403
    done = secured.post(path, headers=writer, json={"reason": "ingested twice"})
    assert done.status_code == 201, done.text
    assert done.json()["retracted_by"] == "pipeline"

    log = secured.get("/api/v1/audit", headers=admin, params={"actor": "pipeline"}).json()
    operations = [entry["operation"] for entry in log["items"]]
    assert "dataset.retract" in operations


def test_a_symlink_cannot_write_into_another_namespace(secured: TestClient, issue: Issue) -> None:
    writer = bearer(issue("spark", "write", namespaces=["file"]))
    event = {
        "eventType": "COMPLETE",
        "eventTime": "2024-06-03T09:00:00Z",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": "spark", "name": "job"},
        "producer": "https://example.com/spark",
        "outputs": [
            {
                "namespace": "file",
                "name": "/warehouse/t",
                "facets": {
                    "symlinks": {
                        "identifiers": [
                            {"namespace": "hive://metastore", "name": "default.t", "type": "TABLE"}
                        ]
                    }
                },
            }
        ],
    }
    response = secured.post("/api/v1/lineage", headers=writer, json=event)
    assert response.status_code == 403, response.text
    assert "hive://metastore" in response.text
