"""Checking one copy from this machine: real files, a real HTTP server on loopback, and an
object store whose credentials are missing."""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from app.sources.checking import check_source
from tests.conftest import free_port


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class Refusing(BaseHTTPRequestHandler):
    def do_HEAD(self) -> None:
        self.send_response(403)
        self.end_headers()

    do_GET = do_HEAD

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real HTTP server on loopback serving ``tmp_path``."""
    root = tmp_path / "www"
    root.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()
    server.server_close()


def test_a_file_is_verified_then_changed_then_lost(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    data = b"human words\n" * 300_000  # several read chunks
    corpus.write_bytes(data)
    recorded = sha256(data)

    found = check_source(corpus.as_uri(), recorded, None)
    assert (found.status, found.answered_by, found.observed_checksum) == (
        "verified",
        "original",
        recorded,
    )
    assert check_source(str(corpus), recorded, None).status == "verified"  # a plain path

    corpus.write_bytes(data + b"one more line\n")
    changed = check_source(corpus.as_uri(), recorded, None)
    assert changed.status == "changed"
    assert changed.observed_checksum == sha256(data + b"one more line\n")
    assert recorded in (changed.reason or "")

    corpus.unlink()
    lost = check_source(corpus.as_uri(), recorded, None)
    assert lost.status == "lost" and "not found" in (lost.reason or "")


def test_a_preserved_copy_answers_when_the_original_is_gone(tmp_path: Path) -> None:
    data = b"the original corpus\n"
    archive = tmp_path / "vault" / "corpus.txt"
    archive.parent.mkdir()
    archive.write_bytes(data)
    gone = tmp_path / "corpus.txt"

    found = check_source(gone.as_uri(), sha256(data), archive.as_uri())
    assert (found.status, found.answered_by) == ("verified", "archive")
    assert "lost" in (found.reason or "") and archive.as_uri() in (found.reason or "")

    archive.write_bytes(b"rewritten\n")
    both = check_source(gone.as_uri(), sha256(data), archive.as_uri())
    assert both.status == "lost" and "preserved copy is changed" in (both.reason or "")


def test_over_http(served: tuple[str, Path]) -> None:
    base, root = served
    data = b"a web corpus\n" * 1000
    (root / "web.txt").write_bytes(data)
    assert check_source(f"{base}/web.txt", sha256(data), None).status == "verified"
    assert check_source(f"{base}/web.txt", sha256(b"other"), None).status == "changed"
    missing = check_source(f"{base}/gone.txt", sha256(data), None)
    assert missing.status == "lost" and "not found" in (missing.reason or "")
    closed = f"http://127.0.0.1:{free_port()}/web.txt"
    unreachable = check_source(closed, sha256(data), None, timeout=5)
    assert unreachable.status == "lost" and "unreachable" in (unreachable.reason or "")


def test_refused_access_is_unchecked_not_lost() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        uri = f"http://127.0.0.1:{server.server_address[1]}/private.txt"
        found = check_source(uri, sha256(b"x"), None)
    finally:
        server.shutdown()
        server.server_close()
    assert found.status == "unchecked" and "refused" in (found.reason or "")


def test_a_store_without_credentials_is_unchecked_and_never_leaves_loopback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    if importlib.util.find_spec("s3fs") is None:
        pytest.skip("s3fs is not installed (the headwater[s3] extra)")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # were anything to be sent, it would go to a closed port on loopback, not to AWS
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    found = check_source("s3://headwater-corpora/web/2019.jsonl", sha256(b"x"), None)
    assert found.status == "unchecked"
    assert "no credentials" in (found.reason or "")


def test_a_scheme_without_a_backend_is_unchecked(tmp_path: Path) -> None:
    found = check_source("nosuchstore://bucket/corpus", sha256(b"x"), None)
    assert found.status == "unchecked" and "no fsspec backend" in (found.reason or "")
    if importlib.util.find_spec("gcsfs") is None:  # the headwater[gcs] extra
        gcs = check_source("gs://b/x", None, None)
        assert gcs.status == "unchecked" and "headwater[gcs]" in (gcs.reason or "")


def test_a_checksum_this_command_cannot_compute_is_unchecked(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_bytes(b"x")
    found = check_source(corpus.as_uri(), "md5:9dd4e461268c8034f5c8564e155c67a6", None)
    assert found.status == "unchecked" and "sha256" in (found.reason or "")
    unrecorded = check_source(corpus.as_uri(), None, None)
    assert unrecorded.status == "verified" and unrecorded.observed_checksum == sha256(b"x")
