"""Figure 3b (the bulk path, ``POST /api/v1/batch``) of several versions of the service,
alternating, on one database.

    python -m benchmarks.ab_writes --database NAME [--rounds N] [--batches N] LABEL=WORKTREE …

Each worktree's service runs in a process of its own on the same database (one that
``benchmarks.run --quick`` set up). Each round draws new dataset versions as benchmark 3b does
(``write_bodies``, ``BATCH_DATASETS`` a request), times a ``COPY`` of as many nodes and edges
into bare tables, and posts ``--batches`` requests from ``Scale.writers`` clients to each server
in turn, the order alternating round by round, so that the machine's load and the database's
growth fall on every version alike. Prints each pass and, per version, the median of its
rounds' ratios to the round's ``COPY``.
"""

from __future__ import annotations

import argparse
import random
import statistics
from collections.abc import Sequence

from benchmarks import ab
from benchmarks.clients import run_clients
from benchmarks.scale import QUICK
from benchmarks.stats import ratio
from benchmarks.writes import BATCH_DATASETS, copy_baseline, write_bodies


def arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = ab.parser(__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batches", type=int, default=8)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = arguments(argv)
    url = ab.database_url(args)
    graph = ab.recorded_graph(url)
    trees = ab.worktrees(args)
    started = {label: ab.start("app", tree, url, f"ab-{label}") for label, tree in trees.items()}
    ratios: dict[str, list[float]] = {label: [] for label in trees}
    # new names on every run: the same seed on a database that grew gives other ones
    rng = random.Random(f"{args.seed}-{len(graph.nodes)}")
    clients = QUICK.writers
    try:
        for round_ in range(args.rounds):
            drawn = {
                label: write_bodies(graph, args.batches * BATCH_DATASETS, rng) for label in trees
            }
            first = next(iter(drawn.values()))
            edges = [(i, p) for i, body in enumerate(first) for p in body.get("parents", [])]
            copy_rate = (len(first) + len(edges)) / copy_baseline(url, len(first), edges)
            for label in ab.alternating(list(trees), round_):
                bodies = drawn[label]
                batches = [
                    {"datasets": bodies[i : i + BATCH_DATASETS]}
                    for i in range(0, len(bodies), BATCH_DATASETS)
                ]
                work = [[("/api/v1/batch", b) for b in batches[i::clients]] for i in range(clients)]
                elapsed, statuses, errors = run_clients(
                    clients, work, started[label], f"{label}: POST /api/v1/batch", 1200
                )
                items = len(bodies) + sum(len(b.get("parents", [])) for b in bodies)
                if errors or set(statuses) != {200}:
                    raise SystemExit(f"{label}: statuses {statuses}, errors {errors[:3]}")
                measured = ratio(items / elapsed, copy_rate)
                ratios[label].append(measured)
                print(
                    f"round {round_ + 1} {label:10s} {items / elapsed:8.1f} items/s"
                    f" | COPY {copy_rate:9.1f}/s | {measured:.4f}x",
                    flush=True,
                )
    finally:
        for server in started.values():
            server.stop()
    for label, measured in ratios.items():
        print(f"median {label:10s} {statistics.median(measured):.4f}x COPY over {len(measured)}")


if __name__ == "__main__":
    main()
