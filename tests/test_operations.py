"""What an operator and a newcomer see: quiet readiness probes, offline docs, problem pages."""

from __future__ import annotations

import logging
import re

import pytest
from fastapi.testclient import TestClient

from app.errors import PROBLEM_BASE, ProblemError
from app.problems import PROBLEM_TYPES


def test_readiness_probes_log_only_their_request(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        assert client.get("/readyz").status_code == 200
    assert [r.name for r in caplog.records if r.name.startswith(("headwater", "alembic"))] == [
        "headwater.http"
    ]


def test_docs_load_nothing_from_outside(client: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        html = client.get(page)
        assert html.status_code == 200
        assets = re.findall(r'(?:src|href)="([^"]+)"', html.text)
        assert assets, html.text
        assert "http" not in html.text.replace("http-equiv", ""), html.text
        for asset in assets:
            assert client.get(asset).status_code == 200, asset


def test_every_problem_type_has_a_page(client: TestClient) -> None:
    emitted = {cls.slug for cls in subclasses(ProblemError)} | {
        "validation",
        "unavailable",
        "unsupported-media-type",
        "unsupported-encoding",
        "bad-encoding",
        "method-not-allowed",
        "internal",
        "not-ready",
        "unstorable-value",
    }
    assert emitted <= set(PROBLEM_TYPES)
    for slug in PROBLEM_TYPES:
        page = client.get(PROBLEM_BASE + slug)
        assert page.status_code == 200, slug
        assert page.headers["content-type"].startswith("text/html")
    missing = client.get("/api/v1/datasets/00000000-0000-0000-0000-000000000000").json()
    assert client.get(missing["type"]).status_code == 200
    assert client.get(PROBLEM_BASE + "no-such-problem").status_code == 404


def subclasses(cls: type[ProblemError]) -> set[type[ProblemError]]:
    found = {cls}
    for sub in cls.__subclasses__():
        found |= subclasses(sub)
    return found


def test_the_facet_schema_is_served_as_the_openapi_document_says(client: TestClient) -> None:
    path = "/api/v1/spec/facets/1-0-0/HeadwaterOriginDatasetFacet.json"
    documented = client.get("/openapi.json").json()["paths"][path]["get"]["responses"]["200"]
    served = client.get(path)
    assert list(documented["content"]) == [served.headers["content-type"]]
