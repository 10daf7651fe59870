"""The pages on a 10,000-node ancestry: is the first view of a dataset page bounded?

A layered lineage (human datasets at the bottom, then models and the data they generated,
each node with three parents in the layer below) ends in one dataset whose ancestry is about
10,000 nodes. The real service serves its page; each page time is reported beside a baseline
measured in the same run (the API's point lookup of the same dataset), as every benchmark here
is, and the page's size says how much of the graph the first view sends.

    .venv/bin/python -m benchmarks.pages [--layers 100 --width 110 --requests 30]
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from typing import Any

from benchmarks.generate import HUMAN, Builder, Graph, Node
from benchmarks.load import bulk_load, compute_compositions, fresh_database, vacuum_analyze
from benchmarks.servers import RESULTS, Server
from benchmarks.stats import latency_summary

PARENTS = 3


def layered(layers: int, width: int, seed: int) -> tuple[Graph, Node]:
    """Even layers hold datasets, odd layers models; the top dataset descends from nearly all."""
    build = Builder(seed)
    rng = build.rng
    below: list[Node] = []
    for layer in range(layers):
        kind = "dataset" if layer % 2 == 0 else "model"
        row = []
        for i in range(width):
            if layer == 0:
                node = build.node(
                    "dataset", "s3://bench", f"human/{i}", "1", size=1000.0, origin=HUMAN
                )
            else:
                node = build.node(kind, "s3://bench", f"layer{layer}/{i}", "1", size=1000.0)
                relation = "generated_by" if kind == "dataset" else "trained_on"
                for parent in rng.sample(below, PARENTS):
                    build.edge(node, parent, relation, None)
            row.append(node)
        below = row
    top = build.node("dataset", "s3://bench", "top", "1", size=1000.0)
    relation = "generated_by" if below[0].kind == "model" else "derived_from"
    for parent in rng.sample(below, PARENTS):
        build.edge(top, parent, relation, None)
    return build.graph, top


def ancestors(graph: Graph, node: Node) -> set[uuid.UUID]:
    parents: dict[uuid.UUID, list[uuid.UUID]] = {}
    for e in graph.edges:
        parents.setdefault(e.child, []).append(e.parent)
    seen: set[uuid.UUID] = set()
    todo = [node.id]
    while todo:
        for parent in parents.get(todo.pop(), []):
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return seen


def timed(client: Any, path: str, count: int) -> tuple[list[float], int]:
    seconds, size = [], 0
    for _ in range(count):
        started = time.perf_counter()
        response = client.get(path, headers={"accept": "text/html"})
        seconds.append(time.perf_counter() - started)
        assert response.status_code == 200, (path, response.status_code, response.text[:500])
        size = len(response.content)
    return seconds, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--layers", type=int, default=100)
    parser.add_argument("--width", type=int, default=110)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="headwater_bench_pages")
    args = parser.parse_args()

    graph, top = layered(args.layers, args.width, args.seed)
    url = fresh_database(args.server, args.database)
    bulk_load(url, graph)
    compute_compositions(url, graph.roots())
    vacuum_analyze(url)
    server = Server("app", url, "pages", {}).start()
    results: dict[str, Any] = {"nodes": len(graph.nodes), "edges": len(graph.edges)}
    try:
        with server.client() as client:
            results["ancestors"] = len(ancestors(graph, top))
            first_hop = [str(e.parent) for e in graph.edges if e.child == top.id]
            views = {
                "api point lookup (baseline)": f"/api/v1/datasets/{top.id}",
                "api lineage, depth 3": f"/api/v1/datasets/{top.id}/lineage?depth=3&max_nodes=41",
                "page, first view": f"/datasets/{top.id}",
                "page, 10 generations up": f"/datasets/{top.id}?up=10",
                "page, 3 nodes expanded": f"/datasets/{top.id}?"
                + "&".join(f"parents_of={n}" for n in first_hop),
                "search page": "/?q=layer5",
            }
            for path in views.values():
                timed(client, path, 2)  # warm the pool and the caches
            rows = {}
            for label, path in views.items():
                seconds, size = timed(client, path, args.requests)
                rows[label] = {**latency_summary(seconds).dump(), "bytes": size}
    finally:
        server.stop()
    base = rows["api point lookup (baseline)"]["p50_ms"]
    results["views"] = rows
    print(
        f"{results['nodes']} nodes, {results['edges']} edges;"
        f" the top dataset has {results['ancestors']} ancestors"
    )
    print(f"{'view':32} {'p50 ms':>8} {'p90 ms':>8} {'x baseline':>11} {'KiB':>7}")
    for label, row in rows.items():
        print(
            f"{label:32} {row['p50_ms']:8.1f} {row['p90_ms']:8.1f}"
            f" {row['p50_ms'] / base:11.1f} {row['bytes'] / 1024:7.1f}"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "pages.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
