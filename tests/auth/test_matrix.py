"""Every operation in the OpenAPI document, crossed with every scope, and no token.

Generated from the document itself: an endpoint added without a declared scope fails here."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.auth.core import SCOPES
from app.config import Settings
from app.main import create_app
from tests.auth.conftest import Issue, bearer

# what stays reachable without a token (design §3, "Who may do what")
PUBLIC = {
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/api/v1/spec/facets/1-0-0/HeadwaterOriginDatasetFacet.json"),
    # the page a problem's `type` names, a 401's among them: documentation, no data
    ("get", "/api/v1/problems/{slug}"),
    # outside /api/v1, for the scraper: counts and latencies, no data
    ("get", "/metrics"),
}


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    app = create_app("postgresql://unused/unused", settings=Settings(), run_worker=False)
    document = app.openapi()
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


OPERATIONS = operations()


def declared_scopes(operation: dict[str, Any]) -> list[str]:
    return [
        scope
        for requirement in operation.get("security", [])
        for s in requirement.values()
        for scope in s
    ]


def concrete(path: str, operation: dict[str, Any]) -> str:
    for parameter in operation.get("parameters", []):
        if parameter["in"] != "path":
            continue
        schema = parameter.get("schema", {})
        value = str(uuid.uuid4()) if schema.get("format") == "uuid" else "nothing-here"
        path = path.replace("{" + parameter["name"] + "}", value)
    return path


def send(client: TestClient, method: str, path: str, headers: dict[str, str]) -> Any:
    if method in ("post", "put", "patch"):
        return client.request(method, path, headers=headers, json={})
    return client.request(method, path, headers=headers)


def test_every_operation_is_public_on_purpose_or_declares_one_scope() -> None:
    undeclared = [
        (m, p) for m, p, op in OPERATIONS if (m, p) not in PUBLIC and len(declared_scopes(op)) != 1
    ]
    assert undeclared == [], "declare a scope with app.auth.security.requires(...)"
    assert {(m, p) for m, p, _ in OPERATIONS} >= PUBLIC


@pytest.mark.parametrize(
    ("method", "path", "operation"), OPERATIONS, ids=[f"{m.upper()} {p}" for m, p, _ in OPERATIONS]
)
def test_scope_matrix(
    secured: TestClient, issue: Issue, method: str, path: str, operation: dict[str, Any]
) -> None:
    target = concrete(path, operation)
    if (method, path) in PUBLIC:
        assert send(secured, method, target, {}).status_code not in (401, 403)
        return
    (required,) = declared_scopes(operation)

    anonymous = send(secured, method, target, {})
    assert anonymous.status_code == 401, anonymous.text
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert anonymous.headers["content-type"] == "application/problem+json"

    unknown = send(secured, method, target, bearer("hw_" + "x" * 43))
    assert unknown.status_code == 401

    for scope in SCOPES:
        answer = send(secured, method, target, bearer(issue(f"only-{scope}", scope)))
        if scope in (required, "admin"):
            assert answer.status_code not in (401, 403), (scope, answer.text)
        else:
            assert answer.status_code == 403, (scope, answer.text)
            problem = answer.json()
            assert problem["missing"] == {"scope": required}
            assert required in problem["detail"]
