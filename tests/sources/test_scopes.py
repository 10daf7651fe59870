"""Who may read sources, report checks and name preserved copies."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.auth.conftest import Issue, bearer
from tests.sources.test_api import CHECKSUM


def test_checks_are_writes_within_the_tokens_namespaces(secured: TestClient, issue: Issue) -> None:
    admin = bearer(issue("admin", "admin"))
    body = {
        "namespace": "s3://team-a",
        "name": "web",
        "version": "1",
        "size": 10,
        "origin": {"human": 1},
        "uri": "file:///corpora/web.txt",
        "checksum": CHECKSUM,
    }
    created = secured.post("/api/v1/datasets", json=body, headers=admin)
    assert created.status_code == 201, created.text
    source = created.json()["id"]
    check = {"checks": [{"id": source, "status": "lost", "reason": "gone"}]}

    reader = bearer(issue("reader", "read"))
    assert secured.get("/api/v1/sources", headers=reader).status_code == 200
    refused = secured.post("/api/v1/sources/checks", json=check, headers=reader)
    assert (refused.status_code, refused.json()["missing"]) == (403, {"scope": "write"})

    team_b = bearer(issue("team-b", "write", namespaces=["s3://team-b*"]))
    outside = secured.post("/api/v1/sources/checks", json=check, headers=team_b)
    assert (outside.status_code, outside.json()["missing"]) == (403, {"namespace": "s3://team-a"})
    archive = secured.put(
        f"/api/v1/sources/{source}/archive", json={"archive_uri": "file:///v"}, headers=team_b
    )
    assert archive.status_code == 403

    team_a = bearer(issue("team-a", "write", namespaces=["s3://team-a*"]))
    done = secured.post("/api/v1/sources/checks", json=check, headers=team_a)
    assert done.status_code == 200, done.text
    assert done.json()["items"][0]["status"] == "lost"
    log = secured.get("/api/v1/audit", headers=admin).json()["items"]
    assert [(e["actor"], e["operation"]) for e in log][-1] == ("team-a", "sources.checks")
