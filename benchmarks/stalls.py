"""Benchmarks 2b and 2c: how long one small, unrelated write waits while a wide one is applied
(a correction, a model with a 50,000-member training set, an OpenLineage event with 100 inputs
and 100 outputs). A wide request must not hold up others."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import httpx

from benchmarks.generate import Graph
from benchmarks.ingestion import PRODUCER, RUN_EVENT_SCHEMA, ol_dataset
from benchmarks.servers import Server
from benchmarks.stats import Result
from benchmarks.terminal import say


class Probe(Result):
    """One request and how it went: its status (or the transport error), and its latency."""

    status: int | str | None = None
    latency_s: float | None = None
    error: str | None = None


class Stall(Result):
    wide: Probe
    probe: Probe


class WideWrites(Result):
    members: int
    training_set: Stall
    event_100x100: Stall


def timed(server: Server, send: Callable[[httpx.Client], httpx.Response], timeout: float) -> Probe:
    """Send one request on a client of its own; its status (or error) and latency."""
    probe = Probe()
    started = time.perf_counter()
    try:
        with server.client(timeout=timeout) as client:
            response = send(client)
        probe.status = response.status_code
        if response.status_code >= 400:
            probe.error = response.text[:300]
    except httpx.HTTPError as exc:
        probe.status = repr(exc)
    probe.latency_s = time.perf_counter() - started
    return probe


def small_write(server: Server, timeout: float) -> Probe:
    """One small unrelated ``POST /api/v1/datasets``: how long is it held up?"""
    body = {
        "namespace": "s3://bench-probe",
        "name": f"probe-{uuid.uuid4().hex[:8]}",
        "version": "v1",
        "size": 1000.0,
        "origin": {"human": 1.0},
    }
    return timed(server, lambda client: client.post("/api/v1/datasets", json=body), timeout)


def probe_during(
    server: Server, label: str, send: Callable[[httpx.Client], httpx.Response]
) -> Stall:
    """Send one wide request, and one small unrelated POST /datasets 1 s later: how long does
    the small one wait while the wide one is applied?"""
    wide: list[Probe] = []
    say(f"{label}, and a small write 1 s into it")
    thread = threading.Thread(
        target=lambda: wide.append(timed(server, send, 600)), name="wide-write"
    )
    thread.start()
    time.sleep(1.0)
    probe = small_write(server, 600)
    thread.join(timeout=900)
    return Stall(wide=wide[0] if wide else Probe(), probe=probe)


def bench_wide_writes(server: Server, graph: Graph, rng: random.Random) -> WideWrites:
    """The stalls of issue-sized requests: a 50,000-member training set, a 100 x 100 event."""
    datasets = [n for n in graph.nodes if n.kind == "dataset"]
    members = rng.sample(datasets, min(50_000, len(datasets)))
    model = {
        "namespace": "s3://bench-wide",
        "name": "wide-model",
        "version": uuid.uuid4().hex[:8],
        "training_set": [{"id": str(n.id)} for n in members],
    }
    inputs = rng.sample(datasets, 100)
    run_id = str(uuid.uuid4())
    event = {
        "eventType": "COMPLETE",
        "eventTime": datetime.now(UTC).isoformat(),
        "producer": PRODUCER,
        "schemaURL": RUN_EVENT_SCHEMA,
        "run": {"runId": run_id},
        "job": {"namespace": "bench-wide", "name": "mix-100x100"},
        "inputs": [ol_dataset(n.namespace, n.name, version=n.version) for n in inputs],
        "outputs": [
            ol_dataset("s3://bench-wide", f"out-{i}", version=run_id, rows=1000, output=True)
            for i in range(100)
        ],
    }
    return WideWrites(
        members=len(members),
        training_set=probe_during(
            server,
            f"a model with a {len(members):,}-member training set",
            lambda client: client.post("/api/v1/models", json=model),
        ),
        event_100x100=probe_during(
            server,
            "an OpenLineage event with 100 inputs and 100 outputs",
            lambda client: client.post("/api/v1/lineage", json=event),
        ),
    )
