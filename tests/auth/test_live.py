"""Tokens end to end: created by the command, used by the real OpenLineage client over HTTP
(plain and gzip), revoked by the command; the service's log never shows a secret."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import Job, OutputDataset, Run, RunEvent, RunState

from tests.conftest import ROOT, LiveServer, headwater

PRODUCER = "https://github.com/example/pipelines/tree/v1"


def create_token(env: dict[str, str], name: str, *options: str) -> str:
    done = headwater("tokens", "create", "--name", name, *options, "--json", env=env)
    assert done.returncode == 0, done.stderr
    created = json.loads(done.stdout)
    assert created["name"] == name
    secret: str = created["token"]
    return secret


@pytest.fixture
def secured_server(committed: str, tmp_path: Path) -> Iterator[tuple[LiveServer, dict[str, str]]]:
    env = {"DATABASE_URL": committed, "HEADWATER_AUTH": "required", "HEADWATER_LOG_LEVEL": "info"}
    server = LiveServer(env, tmp_path)
    server.start()
    yield server, env
    if server.process is not None and server.process.poll() is None:
        server.stop()


def event(namespace: str, name: str) -> RunEvent:
    return RunEvent(
        eventType=RunState.COMPLETE,
        eventTime="2026-11-26T00:00:00Z",
        run=Run(runId=str(uuid.uuid4())),
        job=Job(namespace="jobs", name=name),
        producer=PRODUCER,
        inputs=[],
        outputs=[OutputDataset(namespace=namespace, name=name)],
    )


def ol_client(url: str, api_key: str, compression: str | None) -> OpenLineageClient:
    transport: dict[str, Any] = {
        "type": "http",
        "url": url,
        "auth": {"type": "api_key", "apiKey": api_key},
    }
    if compression is not None:
        transport["compression"] = compression
    return OpenLineageClient(config={"transport": transport})


def test_tokens_from_the_command_work_with_the_openlineage_client_and_never_reach_the_log(
    secured_server: tuple[LiveServer, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    server, env = secured_server
    for key in [k for k in os.environ if k.startswith("OPENLINEAGE")]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    admin = create_token(env, "admin", "--scope", "admin")
    writer = create_token(env, "pipeline", "--scope", "write", "--namespace", "s3://team-a/*")
    expiring = create_token(env, "soon", "--scope", "read", "--expires-in", "1")
    secrets = [admin, writer, expiring]

    with server.client() as api:
        assert api.get("/api/v1/datasets").status_code == 401
        assert api.get("/healthz").status_code == 200
        listed = api.get("/api/v1/tokens", headers={"Authorization": f"Bearer {admin}"})
        assert [t["name"] for t in listed.json()["items"]] == ["admin", "pipeline", "soon"]
        # recorded after the answer, in a transaction of its own
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            again = api.get("/api/v1/tokens", headers={"Authorization": f"Bearer {admin}"})
            if again.json()["items"][0]["last_used_at"] is not None:
                break
            time.sleep(0.05)
        assert again.json()["items"][0]["last_used_at"] is not None
        assert again.json()["items"][1]["last_used_at"] is None
        # a secret in a query string or a refused header is still kept out of the log
        api.get(f"/api/v1/datasets?token={writer}")
        api.get("/api/v1/datasets", headers={"Authorization": f"Bearer {writer}x"})
        assert api.get(
            "/api/v1/datasets", headers={"Authorization": f"Bearer {expiring}"}
        ).is_success

    for compression in (None, "gzip"):
        client = ol_client(server.url, writer, compression)
        client.emit(event("s3://team-a", f"out-{compression}"))
        client.close()
    with server.client(headers={"Authorization": f"Bearer {admin}"}) as api:
        found = api.get("/api/v1/datasets", params={"namespace": "s3://team-a"}).json()["items"]
        assert sorted(d["name"] for d in found) == ["out-None", "out-gzip"]
        outside = api.post(
            "/api/v1/lineage",
            headers={"Authorization": f"Bearer {writer}", "Content-Type": "application/json"},
            content=json.dumps(wire_event("s3://team-b", "out")),
        )
        assert outside.status_code == 403

    # headwater gate sends HEADWATER_TOKEN; a gate token is all it needs
    gatekeeper = create_token(env, "ci", "--scope", "gate")
    secrets.append(gatekeeper)
    judged = [
        headwater(
            "gate",
            "--dataset",
            "s3://team-a::out-gzip",
            "--json",
            env={**env, **token, "HEADWATER_URL": server.url},
        )
        for token in ({"HEADWATER_TOKEN": gatekeeper}, {})
    ]
    assert judged[0].returncode in (0, 1), judged[0].stderr
    assert json.loads(judged[0].stdout)["verdict"] in ("pass", "warn", "fail")
    assert judged[1].returncode == 2 and "401" in judged[1].stderr

    revoked = headwater("tokens", "revoke", "pipeline", env=env)
    assert revoked.returncode == 0, revoked.stderr
    with server.client() as api:
        refused = api.post(
            "/api/v1/lineage",
            headers={"Authorization": f"Bearer {writer}", "Content-Type": "application/json"},
            content=json.dumps(wire_event("s3://team-a", "late")),
        )
        assert refused.status_code == 401
        log = api.get("/api/v1/audit", headers={"Authorization": f"Bearer {admin}"}).json()
    operations = [(e["operation"], e["actor"]) for e in log["items"]]
    assert operations == [
        ("token.create", "cli"),
        ("token.create", "cli"),
        ("token.create", "cli"),
        ("lineage.event", "pipeline"),
        ("lineage.event", "pipeline"),
        ("token.create", "cli"),
        ("token.revoke", "cli"),
    ]
    listing = headwater("tokens", "list", env=env)
    assert "pipeline\trevoked" in listing.stdout and "admin\tactive" in listing.stdout
    verified = headwater("audit", "verify", env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr

    server.stop()
    logged = (tmp_path / f"server-{server.port}.log").read_text()
    assert '"path": "/api/v1/lineage"' in logged  # the log was written, at info level
    for secret in secrets:
        assert secret not in logged
        assert secret[3:20] not in logged


def test_a_second_token_with_the_same_name_is_refused_by_the_command(committed: str) -> None:
    env = {"DATABASE_URL": committed}
    create_token(env, "once", "--scope", "read")
    again = headwater("tokens", "create", "--name", "once", "--scope", "read", env=env)
    assert again.returncode == 1 and "already named" in again.stderr
    bad = headwater("tokens", "create", "--name", "x", "--scope", "root", env=env)
    assert bad.returncode == 2 and "scopes" in bad.stderr
    missing = headwater("tokens", "revoke", "nobody", env=env)
    assert missing.returncode == 1


@pytest.mark.slow
def test_tokens_work_against_the_embedded_database_while_the_service_runs(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {"HEADWATER_DATA_DIR": str(data_dir), "HEADWATER_AUTH": "required"}
    server = LiveServer({**env, "HEADWATER_LOG_LEVEL": "warning"}, tmp_path)
    server.env.pop("DATABASE_URL", None)
    server.env.pop("HEADWATER_DATABASE_URL", None)
    server.start(timeout=120)
    try:
        embedded_env = {**env, "DATABASE_URL": "", "HEADWATER_DATABASE_URL": ""}
        command_env = {k: v for k, v in {**os.environ, **embedded_env}.items() if v != ""}
        done = subprocess.run(
            [sys.executable, "-m", "app", "tokens", "create", "--name", "a", "--scope", "read"],
            env=command_env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, done.stderr
        secret = done.stdout.strip()
        with server.client() as api:
            answer = api.get("/api/v1/datasets", headers={"Authorization": f"Bearer {secret}"})
            assert answer.status_code == 200
    finally:
        server.stop()


def wire_event(namespace: str, name: str) -> dict[str, Any]:
    return {
        "eventType": "COMPLETE",
        "eventTime": "2026-11-26T00:00:00Z",
        "producer": PRODUCER,
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": "jobs", "name": name},
        "inputs": [],
        "outputs": [{"namespace": namespace, "name": name}],
    }
