"""Point and composition reads of several versions of the service, requests interleaved one by one.

    python -m benchmarks.ab_reads --database NAME [--requests N] LABEL=WORKTREE [LABEL=WORKTREE …]

Each worktree's service runs in a process of its own on the same database (one that
``benchmarks.run`` set up); for every sampled version each server answers ``/healthz`` and then
the read, the servers in alternating order, so that the machine's load falls on all of them
alike. Prints, per server, the p50 and p99 of each read and their ratio to its own ``/healthz``.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from app.db import normalize_url
from benchmarks import servers
from benchmarks.run import DEFAULT_SERVER
from benchmarks.stats import percentile


def arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--server", default=DEFAULT_SERVER)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("trees", nargs="+", metavar="LABEL=WORKTREE")
    return parser.parse_args(argv)


def start(label: str, tree: str, url: str) -> servers.Server:
    servers.ROOT = Path(tree)  # the server runs `python -m app` from this worktree
    return servers.Server("app", url, f"ab-{label}", {"HEADWATER_WORKERS": "1"}).start()


def main(argv: Sequence[str] | None = None) -> None:
    args = arguments(argv)
    url = args.server.rsplit("/", 1)[0] + "/" + args.database
    engine = create_engine(normalize_url(url))
    with engine.connect() as conn:
        versions = [
            (row[0], row[1]) for row in conn.execute(text("SELECT id, kind FROM artifacts"))
        ]
    engine.dispose()
    trees = dict(tree.split("=", 1) for tree in args.trees)
    started = {label: start(label, tree, url) for label, tree in trees.items()}
    clients = {label: httpx.Client(base_url=s.url, timeout=30) for label, s in started.items()}
    rng = random.Random(args.seed)
    datasets = [v for v in versions if v[1] == "dataset"]
    try:
        for read, suffix, pool in (
            ("point", "", datasets),
            ("composition", "/composition", versions),
        ):
            times: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in trees}
            sample = rng.sample(pool, min(args.requests + 50, len(pool)))
            for i, (node, kind) in enumerate(sample):
                path = f"/api/v1/{kind}s/{node}{suffix}"
                order = list(clients.items())[:: -1 if i % 2 else 1]
                for label, client in order:
                    before = time.perf_counter()
                    client.get("/healthz")
                    between = time.perf_counter()
                    answer = client.get(path)
                    after = time.perf_counter()
                    answer.raise_for_status()
                    if i >= 50:  # the first 50 warm the pools, caches and code paths
                        times[label][0].append((between - before) * 1000)
                        times[label][1].append((after - between) * 1000)
            for label, (health, measured) in times.items():
                p50, p99 = percentile(measured, 50), percentile(measured, 99)
                h50, h99 = percentile(health, 50), percentile(health, 99)
                print(
                    f"{read:12s} {label:12s} p50 {p50:6.2f} ms p99 {p99:6.2f} ms"
                    f" | /healthz p50 {h50:5.2f} p99 {h99:5.2f}"
                    f" | ratio p50 {p50 / h50:5.2f}x p99 {p99 / h99:5.2f}x",
                    flush=True,
                )
    finally:
        for client in clients.values():
            client.close()
        for server in started.values():
            server.stop()


if __name__ == "__main__":
    main()
