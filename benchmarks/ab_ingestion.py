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

from benchmarks import ab
from benchmarks.ingestion import bench_openlineage
from benchmarks.scale import QUICK


def arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = ab.parser(__doc__)
    parser.add_argument("--rounds", type=int, default=2)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = arguments(argv)
    url = ab.database_url(args)
    graph = ab.recorded_graph(url)
    trees = ab.worktrees(args)
    ratios: dict[str, list[tuple[float, float]]] = {label: [] for label in trees}
    for round_ in range(args.rounds):
        for label, tree in ab.alternating(list(trees.items()), round_):
            server = ab.start("benchmarks.server", tree, url, f"ab-{label}")
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
