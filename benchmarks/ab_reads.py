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

import httpx

from benchmarks import ab
from benchmarks.stats import percentile


def arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = ab.parser(__doc__)
    parser.add_argument("--requests", type=int, default=1000)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = arguments(argv)
    url = ab.database_url(args)
    versions = [(row[0], row[1]) for row in ab.recorded(url, "id, kind")]
    trees = ab.worktrees(args)
    started = {label: ab.start("app", tree, url, f"ab-{label}") for label, tree in trees.items()}
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
                for label, client in ab.alternating(list(clients.items()), i):
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
