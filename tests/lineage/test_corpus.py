"""Real OpenLineage events, emitted by Airflow, Spark, dbt, Flink, Hive and others (the corpus in
``../shared/openlineage-corpus``, whose SOURCES.md says where each comes from): every valid
event is accepted, and none, valid or not, gets a 5xx."""

from __future__ import annotations

import json
import re
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import ROOT

CORPUS = ROOT.parent / "shared" / "openlineage-corpus"

# Invalid under the OpenLineage 2-0-2 schema on purpose (SOURCES.md): a consumer may reject them.
MAY_BE_REJECTED = (
    "fluentd-proxy/validation-events/event_no_run_id.json",
    "fluentd-proxy/validation-events/event_invalid_*_facet.json",
    "misc/compat-simple-run-event/simple_run_event.json",
    "marquez/apples-lineage/*",
    "marquez/listener-events/*",
    "marquez/api-test-events/event_without_schema_url.json",
    "marquez/api-test-events/event_required_no_timezone.json",
    "python-client/serde-examples/serde_example_*",
)


def natural(path: Path) -> list[Any]:
    """``2.json`` before ``10.json``, as the corpus's events were emitted."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(path))]


def corpus_events() -> list[tuple[str, int, Any]]:
    events: list[tuple[str, int, Any]] = []
    for path in sorted(CORPUS.rglob("*.json"), key=lambda p: natural(p.relative_to(CORPUS))):
        name = path.relative_to(CORPUS).as_posix()
        content = json.loads(path.read_text(encoding="utf-8"))
        for index, event in enumerate(content if isinstance(content, list) else [content]):
            events.append((name, index, event))
    return events


@pytest.fixture(scope="module")
def events() -> list[tuple[str, int, Any]]:
    if not CORPUS.is_dir():
        pytest.skip(f"the OpenLineage corpus is not at {CORPUS} (it lives beside the repository)")
    return corpus_events()


def test_every_valid_corpus_event_is_accepted_and_none_is_a_5xx(
    client: TestClient, events: list[tuple[str, int, Any]]
) -> None:
    assert len(events) >= 400
    refused: list[str] = []
    for name, index, event in events:
        response = client.post("/api/v1/lineage", json=event)
        assert response.status_code < 500, (name, index, response.text)
        if response.status_code not in (200, 201) and not any(
            fnmatch(name, pattern) for pattern in MAY_BE_REJECTED
        ):
            refused.append(f"{name}[{index}]: {response.status_code} {response.text[:300]}")
    assert refused == []


def test_the_corpus_as_batches_is_no_5xx_either(
    client: TestClient, events: list[tuple[str, int, Any]]
) -> None:
    payloads = [event for _, _, event in events]
    for start in range(0, len(payloads), 100):
        response = client.post("/api/v1/lineage/batch", json=payloads[start : start + 100])
        assert response.status_code in (200, 207), response.text[:500]
