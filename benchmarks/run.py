"""Headwater's performance runs, each reported as a ratio to a baseline measured in the same run.

    python -m benchmarks.run [--nodes N] [--quick] [--seed S] [--server URL] [--database NAME]

Steps (see benchmarks/README.md for what each measures and why):

1. setup: a seeded lineage graph (benchmarks.generate), bulk-loaded into a fresh database and
   every composition computed once by the propagation engine (benchmarks.load);
2. the real service (``python -m app serve``): composition reads and the gate, each against
   ``GET /healthz`` on the same server, then native lineage writes against a raw ``COPY``;
3. the service plus a discard route (``python -m benchmarks.server``): OpenLineage ingestion
   with 16 clients against the same clients posting the same JSON to the discard route;
4. the real service again: correcting the origin of the root with the most descendants, until
   none reads stale, with the server's memory sampled throughout; then, with the server
   stopped, a from-scratch recomputation of the whole graph with networkx and
   ``app.composition.core.compose`` (the baseline, and a check of every stored composition).

Only loopback addresses are used; every loop is bounded in count and in time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import load
from benchmarks.baseline import networkx_baseline
from benchmarks.correction import bench_correction
from benchmarks.gate import bench_gate
from benchmarks.generate import Graph, describe, generate
from benchmarks.ingestion import bench_openlineage
from benchmarks.load import sql_one
from benchmarks.memory import database_size
from benchmarks.reads import bench_reads
from benchmarks.report import Run, machine, summarize
from benchmarks.scale import FULL, QUICK, Scale
from benchmarks.servers import RESULTS, SERVERS, WORKERS, serving
from benchmarks.stalls import bench_wide_writes
from benchmarks.terminal import console, progress_bar, say
from benchmarks.writes import bench_writes

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_DATABASE = "headwater_bench"


def phase(results: Run, name: str, title: str, run: Callable[[], Any]) -> None:
    say(f"— {title}")
    started = time.perf_counter()
    try:
        setattr(results, name, run())
    except Exception as exc:  # a failed phase is reported, the others still run
        console.print_exception(max_frames=5)
        results.errors[name] = repr(exc)
    results.phase_seconds[name] = round(time.perf_counter() - started, 1)


def write_results(results: Run, output: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results.dump(), indent=2, default=str) + "\n")


def arguments(argv: Sequence[str] | None) -> tuple[argparse.Namespace, Scale]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, help="graph size (default 100,000; quick 10,000)")
    parser.add_argument("--quick", action="store_true", help="a fast check on a 10k-node graph")
    parser.add_argument("--seed", type=int, default=20241124)
    parser.add_argument(
        "--server", default=os.environ.get("HEADWATER_BENCH_SERVER", DEFAULT_SERVER)
    )
    parser.add_argument("--database", default=DEFAULT_DATABASE)
    parser.add_argument(
        "--workers", type=int, default=1, help="HEADWATER_WORKERS for every server (default 1)"
    )
    parser.add_argument(
        "--setup-workers",
        type=int,
        default=2,
        help="processes recording the setup's training runs, whole families each (default 2)",
    )
    parser.add_argument(
        "--ancestry-from-graph",
        action="store_true",
        help="setup: each training run's ancestry from the generated graph, not walked in SQL",
    )
    parser.add_argument(
        "--skip-training-runs",
        action="store_true",
        help="record no training run in setup (a bound for graphs whose runs would take hours)",
    )
    parser.add_argument(
        "--reuse-setup",
        action="store_true",
        help="keep the database as an interrupted run's setup left it (same --nodes and --seed,"
        " every composition computed, no training run, no benchmark run on it since)",
    )
    parser.add_argument(
        "--memory-cap-mib",
        type=float,
        help="stop the correction's server if its RSS passes this (reported as not completed)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS / "latest.json")
    args = parser.parse_args(argv)

    scale = QUICK if args.quick else FULL
    if args.nodes:
        scale = Scale(**{**scale.__dict__, "nodes": args.nodes})
    if args.memory_cap_mib:
        scale = Scale(**{**scale.__dict__, "memory_cap_mib": args.memory_cap_mib})
    host = args.server.split("@")[-1].split("/")[0].split(":")[0]
    if host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("the benchmark only targets loopback PostgreSQL servers")
    if args.database in ("headwater_test", "headwater_committed", "postgres"):
        parser.error("use a database of the benchmark's own")
    return args, scale


def set_up(args: argparse.Namespace, scale: Scale, results: Run) -> tuple[Graph, str]:
    """A seeded graph, loaded into a fresh database with every composition computed once and
    every training run recorded by the service's own code."""
    say(f"generating a lineage graph of {scale.nodes:,} nodes (seed {args.seed})")
    graph = generate(scale.nodes, seed=args.seed)
    results.graph = describe(graph)
    say(
        f"{len(graph.nodes):,} nodes, {len(graph.edges):,} edges; the giant human root has"
        f" {graph.giant_descendants:,} descendants"
    )

    models = [n for n in graph.nodes if n.kind == "model"]  # creation order is topological
    if args.reuse_setup:
        url = load.reused_database(args.server, args.database, graph)
        load.vacuum_analyze(url)
        results.machine["postgres"] = sql_one(url, "SELECT version()")
        say(f"{args.database} holds this graph, every composition computed: setup reused")
        results.setup = {"reused": 1.0, "training_runs_skipped": float(len(models))}
        return graph, url
    say(f"fresh database {args.database}: migrate, COPY, compute every composition")
    url = load.fresh_database(args.server, args.database)
    results.machine["postgres"] = sql_one(url, "SELECT version()")
    setup = load.bulk_load(url, graph)
    load.vacuum_analyze(url)
    say(f"loaded in {setup['copy_artifacts_s'] + setup['copy_edges_s']:.1f} s; computing")
    setup.update(load.compute_compositions(url, graph.roots()))
    if args.skip_training_runs:
        say(f"compositions computed in {setup['recompute_s']:.1f} s; no training runs recorded")
        setup["training_runs_skipped"] = float(len(models))
        models = []
    else:
        say(f"compositions computed in {setup['recompute_s']:.1f} s; recording training runs")
    with progress_bar() as bar:
        task = bar.add_task("training runs (the service's refresh)", total=len(models))
        setup.update(
            load.record_training_runs(
                url,
                models,
                lambda done: bar.update(task, completed=done),
                workers=args.setup_workers,
                graph=graph if args.ancestry_from_graph else None,
            )
        )
    load.vacuum_analyze(url)
    results.setup = setup
    return graph, url


