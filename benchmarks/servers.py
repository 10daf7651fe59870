"""The service under test, in subprocesses of their own, and what they use of the machine.

Each server runs in its own session on a free loopback port, with its log in
``results/server-<label>.log``; every server a run starts is listed (with a digest of the code
it started with) in ``SERVERS``, which the run records.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from app.serve_probe import NotReady, free_port, launch, wait_ready
from benchmarks.scale import Scale
from benchmarks.terminal import say

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"


def process_tree(pid: int) -> list[int]:
    """pid and every descendant process (from /proc/<pid>/task/*/children)."""
    found = [pid]
    index = 0
    while index < len(found):
        current = found[index]
        index += 1
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{current}/task"):
                with contextlib.suppress(OSError):
                    text = Path(f"/proc/{current}/task/{task}/children").read_text()
                    found.extend(int(child) for child in text.split())
    return found


def source_digest() -> str:
    """A digest of the service's source (app/ and migrations/) as it is on disk now: the code
    a server started now runs, even while the working tree changes."""
    digest = hashlib.sha256()
    for path in sorted([*ROOT.glob("app/**/*.py"), *ROOT.glob("migrations/**/*.py")]):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


SERVERS: list[dict[str, Any]] = []


def status_kib(pid: int, key: str) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


class Server:
    """The service in a subprocess of its own session, on a free loopback port."""

    def __init__(self, module: str, database_url: str, label: str, extra_env: dict[str, str]):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.module = module
        self.label = label
        self.log_path = RESULTS / f"server-{label}.log"
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "HEADWATER_HOST": "127.0.0.1",
            "HEADWATER_PORT": str(self.port),
            "HEADWATER_LOG_LEVEL": "warning",
            **extra_env,
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120.0) -> Server:
        RESULTS.mkdir(parents=True, exist_ok=True)
        SERVERS.append(
            {
                "label": self.label,
                "module": self.module,
                "started": datetime.now(UTC).isoformat(timespec="seconds"),
                "source_digest": source_digest(),
            }
        )
        self.log = self.log_path.open("wb")
        self.process = launch(
            [sys.executable, "-m", self.module, *(["serve"] if self.module == "app" else [])],
            self.env,
            ROOT,
            self.log,
        )
        try:
            wait_ready(self.process, self.url, timeout, poll=0.2)
        except NotReady as exc:
            self.stop()
            raise RuntimeError(f"{self.label} server {exc}: {self.tail()}") from exc
        say(f"server '{self.label}' ready on {self.url} (pid {self.process.pid})")
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def rss_kib(self) -> tuple[int, int]:
        """(VmRSS, VmHWM) summed over the server process and its children."""
        tree = process_tree(self.pid)
        return (
            sum(status_kib(p, "VmRSS") for p in tree),
            sum(status_kib(p, "VmHWM") for p in tree),
        )

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()  # our own child, by its handle
                self.process.wait(timeout=30)
        self.log.close()
        self.process = None

    def client(self, timeout: float = 120.0) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=timeout)


WORKERS = [1]


@contextlib.contextmanager
def serving(module: str, database_url: str, label: str, scale: Scale) -> Iterator[Server]:
    extra = {"HEADWATER_WORKERS": str(WORKERS[0])}
    if scale.inline_limit is not None:
        extra["HEADWATER_PROPAGATION_INLINE_LIMIT"] = str(scale.inline_limit)
    server = Server(module, database_url, label, extra).start()
    try:
        yield server
    finally:
        server.stop()
