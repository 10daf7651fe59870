"""Tokens over HTTP: shown once, stored as a hash, revocable, expiring; scopes, namespaces,
who declared an origin, and a client that keeps guessing."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.auth.core import Principal, namespace_matches
from app.auth.security import AuthMisconfigured, auth_mode
from app.config import Settings
from app.main import create_app
from tests.auth.conftest import Issue, bearer
from tests.conftest import serve_from

HUMAN = {"human": 1.0}


def dataset(namespace: str, name: str = "corpus", **extra: Any) -> dict[str, Any]:
    return {"namespace": namespace, "name": name, "version": "1", "size": 10, **extra}


def test_a_token_is_shown_once_and_stored_as_its_hash(
    secured: TestClient, issue: Issue, session: Session
) -> None:
    admin = bearer(issue("root", "admin"))
    created = secured.post(
        "/api/v1/tokens",
        headers=admin,
        json={"name": "ci", "scopes": ["gate", "read"], "expires_in_days": 30},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    secret = body["token"]
    assert secret.startswith("hw_") and len(secret) > 40
    assert body["scopes"] == ["gate", "read"] and body["expires_at"] is not None

    stored = session.execute(text("SELECT * FROM tokens WHERE name = 'ci'")).mappings().one()
    assert secret not in str(dict(stored))
    assert stored["secret_hash"] == hashlib.sha256(secret.encode()).hexdigest()

    listed = secured.get("/api/v1/tokens", headers=admin).json()["items"]
    assert [t["name"] for t in listed] == ["ci", "root"]
    assert all("token" not in t and "secret_hash" not in t for t in listed)

    assert secured.get("/api/v1/datasets", headers=bearer(secret)).status_code == 200

    again = secured.post("/api/v1/tokens", headers=admin, json={"name": "ci", "scopes": ["read"]})
    assert again.status_code == 409


def test_tokens_list_a_page_at_a_time_by_name(secured: TestClient, issue: Issue) -> None:
    admin = bearer(issue("root", "admin"))
    for name in ("e", "b", "d", "a", "c"):
        issue(name, "read")
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = secured.get("/api/v1/tokens", headers=admin, params=params).json()
        pages.append([t["name"] for t in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == [["a", "b"], ["c", "d"], ["e", "root"]]


def test_revoked_and_expired_tokens_are_refused(
    secured: TestClient, issue: Issue, session: Session
) -> None:
    admin = bearer(issue("root", "admin"))
    reader = bearer(issue("reader", "read"))
    assert secured.get("/api/v1/datasets", headers=reader).status_code == 200
    revoked = secured.delete("/api/v1/tokens/reader", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    refused = secured.get("/api/v1/datasets", headers=reader)
    assert refused.status_code == 401
    assert "revoked" in refused.json()["detail"]
    assert refused.headers["www-authenticate"] == "Bearer"
    assert secured.delete("/api/v1/tokens/nobody", headers=admin).status_code == 404

    soon = bearer(issue("soon", "read", expires_in_days=1))
    assert secured.get("/api/v1/datasets", headers=soon).status_code == 200
    session.execute(text("UPDATE tokens SET expires_at = now() - interval '1 second'"))
    expired = secured.get("/api/v1/datasets", headers=soon)
    assert expired.status_code == 401
    assert "expired" in expired.json()["detail"]


def test_other_schemes_and_garbage_are_401(secured: TestClient) -> None:
    for header in ("Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "hw_abc", "Bearer \u00e9t\u00e9"):
        raw = {"Authorization": header.encode("latin-1")}
        answer = secured.get("/api/v1/datasets", headers=raw)  # type: ignore[arg-type]
        assert answer.status_code == 401, header


def test_a_write_token_is_limited_to_its_namespaces_on_every_write_path(
    secured: TestClient, issue: Issue
) -> None:
    writer = bearer(issue("team-a", "write", namespaces=["s3://team-a/*"]))
    other = bearer(issue("team-b", "write", namespaces=["s3://team-b"]))

    def refused(answer: Any, namespace: str) -> None:
        assert answer.status_code == 403, answer.text
        assert answer.json()["missing"] == {"namespace": namespace}

    # native datasets and models: the namespace written
    ok = secured.post("/api/v1/datasets", headers=writer, json=dataset("s3://team-a", origin=HUMAN))
    assert ok.status_code == 201, ok.text
    deeper = secured.post("/api/v1/datasets", headers=writer, json=dataset("s3://team-a/x/y"))
    assert deeper.status_code == 201
    theirs = secured.post("/api/v1/datasets", headers=other, json=dataset("s3://team-b"))
    assert theirs.status_code == 201
    refused(
        secured.post("/api/v1/datasets", headers=writer, json=dataset("s3://team-b")), "s3://team-b"
    )
    model = {"namespace": "s3://team-b", "name": "m", "version": "1"}
    refused(secured.post("/api/v1/models", headers=writer, json=model), "s3://team-b")

    # an edge writes to its child; a correction to its dataset
    edge = {
        "child": {"id": theirs.json()["id"]},
        "parent": {"id": ok.json()["id"]},
        "relation": "derived_from",
    }
    refused(secured.post("/api/v1/edges", headers=writer, json=edge), "s3://team-b")
    refused(
        secured.put(f"/api/v1/datasets/{theirs.json()['id']}/origin", headers=writer, json=HUMAN),
        "s3://team-b",
    )
    mine = secured.put(
        f"/api/v1/datasets/{ok.json()['id']}/origin", headers=writer, json={"synthetic": 1.0}
    )
    assert mine.status_code == 200

    # OpenLineage: every output, and every input whose origin the event declares
    event = run_event(outputs=[ol_dataset("s3://team-a", "out"), ol_dataset("s3://team-b", "out")])
    refused(secured.post("/api/v1/lineage", headers=writer, json=event), "s3://team-b")
    corrects = run_event(
        inputs=[ol_dataset("s3://team-b", "in", origin=True)],
        outputs=[ol_dataset("s3://team-a", "out")],
    )
    refused(secured.post("/api/v1/lineage", headers=writer, json=corrects), "s3://team-b")
    reads = run_event(
        inputs=[ol_dataset("s3://team-b", "in")], outputs=[ol_dataset("s3://team-a", "o")]
    )
    assert secured.post("/api/v1/lineage", headers=writer, json=reads).status_code == 201
    static = {
        "eventTime": "2026-11-26T00:00:00Z",
        "producer": "https://example.com/p",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent",
        "dataset": ol_dataset("s3://team-b", "static"),
    }
    refused(secured.post("/api/v1/lineage", headers=writer, json=static), "s3://team-b")

    # batches: per item
    batch = secured.post(
        "/api/v1/lineage/batch",
        headers=writer,
        json=[run_event(outputs=[ol_dataset("s3://team-a", "b1")]), event],
    )
    assert batch.status_code == 207
    items = batch.json()["items"]
    assert items[0]["status"] == "accepted"
    assert items[1]["status"] == "rejected" and items[1]["problem"]["status"] == 403
    assert items[1]["problem"]["missing"] == {"namespace": "s3://team-b"}


def test_declared_by_names_the_token_that_declared_or_corrected_the_origin(
    secured: TestClient, issue: Issue
) -> None:
    alice = bearer(issue("alice", "write"))
    bob = bearer(issue("bob", "write", "read"))
    created = secured.post("/api/v1/datasets", headers=alice, json=dataset("n", origin=HUMAN))
    origin = created.json()["origin"]
    assert origin["declared_by"] == "alice" and origin["declared_at"] is not None
    dataset_id = created.json()["id"]
    # a re-post by someone else is the same version, not a conflict, and changes nothing
    again = secured.post("/api/v1/datasets", headers=bob, json=dataset("n", origin=HUMAN))
    assert again.status_code == 200 and again.json()["origin"]["declared_by"] == "alice"
    secured.put(f"/api/v1/datasets/{dataset_id}/origin", headers=bob, json={"synthetic": 1.0})
    read = secured.get(f"/api/v1/datasets/{dataset_id}", headers=bob).json()
    assert read["origin"]["declared_by"] == "bob"
    assert read["origin"]["declared_at"] > origin["declared_at"]

    event = run_event(outputs=[ol_dataset("ol", "facet", origin=True)])
    assert secured.post("/api/v1/lineage", headers=alice, json=event).status_code == 201
    found = secured.get("/api/v1/datasets", headers=bob, params={"namespace": "ol"}).json()
    assert found["items"][0]["origin"]["declared_by"] == "alice"


def test_with_authentication_off_writes_are_anonymous(client: TestClient) -> None:
    created = client.post("/api/v1/datasets", json=dataset("n", origin=HUMAN))
    assert created.json()["origin"]["declared_by"] == "anonymous"


def test_repeated_failures_from_one_client_are_refused(
    database_url: str, session: Session, issue: Issue
) -> None:
    app = create_app(
        database_url, settings=Settings(auth="required", auth_max_failures=3), run_worker=False
    )
    serve_from(app, session)
    good = bearer(issue("good", "read"))
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/api/v1/datasets").status_code == 401  # no token: not a guess
        for _ in range(3):
            assert client.get("/api/v1/datasets", headers=bearer("hw_guess")).status_code == 401
        limited = client.get("/api/v1/datasets", headers=good)
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert limited.json()["type"].endswith("/too-many-failures")


@pytest.mark.parametrize(
    ("host", "configured", "expected"),
    [
        ("127.0.0.1", None, "off"),
        ("::1", None, "off"),
        ("localhost", "required", "required"),
        ("0.0.0.0", None, "required"),
        ("10.1.2.3", "required", "required"),
    ],
)
def test_auth_mode(host: str, configured: Any, expected: str) -> None:
    assert auth_mode(Settings(host=host, auth=configured)) == expected


def test_auth_off_on_a_reachable_address_refuses_to_start() -> None:
    with pytest.raises(AuthMisconfigured, match=r"0\.0\.0\.0"):
        create_app("postgresql://unused/unused", settings=Settings(host="0.0.0.0", auth="off"))


@pytest.mark.parametrize(
    ("namespace", "pattern", "matches"),
    [
        ("s3://team-a", "s3://team-a/*", True),
        ("s3://team-a/x", "s3://team-a/*", True),
        ("s3://team-ab", "s3://team-a/*", False),
        ("s3://team-b", "s3://team-a*", False),
        ("postgres://db:5432", "postgres://db:5432", True),
    ],
)
def test_namespace_patterns(namespace: str, pattern: str, matches: bool) -> None:
    assert namespace_matches(namespace, pattern) is matches
    assert Principal("t", frozenset({"write"}), (pattern,)).may_write(namespace) is matches


# --- OpenLineage events, as the clients send them --------------------------------------------


def ol_dataset(namespace: str, name: str, *, origin: bool = False) -> dict[str, Any]:
    facets: dict[str, Any] = {}
    if origin:
        facets["headwater_origin"] = {
            "_producer": "https://example.com/p",
            "_schemaURL": "https://example.com/schema.json",
            "human": 1.0,
        }
    return {"namespace": namespace, "name": name, "facets": facets}


def run_event(
    *, inputs: list[dict[str, Any]] | None = None, outputs: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    import uuid

    return {
        "eventType": "COMPLETE",
        "eventTime": "2026-11-26T00:00:00Z",
        "producer": "https://example.com/p",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": "jobs", "name": "job"},
        "inputs": inputs or [],
        "outputs": outputs or [],
    }


def test_the_pages_take_the_same_tokens(secured: TestClient, issue: Issue) -> None:
    reader = issue("person", "read")
    writer = issue("writer-only", "write")
    asked = secured.get("/", headers={"Accept": "text/html"})
    assert asked.status_code == 401 and 'name="token"' in asked.text
    wrong = secured.post(
        "/sign-in", data={"token": "hw_wrong", "next": "/"}, follow_redirects=False
    )
    assert wrong.status_code == 401
    signed = secured.post("/sign-in", data={"token": reader, "next": "/"}, follow_redirects=False)
    assert signed.status_code == 303
    assert secured.get("/", headers={"Accept": "text/html"}).status_code == 200
    gate = secured.get("/gate", headers={"Accept": "text/html"})
    assert gate.status_code == 403  # a read token may look, not gate
    secured.cookies.clear()
    secured.cookies.set("headwater_token", writer)
    assert secured.get("/", headers={"Accept": "text/html"}).status_code == 403
    # the API never takes the pages' cookie in place of a bearer token
    assert secured.get("/api/v1/datasets").status_code == 401
