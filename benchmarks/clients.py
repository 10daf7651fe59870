"""Clients of the service under test: one at a time against ``GET /healthz``, or several in
threads, each loop bounded in count and in time."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from benchmarks.servers import Server
from benchmarks.terminal import progress_bar


def interleaved(
    client: httpx.Client,
    requests: Sequence[Callable[[httpx.Client], httpx.Response]],
    description: str,
) -> tuple[list[float], list[float], dict[int, int]]:
    """Each request, preceded by GET /healthz; the latencies of both, and the statuses."""
    measured: list[float] = []
    health: list[float] = []
    statuses: dict[int, int] = {}
    with progress_bar() as bar:
        task = bar.add_task(description, total=len(requests))
        for request in requests:
            started = time.perf_counter()
            client.get("/healthz").raise_for_status()
            health.append(time.perf_counter() - started)
            started = time.perf_counter()
            response = request(client)
            measured.append(time.perf_counter() - started)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            bar.advance(task)
    return measured, health, statuses


def run_clients(
    clients: int,
    work: Sequence[Sequence[tuple[str, Any]]],
    server: Server,
    description: str,
    deadline_s: float,
) -> tuple[float, dict[int, int], list[str]]:
    """Each client posts its list of (path, body) in order; wall time, statuses, errors."""
    statuses: dict[int, int] = {}
    errors: list[str] = []
    lock = threading.Lock()
    total = sum(len(items) for items in work)
    deadline = time.monotonic() + deadline_s
    with progress_bar() as bar:
        task = bar.add_task(description, total=total)

        def worker(items: Sequence[tuple[str, Any]]) -> None:
            with server.client(timeout=300) as client:
                for path, body in items:
                    if time.monotonic() > deadline:
                        with lock:
                            errors.append("deadline reached")
                        return
                    try:
                        response = client.post(path, json=body)
                        code = response.status_code
                        detail = response.text[:300] if code >= 400 else ""
                    except httpx.HTTPError as exc:
                        code, detail = 0, repr(exc)
                    with lock:
                        statuses[code] = statuses.get(code, 0) + 1
                        if detail and len(errors) < 10:
                            errors.append(f"{code}: {detail}")
                    bar.advance(task)

        threads = [
            threading.Thread(target=worker, args=(items,), name=f"client-{i}")
            for i, items in enumerate(work[:clients])
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=deadline_s + 60)
        elapsed = time.perf_counter() - started
    return elapsed, statuses, errors
