"""The service started in a subprocess and waited for until it is ready: how the tests' live
servers and the benchmarks' servers both start one (neither imports the other).

``serve`` in a subprocess answers ``/readyz`` with 200 once it has migrated and reached the
database; until then the port refuses or the answer is 503.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

import httpx


class NotReady(RuntimeError):
    """The server exited, or did not answer ``/readyz`` in time; the message says which."""


def free_port() -> int:
    """A loopback port no one listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def launch(
    command: Sequence[str], env: Mapping[str, str], cwd: Path, log: IO[bytes]
) -> subprocess.Popen[bytes]:
    """``command`` in a session of its own (a signal to it reaches its workers, not us), its
    output in ``log``."""
    return subprocess.Popen(
        command,
        env=env,
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_ready(
    process: subprocess.Popen[bytes], url: str, timeout: float, *, poll: float = 0.1
) -> None:
    """Return once ``url``'s ``/readyz`` answers 200; raise :class:`NotReady` when ``process``
    exits first or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise NotReady(f"exited with code {process.returncode}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url + "/readyz", timeout=max(1.0, 10 * poll)).status_code == 200:
                return
        time.sleep(poll)
    raise NotReady(f"not ready in {timeout}s")