def main(argv: Sequence[str] | None = None) -> int:
    args, scale = arguments(argv)
    WORKERS[0] = args.workers
    rng = random.Random(args.seed)
    started = time.perf_counter()
    results = Run(
        date=datetime.now(UTC).isoformat(timespec="seconds"),
        mode="quick" if args.quick else "full",
        scale=scale.__dict__,
        workers=args.workers,
        machine=machine(),
        servers=SERVERS,
    )
    graph, url = set_up(args, scale, results)
    phase(results, "database_size", "database size", lambda: database_size(url))

    with serving("app", url, "service", scale) as server:
        phase(
            results, "reads", "1. composition reads", lambda: bench_reads(server, graph, scale, rng)
        )
        phase(results, "gate", "6. gate", lambda: bench_gate(server, graph, scale, rng))
        phase(
            results,
            "writes",
            "3. native writes",
            lambda: bench_writes(server, graph, scale, rng, url),
        )
        phase(
            results,
            "wide_writes",
            "2c. small writes during wide ones",
            lambda: bench_wide_writes(server, graph, rng),
        )
    write_results(results, args.output)

    with serving("benchmarks.server", url, "discard", scale) as server:
        phase(
            results,
            "openlineage",
            "5. OpenLineage ingestion",
            lambda: bench_openlineage(server, graph, scale, rng),
        )
    write_results(results, args.output)

    load.vacuum_analyze(url)
    with serving("app", url, "correction", scale) as server:
        phase(
            results,
            "correction",
            "2 + 4. origin correction of the giant root, memory",
            lambda: bench_correction(server, graph, scale, url),
        )
    write_results(results, args.output)

    phase(
        results,
        "networkx",
        "2. baseline: networkx + compose, whole graph",
        lambda: networkx_baseline(url),
    )
    phase(
        results,
        "networkx_pruned",
        "diagnostic: the same with buckets below 1e-15 dropped",
        lambda: networkx_baseline(url, patch_negligible=1e-15),
    )
    results.database_size_after = database_size(url)
    end = machine()
    results.code_at_end = {k: end[k] for k in ("git_commit", "git_dirty_files", "source_digest")}
    results.total_s = round(time.perf_counter() - started, 1)

    report = summarize(results)
    results.summary = [row.__dict__ for row in report.rows]
    write_results(results, args.output)
    console.print(report.table())
    say(f"results written to {args.output} ({results.total_s:.0f} s in all)")
    return 0 if not results.errors else 1


if __name__ == "__main__":
    sys.exit(main())
