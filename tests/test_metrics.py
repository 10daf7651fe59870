"""GET /metrics: what Prometheus scrapes, in one process and summed over several."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ROOT, free_port


def scrape(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_count_requests_events_verdicts_and_lock_waits(client: TestClient) -> None:
    before = scrape(client.get("/metrics").text)
    human = client.post(
        "/api/v1/datasets",
        json={"namespace": "m", "name": "h", "version": "1", "size": 10, "origin": {"human": 1}},
    ).json()
    client.post(
        "/api/v1/models",
        json={
            "namespace": "m",
            "name": "lm",
            "version": "1",
            "training_set": [{"id": human["id"]}],
        },
    )
    client.get(f"/api/v1/datasets/{human['id']}")
    event = {
        "eventType": "COMPLETE",
        "eventTime": "2026-01-01T00:00:00Z",
        "producer": "https://example.com/p",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": "m", "name": "job"},
        "outputs": [{"namespace": "m", "name": "out"}],
    }
    client.post("/api/v1/lineage", json=event)
    client.post("/api/v1/lineage", json=event)
    client.post("/api/v1/lineage", json={"not": "an event"})
    client.post("/api/v1/gate", json={"training_set": [{"namespace": "m", "name": "h"}]})

    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = scrape(response.text)

    def grew(name: str, by: float = 1, **labels: str) -> None:
        assert value(after, name, **labels) - value(before, name, **labels) == by, (name, labels)

    grew("headwater_http_requests_total", method="POST", route="/api/v1/datasets", status="201")
    grew(
        "headwater_http_requests_total",
        method="GET",
        route="/api/v1/datasets/{dataset_id}",
        status="200",
    )
    grew("headwater_http_request_duration_seconds_count", 3, method="POST", route="/api/v1/lineage")
    grew("headwater_openlineage_events_total", outcome="accepted")
    grew("headwater_openlineage_events_total", outcome="duplicate")
    grew("headwater_openlineage_events_total", outcome="rejected")
    grew("headwater_verdicts_total", verdict="pass", judged="training_run")
    grew("headwater_verdicts_total", verdict="pass", judged="gate")
    assert value(after, "headwater_lineage_lock_wait_seconds_count") > value(
        before, "headwater_lineage_lock_wait_seconds_count"
    )
    assert ("headwater_propagation_queue_depth", ()) in after


@pytest.mark.slow
def test_several_worker_processes_add_up(committed: str, tmp_path: Path) -> None:
    port = free_port()
    shared = tmp_path / "prometheus"
    shared.mkdir()
    env = {**os.environ, "DATABASE_URL": committed, "PROMETHEUS_MULTIPROC_DIR": str(shared)}
    server = subprocess.Popen(
        [
            sys.executable, "-m", "uvicorn", "--factory", "app.main:create_app",
            "--workers", "2", "--port", str(port), "--log-level", "warning",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "workers did not start"
            time.sleep(0.2)
        with httpx.Client(base_url=url) as client:
            for _ in range(40):
                # a new connection each time, so that both workers answer some
                assert httpx.get(url + "/healthz").status_code == 200
            samples = scrape(client.get("/metrics").text)
        total = value(
            samples, "headwater_http_requests_total", method="GET", route="/healthz", status="200"
        )
        assert total == 40
        assert len(list(shared.glob("*.db"))) >= 2, "each worker writes its own file"
    finally:
        server.terminate()
        server.wait(timeout=60)
