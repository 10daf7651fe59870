"""Writers whose subgraphs cross, posting at once to one service: how many of their requests get
through, and how often PostgreSQL had to break a deadlock between them.

    python -m benchmarks.contention [--server URL] [--seconds N] [--clients N] [--seed N]
        LABEL=WORKTREE …

For each worktree in turn: a fresh database, that worktree's service on it with two API
processes, and ``--clients`` processes posting for ``--seconds`` what a seeded stream draws:
native batches (half the requests) of up to 60 dataset versions among 300 names, with parents
among them, edges between recorded ones and a few models trained on them; single OpenLineage
events and batches of 50 whose inputs are those datasets; origin corrections of the first
30. Every worktree is sent the same streams. Prints, per worktree, the requests answered by
status, the deadlocks PostgreSQL broke in its database (``pg_stat_database``), the writes run
again (the service's log lines that say so), and the latency.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from benchmarks import servers
from benchmarks.load import fresh_database, sql_one
from benchmarks.run import DEFAULT_SERVER
from benchmarks.stats import percentile
from benchmarks.terminal import say

NAMES = 300  # dataset names every writer draws from: their subgraphs cross
CORRECTED = 30  # the first names, whose origins are corrected


def dataset(rng: random.Random, index: int | None = None) -> dict[str, Any]:
    """A reference to one of the shared dataset versions."""
    index = rng.randrange(NAMES) if index is None else index
    return {"namespace": "shared", "name": f"d{index}", "version": "1"}


def native_batch(rng: random.Random) -> dict[str, Any]:
    datasets = []
    for _ in range(rng.randint(1, 60)):
        index = rng.randrange(NAMES)
        parents = [
            {**dataset(rng, p), "relation": rng.choice(["derived_from", "generated_by"])}
            for p in rng.sample(range(NAMES), 3)
            if p < index and rng.random() < 0.5
        ]
        origin = rng.choice([None, {"human": 1.0}, {"synthetic": 1.0, "synthetic_depth": 1}])
        version = {**dataset(rng, index), "size": 1000.0, "origin": origin}
        datasets.append({**version, "parents": parents})
    models = [
        {
            "namespace": "shared",
            "name": f"m{rng.randrange(20)}",
            "version": str(rng.randrange(5)),
            "training_set": [dataset(rng) for _ in range(rng.randint(1, 20))],
        }
        for _ in range(rng.randint(0, 3))
    ]
    edges = []
    for _ in range(rng.randint(0, 10)):
        parent, child = sorted(rng.sample(range(NAMES), 2))
        ends = {"child": dataset(rng, child), "parent": dataset(rng, parent)}
        edges.append({**ends, "relation": "derived_from"})
    return {"datasets": datasets, "models": models, "edges": edges}


def event(rng: random.Random) -> dict[str, Any]:
    return {
        "eventType": rng.choice(["START", "COMPLETE", "FAIL"]),
        "eventTime": "2026-01-01T00:00:00Z",
        "producer": "https://example.org/benchmarks/contention",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/definitions/RunEvent",
        "run": {"runId": str(uuid.UUID(int=rng.getrandbits(128), version=4))},
        "job": {"namespace": "contention", "name": f"job{rng.randrange(30)}"},
        "inputs": [
            {"namespace": "shared", "name": f"d{rng.randrange(NAMES)}"}
            for _ in range(rng.randint(0, 4))
        ],
        "outputs": [{"namespace": "shared", "name": f"out{rng.randrange(NAMES)}"}],
    }


def one_request(client: httpx.Client, rng: random.Random) -> httpx.Response | None:
    """One request of the stream (None: a correction of a version not recorded yet)."""
    draw = rng.random()
    if draw < 0.5:
        return client.post("/api/v1/batch", json=native_batch(rng))
    if draw < 0.85:
        return client.post("/api/v1/lineage", json=event(rng))
    if draw < 0.95:
        return client.post("/api/v1/lineage/batch", json=[event(rng) for _ in range(50)])
    name = dataset(rng, rng.randrange(CORRECTED))
    found = client.get("/api/v1/datasets", params=name).json().get("items", [])
    if not found:
        return None
    human = round(rng.uniform(0.0, 0.5), 3)
    correction = {"human": human, "synthetic": 1.0 - human, "reason": "contention benchmark"}
    return client.put(f"/api/v1/datasets/{found[0]['id']}/origin", json=correction)


def writer(url: str, seed: int, seconds: float) -> tuple[Counter[str], list[float]]:
    """One client posting its stream until ``seconds`` are up: statuses and latencies."""
    rng = random.Random(seed)
    statuses: Counter[str] = Counter()
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=url, timeout=300) as client:
        while time.monotonic() < deadline:
            started = time.monotonic()
            try:
                response = one_request(client, rng)
            except httpx.HTTPError as exc:
                statuses[type(exc).__name__] += 1
                continue
            if response is not None:
                latencies.append(time.monotonic() - started)
                statuses[str(response.status_code)] += 1
    return statuses, latencies


def measure(args: argparse.Namespace, label: str, tree: str) -> None:
    url = fresh_database(args.server, f"headwater_contention_{label}")
    database = url.rsplit("/", 1)[1]
    deadlocks = f"SELECT deadlocks FROM pg_stat_database WHERE datname = '{database}'"
    before = sql_one(url, deadlocks)
    servers.ROOT = Path(tree)
    # at info, the log has a line for every write run again
    env = {"HEADWATER_WORKERS": "2", "HEADWATER_LOG_LEVEL": "info"}
    server = servers.Server("app", url, f"contention-{label}", env).start()
    try:
        seeds = [(server.url, args.seed + i, args.seconds) for i in range(args.clients)]
        with multiprocessing.get_context("spawn").Pool(args.clients) as pool:
            results = pool.starmap(writer, seeds)
    finally:
        server.stop()
    retried = server.log_path.read_text(errors="replace").count('"message": "write retried"')
    statuses: Counter[str] = sum((s for s, _ in results), Counter())
    latencies = [x for _, each in results for x in each]
    answered = sum(statuses.values())
    say(
        f"{label}: {answered} requests in {args.seconds:.0f} s ({answered / args.seconds:.1f}/s),"
        f" by status {dict(sorted(statuses.items()))};"
        f" deadlocks {sql_one(url, deadlocks) - before}; writes retried {retried};"
        f" latency p50 {percentile(latencies, 50):.2f} s, p99 {percentile(latencies, 99):.2f} s,"
        f" max {max(latencies):.2f} s"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", default=DEFAULT_SERVER)
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("trees", nargs="+", metavar="LABEL=WORKTREE")
    args = parser.parse_args(argv)
    for tree in args.trees:
        label, path = tree.split("=", 1)
        measure(args, label, path)


if __name__ == "__main__":
    main()
