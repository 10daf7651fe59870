"""Benchmark 1: composition reads and point lookups, each preceded by ``GET /healthz``.

Compositions are computed on write so that reading one is a point lookup: it should cost about
what the HTTP stack costs, which ``/healthz`` on the same server measures.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Self

import httpx

from benchmarks.clients import interleaved
from benchmarks.generate import Graph, Node
from benchmarks.scale import Scale
from benchmarks.servers import Server
from benchmarks.stats import Latency, Result, versus


class Interleaved(Result):
    """Latencies of one kind of request against ``/healthz`` interleaved with it."""

    endpoint: str
    statuses: dict[int, int]
    reads: Latency
    healthz: Latency
    ratio_p50: float
    ratio_p99: float

    @classmethod
    def of(
        cls, endpoint: str, statuses: dict[int, int], measured: list[float], health: list[float]
    ) -> Self:
        reads, healthz, p50, p99 = versus(measured, health)
        return cls(
            endpoint=endpoint,
            statuses=statuses,
            reads=reads,
            healthz=healthz,
            ratio_p50=p50,
            ratio_p99=p99,
        )


class Reads(Interleaved):
    composition_endpoint: bool = True
    point_lookup: Interleaved | None = None
    target: str = "p50 and p99 <= 2x /healthz"


def artifact_path(node: Node) -> str:
    return f"/api/v1/{'datasets' if node.kind == 'dataset' else 'models'}/{node.id}"


def bench_reads(server: Server, graph: Graph, scale: Scale, rng: random.Random) -> Reads:
    with server.client() as client:
        paths = client.get("/openapi.json").json()["paths"]
        has_composition = "/api/v1/datasets/{dataset_id}/composition" in paths
        suffix = "/composition" if has_composition else ""
        nodes = rng.sample(graph.nodes, min(scale.reads, len(graph.nodes)))
        warm = rng.sample(graph.nodes, 50)
        for node in warm:  # warm the pool, the caches and the code paths
            client.get(artifact_path(node) + suffix)
            client.get("/healthz")

        def read(node: Node) -> Callable[[httpx.Client], httpx.Response]:
            return lambda c: c.get(artifact_path(node) + suffix)

        measured, health, statuses = interleaved(
            client, [read(n) for n in nodes], f"GET …/{{id}}{suffix} on random nodes"
        )
        datasets = [n for n in graph.nodes if n.kind == "dataset"]
        points = rng.sample(datasets, min(scale.point_reads, len(datasets)))

        def point(node: Node) -> Callable[[httpx.Client], httpx.Response]:
            return lambda c: c.get(artifact_path(node))

        point_measured, point_health, point_statuses = interleaved(
            client, [point(n) for n in points], "GET /api/v1/datasets/{id} (point lookup)"
        )
    reads = Reads.of(f"GET /api/v1/{{datasets|models}}/{{id}}{suffix}", statuses, measured, health)
    point_lookup = Interleaved.of(
        "GET /api/v1/datasets/{id}", point_statuses, point_measured, point_health
    )
    return reads.model_copy(
        update={"composition_endpoint": has_composition, "point_lookup": point_lookup}
    )
