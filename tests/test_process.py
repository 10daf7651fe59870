"""The service as a process: real HTTP, kill -9, restarts, and the embedded PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil
import pytest

from tests.conftest import WORKERS, LiveServer


def post_dataset(client: httpx.Client, name: str) -> httpx.Response:
    return client.post(
        "/api/v1/datasets",
        json={
            "namespace": "crash",
            "name": name,
            "version": "1",
            "size": 1,
            "origin": {"human": 1},
        },
    )


def test_health_and_readiness(live_server: LiveServer) -> None:
    with live_server.client() as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["status"] == "ready"
        assert "x-request-id" in ready.headers


@pytest.mark.parametrize("live_server", WORKERS, indirect=True)
def acknowledged_until_kill_9(
    live_server: LiveServer, post: Callable[[httpx.Client, str], httpx.Response]
) -> list[str]:
    """Post writes one after another, kill -9 the service once 20 are acknowledged (201), and
    return the names of those acknowledged."""
    acknowledged: list[str] = []
    stop = threading.Event()

    def write() -> None:
        with live_server.client() as client:
            for i in range(10_000):
                if stop.is_set():
                    return
                try:
                    response = post(client, f"d{i}")
                except httpx.TransportError:
                    return
                if response.status_code == 201:
                    acknowledged.append(f"d{i}")

    writer = threading.Thread(target=write)
    writer.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert live_server.process is not None
    os.killpg(live_server.process.pid, signal.SIGKILL)
    live_server.process.wait(timeout=30)
    stop.set()
    writer.join(timeout=30)
    assert len(acknowledged) >= 20
    return acknowledged


def all_recorded_after_restart(
    live_server: LiveServer, tmp_path: Path, namespace: str, names: list[str]
) -> None:
    """Start the service again on the same database: each dataset is recorded, all human."""
    restarted = LiveServer(
        {"DATABASE_URL": live_server.env["DATABASE_URL"], "HEADWATER_LOG_LEVEL": "warning"},
        tmp_path,
    ).start()
    try:
        with restarted.client() as client:
            for name in names:
                found = client.get(
                    "/api/v1/datasets", params={"namespace": namespace, "name": name}
                ).json()["items"]
                assert len(found) == 1, name
                assert found[0]["composition"]["human_fraction"] == 1.0
    finally:
        restarted.stop()


def test_nothing_acknowledged_is_lost_to_kill_9(live_server: LiveServer, tmp_path: Path) -> None:
    acknowledged = acknowledged_until_kill_9(live_server, post_dataset)
    all_recorded_after_restart(live_server, tmp_path, "crash", acknowledged)


def post_event(client: httpx.Client, name: str) -> httpx.Response:
    """A run that reads a human dataset and writes ``name`` from it, in one event."""
    source = {
        "namespace": "crash-ol",
        "name": "source",
        "facets": {
            "headwater_origin": {
                "_producer": "https://example.com/test",
                "_schemaURL": "https://example.com/schema",
                "human": 1.0,
            }
        },
    }
    return client.post(
        "/api/v1/lineage",
        json={
            "eventType": "COMPLETE",
            "eventTime": "2024-06-03T09:00:00Z",
            "run": {"runId": str(uuid.uuid4())},
            "job": {"namespace": "crash-ol", "name": name},
            "inputs": [source],
            "outputs": [{"namespace": "crash-ol", "name": name}],
            "producer": "https://example.com/test",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        },
    )


def test_no_acknowledged_openlineage_event_is_lost_to_kill_9(
    live_server: LiveServer, tmp_path: Path
) -> None:
    acknowledged = acknowledged_until_kill_9(live_server, post_event)
    all_recorded_after_restart(live_server, tmp_path, "crash-ol", acknowledged)


def postgres_running(data_dir: Path) -> bool:
    found = subprocess.run(
        ["pgrep", "-f", f"postgres -D {data_dir / 'postgres'}"], capture_output=True
    )
    return found.returncode == 0


@pytest.mark.parametrize("live_server", WORKERS, indirect=True)
def test_a_crash_in_native_code_leaves_the_python_stacks_in_the_log(
    live_server: LiveServer,
) -> None:
    """A segmentation fault (here sent, as a C extension's bad pointer would raise it) kills the
    process that serves requests, but first writes where each of its threads was."""
    assert live_server.process is not None
    supervisor = psutil.Process(live_server.process.pid)
    # with HEADWATER_WORKERS > 1, the worker processes uvicorn spawned serve; else the one
    workers = [p for p in supervisor.children() if "spawn_main" in " ".join(p.cmdline())]
    crashed = workers[0] if workers else supervisor
    crashed.send_signal(signal.SIGSEGV)
    crashed.wait(timeout=60)
    # the whole log: the stacks of a process still starting up run longer than its tail
    logs = (live_server.cwd / f"server-{live_server.port}.log").read_text(errors="replace")
    assert "Fatal Python error: Segmentation fault" in logs, logs[-4000:]
    assert "Current thread" in logs or "Thread 0x" in logs, logs[-4000:]


def test_workers_stop_when_their_supervisor_is_killed(committed: str, tmp_path: Path) -> None:
    """``kill -9`` of the process that supervises HEADWATER_WORKERS leaves no worker serving
    on its port: each is told to stop when its parent dies."""
    server = LiveServer(
        {"DATABASE_URL": committed, "HEADWATER_LOG_LEVEL": "warning", "HEADWATER_WORKERS": "3"},
        tmp_path,
    ).start()
    assert server.process is not None
    supervisor = psutil.Process(server.process.pid)
    workers = [p for p in supervisor.children() if "spawn_main" in " ".join(p.cmdline())]
    assert len(workers) == 3
    supervisor.kill()
    server.process.wait(timeout=30)
    _, alive = psutil.wait_procs(workers, timeout=60)
    for worker in alive:
        worker.kill()
    assert alive == [], "workers kept running after their supervisor was killed"


@pytest.mark.slow
def test_the_embedded_postgres_outlives_a_crash_and_stops_with_the_service(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    env = {
        "DATABASE_URL": "",
        "HEADWATER_DATA_DIR": str(data_dir),
        "HEADWATER_LOG_LEVEL": "warning",
    }
    first = LiveServer(env, tmp_path)
    first.env.pop("DATABASE_URL")
    first.env.pop("HEADWATER_DATABASE_URL", None)
    first.start(timeout=120)
    with first.client() as client:
        created = post_dataset(client, "kept")
        assert created.status_code == 201
    assert first.process is not None
    os.killpg(first.process.pid, signal.SIGKILL)
    first.process.wait(timeout=30)
    assert postgres_running(data_dir), "the embedded server runs in a session of its own"

    second = LiveServer(env, tmp_path)
    second.env.pop("DATABASE_URL")
    second.env.pop("HEADWATER_DATABASE_URL", None)
    second.start(timeout=120)
    with second.client() as client:
        read = client.get(f"/api/v1/datasets/{created.json()['id']}")
        assert read.status_code == 200
        assert read.json()["name"] == "kept"
    assert second.stop() == 0, "a clean stop is a success"
    deadline = time.monotonic() + 30
    while postgres_running(data_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not postgres_running(data_dir), "a clean stop shuts the embedded server down"
