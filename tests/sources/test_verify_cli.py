"""`headwater sources verify` end to end: a real service, real files, a real HTTP server on
loopback, a store without credentials; the verdicts downstream and the exit codes."""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import io
import json
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.sources.cli import (
    EXIT_COULD_NOT_RUN,
    EXIT_NOT_PRESERVED,
    EXIT_VERIFIED,
    VerifyOptions,
    run,
)
from tests.conftest import Done, LiveServer, free_port, headwater
from tests.sources.test_checking import Quiet

LAKE = "s3://lake"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def offline_env(tmp_path: Path) -> dict[str, str | None]:
    """No AWS credentials anywhere, and nothing that could leave loopback."""
    return {
        "AWS_ACCESS_KEY_ID": None,
        "AWS_SECRET_ACCESS_KEY": None,
        "AWS_SESSION_TOKEN": None,
        "AWS_PROFILE": None,
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
        "COLUMNS": "200",
    }


def verify(service_url: str, tmp_path: Path, *args: str) -> Done:
    return headwater("sources", "verify", "--url", service_url, *args, env=offline_env(tmp_path))


@pytest.fixture
def web_root(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "www"
    root.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()
    server.server_close()


def post(client: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(path, json=body)
    assert response.status_code in (200, 201), response.text
    result: dict[str, Any] = response.json()
    return result


def source(client: httpx.Client, name: str, size: float, uri: str, checksum: str) -> str:
    body = {
        "namespace": LAKE,
        "name": name,
        "version": "1",
        "size": size,
        "origin": {"human": 1.0},
        "uri": uri,
        "checksum": checksum,
    }
    return str(post(client, "/api/v1/datasets", body)["id"])


def sources_preserved(document: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {f["rule"]: f for f in document["findings"]}["sources_preserved"]
    return found


def test_nightly_verification(
    live_server: LiveServer, tmp_path: Path, web_root: tuple[str, Path]
) -> None:
    base, www = web_root
    files = tmp_path / "corpora"
    files.mkdir()
    books, news, forum = b"books\n" * 50_000, b"news\n" * 1000, b"forum\n" * 1000
    (files / "books.txt").write_bytes(books)
    (files / "news.txt").write_bytes(news)
    (www / "forum.txt").write_bytes(forum)
    vault = tmp_path / "vault"
    vault.mkdir()
    (vault / "news.txt").write_bytes(news)

    with live_server.client() as client:
        books_id = source(client, "books", 9000, (files / "books.txt").as_uri(), sha256(books))
        news_id = source(client, "news", 500, (files / "news.txt").as_uri(), sha256(news))
        forum_id = source(client, "forum", 500, f"{base}/forum.txt", sha256(forum))
        with_s3 = importlib.util.find_spec("s3fs") is not None
        if with_s3:
            source(client, "cloud", 100, "s3://headwater-corpora/web.jsonl", sha256(b"x"))
        client.put(
            f"/api/v1/sources/{news_id}/archive",
            json={"archive_uri": (vault / "news.txt").as_uri()},
        ).raise_for_status()
        trained = post(
            client,
            "/api/v1/models",
            {
                "namespace": "models",
                "name": "writer",
                "version": "1",
                "training_set": [{"id": books_id}, {"id": news_id}, {"id": forum_id}],
            },
        )
        run_path = f"/api/v1/training-runs/{trained['training_run_id']}"
        assert sources_preserved(client.get(run_path).json())["status"] == "not_applicable"

        # Night 1: everything is where it was recorded.
        first = verify(live_server.url, tmp_path, "--json")
        assert first.returncode == EXIT_VERIFIED, first.stderr
        answer = json.loads(first.stdout)
        statuses = {s["name"]: s["status"] for s in answer["sources"]}
        assert statuses == {
            "books": "verified",
            "news": "verified",
            "forum": "verified",
            **({"cloud": "unchecked"} if with_s3 else {}),
        }
        if with_s3:
            cloud = next(s for s in answer["sources"] if s["name"] == "cloud")
            assert "no credentials" in cloud["reason"]
        run = client.get(run_path).json()
        assert run["verdict"] == "pass"
        assert sources_preserved(run)["status"] == "pass"

        # Night 2: the books corpus was deleted, the news corpus rewritten in place (its
        # preserved copy still matches), the forum still served.
        (files / "books.txt").unlink()
        (files / "news.txt").write_bytes(b"rewritten\n")
        second = verify(live_server.url, tmp_path)
        assert second.returncode == EXIT_NOT_PRESERVED, second.stderr
        assert "books" in second.stdout and "lost" in second.stdout
        assert "models::writer@1 (warn)" in second.stdout

        listed = client.get("/api/v1/sources", params={"status": "lost"}).json()["items"]
        assert [s["name"] for s in listed] == ["books"]
        news_state = client.get(f"/api/v1/sources/{news_id}").json()
        assert (news_state["status"], news_state["answered_by"]) == ("verified", "archive")

        run = client.get(run_path).json()
        assert run["verdict"] == "warn"
        finding = sources_preserved(run)
        assert finding["status"] == "warn"
        assert abs(finding["observed"] - 0.1) < 1e-9  # 1000 of 10000 checked human rows remain
        cause = run["history"][-1]["cause"]
        assert "books@1 verified → lost" in cause and "not found" in cause
        assert run["history"][-2]["verdict"] == "pass"

        gate = post(
            client,
            "/api/v1/gate",
            {
                "training_set": [
                    {"namespace": LAKE, "name": "books"},
                    {"namespace": LAKE, "name": "forum"},
                ]
            },
        )
        assert sources_preserved(gate)["status"] == "warn"
        assert "books" not in [s["name"] for s in gate["remediation"]["sources"]]

        # Only one namespace asked for: nothing in it.
        assert verify(live_server.url, tmp_path, "--namespace", "elsewhere").returncode == 0

    # The service is gone: the command cannot run.
    unreachable = verify(f"http://127.0.0.1:{free_port()}", tmp_path, "--json")
    assert unreachable.returncode == EXIT_COULD_NOT_RUN
    assert json.loads(unreachable.stdout)["type"] == "urn:headwater:sources:unreachable"


def test_the_token_is_sent_and_a_refusal_means_it_could_not_run() -> None:
    seen: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization"))
        if request.headers.get("authorization") != "Bearer s3cret":
            return httpx.Response(
                401,
                json={"type": "about:blank", "title": "Unauthorized", "detail": "no token"},
                headers={"content-type": "application/problem+json"},
            )
        return httpx.Response(200, json={"items": [], "next_cursor": None})

    transport = httpx.MockTransport(answer)
    out, err = io.StringIO(), io.StringIO()
    options = VerifyOptions(url="http://headwater.invalid", token="s3cret")
    assert run(options, stdout=out, stderr=err, transport=transport) == EXIT_VERIFIED
    assert "0 sources" in out.getvalue()

    refused = VerifyOptions(url="http://headwater.invalid", json_output=True)
    out, err = io.StringIO(), io.StringIO()
    assert run(refused, stdout=out, stderr=err, transport=transport) == EXIT_COULD_NOT_RUN
    assert "HTTP 401: no token" in err.getvalue()
    assert json.loads(out.getvalue())["type"] == "urn:headwater:sources:refused"
    assert seen == ["Bearer s3cret", None]
