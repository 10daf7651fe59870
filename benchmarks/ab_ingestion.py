"""Figure 5 and 5b (OpenLineage ingestion, one event a request and 50 a batch) of several
versions of the service, alternating, on one database.

    python -m benchmarks.ab_ingestion --database NAME [--rounds N] LABEL=WORKTREE [LABEL=WORKTREE …]

Each round starts each worktree's benchmark server (``benchmarks.server``: the service and the
discard route) in turn on the same database (one that ``benchmarks.run --quick`` set up) and runs
``bench_openlineage`` against it: the discard ceiling, the single events and the batches, each
version's ratios measured against its own ceiling. Alternating the versions round by round lets
the machine's load and the database's growth fall on all of them alike. Prints each pass and,
per version, the median of its rounds.
"""

from __future__ import annotations

import argparse
import random
import statistics
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import create_engine, text

from app.db import normalize_url
from benchmarks import servers
from benchmarks.generate import Graph, Node
from benchmarks.ingestion import bench_openlineage
from benchmarks.run import DEFAULT_SERVER
from benchmarks.scale import QUICK


def arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--server", default=DEFAULT_SERVER)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("trees", nargs="+", metavar="LABEL=WORKTREE")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = arguments(argv)
    url = args.server.rsplit("/", 1)[0] + "/" + args.database
    engine = create_engine(normalize_url(url))
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, kind, namespace, name, version, size FROM artifacts"))
        graph = Graph(seed=0, nodes=[Node(*row, origin=None, uri=None) for row in rows])
    engine.dispose()
    trees = dict(tree.split("=", 1) for tree in args.trees)
    ratios: dict[str, list[tuple[float, float]]] = {label: [] for label in trees}
    for round_ in range(args.rounds):
        order = list(trees.items())[:: -1 if round_ % 2 else 1]
        for label, tree in order:
            servers.ROOT = Path(tree)  # the server runs from this worktree
            server = servers.Server(
                "benchmarks.server", url, f"ab-{label}", {"HEADWATER_WORKERS": "1"}
            ).start()
            try:
                result = bench_openlineage(server, graph, QUICK, random.Random(args.seed + round_))
            finally:
                server.stop()
            single, batch = result.ratio_to_ceiling, result.batch_ratio_to_ceiling
            ratios[label].append((single, batch))
            print(
                f"round {round_ + 1} {label:10s} ceiling {result.discard_events_per_s:7.1f}/s"
                f" | single {result.events_per_s:6.1f}/s ({single:.3f}x)"
                f" | batch {result.batch_events_per_s:6.1f}/s ({batch:.3f}x)"
                f" | statuses {result.statuses} {result.batch_statuses}",
                flush=True,
            )
    for label, measured in ratios.items():
        single = statistics.median(m[0] for m in measured)
        batch = statistics.median(m[1] for m in measured)
        print(f"median {label:10s} single {single:.3f}x ceiling | batch {batch:.3f}x ceiling")


if __name__ == "__main__":
    main()
