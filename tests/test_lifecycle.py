"""Starting and stopping the service as a process: one service per data folder, graceful stops,
JSON logs."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection

from app.db import scope_text
from tests.conftest import ROOT, LiveServer
from tests.test_process import post_dataset, postgres_running


def embedded_env(data_dir: Path) -> dict[str, str]:
    return {"HEADWATER_DATA_DIR": str(data_dir), "HEADWATER_LOG_LEVEL": "info"}


def embedded_server(data_dir: Path, tmp_path: Path) -> LiveServer:
    server = LiveServer(embedded_env(data_dir), tmp_path)
    server.env.pop("DATABASE_URL", None)
    server.env.pop("HEADWATER_DATABASE_URL", None)
    return server


def assert_json_lines(log: str) -> None:
    for line in log.splitlines():
        if line.strip():
            json.loads(line)


@pytest.mark.slow
def test_a_second_service_on_one_data_folder_refuses_and_leaves_the_first_alone(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    first = embedded_server(data_dir, tmp_path).start(timeout=120)
    try:
        second = embedded_server(data_dir, tmp_path)
        refused = subprocess.run(
            [sys.executable, "-m", "app", "serve"],
            env=second.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert refused.returncode == 1
        assert "already using the data folder" in refused.stderr
        assert str(data_dir.resolve()) in refused.stderr

        # a second on a busy port, too, must not touch the shared embedded PostgreSQL
        busy = embedded_server(data_dir, tmp_path)
        busy.env["HEADWATER_PORT"] = str(first.port)
        again = subprocess.run(
            [sys.executable, "-m", "app", "serve"],
            env=busy.env,
            cwd=ROOT,
            capture_output=True,
            timeout=120,
        )
        assert again.returncode == 1

        with first.client() as client:
            assert client.get("/readyz").status_code == 200
            assert post_dataset(client, "after-the-second").status_code == 201
    finally:
        assert first.stop() == 0, "a clean stop exits 0"
    assert_json_lines((tmp_path / f"server-{first.port}.log").read_text())
    deadline = time.monotonic() + 30
    while postgres_running(data_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not postgres_running(data_dir)


@pytest.mark.slow
def test_sigterm_lets_requests_in_flight_finish(live_server: LiveServer, committed: str) -> None:
    engine = create_engine(committed)
    answers: list[int] = []
    with engine.connect() as holder:
        # the write below waits for the lock on the natural key it records, so it is in flight
        # when SIGTERM arrives
        key = holder.scalar(text("SELECT hashtextextended(:scope, 0)"), {"scope": IN_FLIGHT})
        holder.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})

        def write() -> None:
            with live_server.client() as client:
                answers.append(post_dataset(client, "in-flight").status_code)

        writer = threading.Thread(target=write)
        writer.start()
        deadline = time.monotonic() + 30
        while not waiting_for_lock(holder, key) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert live_server.process is not None
        live_server.process.terminate()
        time.sleep(0.5)
        assert live_server.process.poll() is None, "the service waits for the request"
        holder.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
        holder.commit()
    writer.join(timeout=60)
    assert answers == [201]
    assert live_server.process.wait(timeout=60) == 0
    with engine.connect() as conn:
        stored = conn.scalar(text("SELECT count(*) FROM artifacts WHERE name = 'in-flight'"))
    assert stored == 1
    engine.dispose()
    with pytest.raises(httpx.TransportError):
        httpx.get(live_server.url + "/healthz", timeout=2)


IN_FLIGHT = scope_text("artifact", "dataset", "crash", "in-flight", "1")


def waiting_for_lock(conn: Connection, key: int) -> bool:
    # pg_locks shows the whole server: count only waiters for this lock in this database
    waiting = conn.scalar(
        text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND objid = :low"
        ),
        {"low": key & 0xFFFFFFFF},
    )
    return bool(waiting)
