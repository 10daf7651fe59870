"""POST /api/v1/gate on several versions of the service, requests interleaved one by one.

    python -m benchmarks.ab_gate --database NAME [--nodes N] [--gates N] LABEL=WORKTREE …

Each worktree's service runs in a process of its own on the same database (one that
``benchmarks.run`` set up with the same ``--nodes`` and seed, so that the graph generated here
names its versions); every gate is posted to each server in turn, in alternating order, so
that the machine's load falls on all of them alike. The gates: ``--gates`` of 1,000 random
dataset versions, ten that also name the model of a family whose latest training mix they
hold, and as many again of every other kind (amounts, newest versions, unknown and duplicated
members, an unknown policy). Prints whether every answer is byte for byte the same on every
server, and per server the p50 and p90 of the plain gates and the server's CPU per gate.
"""

from __future__ import annotations

import argparse
import os
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks import ab, servers
from benchmarks.gate import gate_body
from benchmarks.generate import Graph, generate
from benchmarks.scale import QUICK
from benchmarks.stats import percentile


def arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = ab.parser(__doc__)
    parser.add_argument("--nodes", type=int, default=QUICK.nodes)
    parser.add_argument("--graph-seed", type=int, default=20241124)
    parser.add_argument("--gates", type=int, default=40)
    return parser.parse_args(argv)


def bodies(graph: Graph, gates: int, rng: random.Random) -> tuple[list[dict[str, Any]], int]:
    """The gates to post, and how many of them (the first) are plain 1,000-dataset gates."""
    datasets = [n for n in graph.nodes if n.kind == "dataset"]
    models = {(n.namespace, n.name): n for n in graph.nodes if n.kind == "model"}
    plain = [gate_body(rng.sample(datasets, 1000)) for _ in range(gates)]
    mixes = [n for n in datasets if n.name.endswith("/train-mix") and n.version != "g0"]
    with_model = []
    for mix in rng.sample(mixes, min(10, len(mixes))):
        family = mix.name.removesuffix("/train-mix")
        namespace = "hf://" + mix.namespace.removeprefix("s3://").removesuffix("-data")
        others = [o for o in rng.sample(datasets, 999) if o is not mix]
        with_model.append(gate_body([mix, *others], models.get((namespace, family))))
    others = []
    for i in range(gates):
        body = gate_body(rng.sample(datasets, rng.choice([1, 2, 10, 100, 1000])))
        for member in body["training_set"]:
            draw = rng.random()
            if draw < 0.2:
                member["amount"] = rng.choice([0, 1, 2.5, 1e6, 123.456])
            elif draw < 0.3:
                del member["version"]  # the newest version
        if i % 7 == 0:
            body["training_set"].append({"namespace": "nowhere", "name": f"missing-{i}"})
        if i % 11 == 0:
            body["policy"] = "nope"
        if i % 13 == 0:
            body["training_set"] += body["training_set"][:3]
        others.append(body)
    return [*plain, *with_model, *others], gates


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(argv: Sequence[str] | None = None) -> int:
    args = arguments(argv)
    url = ab.database_url(args)
    graph = generate(args.nodes, seed=args.graph_seed)
    posts, plain = bodies(graph, args.gates, random.Random(args.seed))
    started: dict[str, servers.Server] = {}
    try:
        for label, tree in ab.worktrees(args).items():
            started[label] = ab.start("app", tree, url, f"ab-gate-{label}")
        clients = {label: s.client(timeout=300) for label, s in started.items()}
        for client in clients.values():
            for body in posts[:3]:  # warm-up
                client.post("/api/v1/gate", json=body)
        seconds: dict[str, list[float]] = {label: [] for label in started}
        cpu = dict.fromkeys(started, 0.0)
        answers: dict[str, list[tuple[int, bytes]]] = {label: [] for label in started}
        for i, body in enumerate(posts):
            for label in ab.alternating(list(started), i):
                before, at = cpu_seconds(started[label].pid), time.perf_counter()
                response = clients[label].post("/api/v1/gate", json=body)
                seconds[label].append(time.perf_counter() - at)
                cpu[label] += cpu_seconds(started[label].pid) - before
                answers[label].append((response.status_code, response.content))
        first, *rest = started
        same = sum(all(answers[o][i] == answers[first][i] for o in rest) for i in range(len(posts)))
        statuses = sorted({status for status, _ in answers[first]})
        print(f"identical answers: {same}/{len(posts)} (statuses {statuses})")
        for label in started:
            gates = seconds[label][:plain]
            print(
                f"{label}: {plain} gates of 1,000 datasets, p50 {percentile(gates, 50) * 1e3:.1f}"
                f" ms, p90 {percentile(gates, 90) * 1e3:.1f} ms; server CPU per gate"
                f" {cpu[label] / len(posts) * 1e3:.1f} ms"
            )
    finally:
        for server in started.values():
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
