"""Benchmark 6: ``POST /api/v1/gate`` on training sets of 1,000 random dataset versions (and
some that name a ``model``, for the self-consuming checks), against ``GET /healthz``.

A CI gate runs before every training job: it should answer well under 100 ms.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from benchmarks.clients import interleaved
from benchmarks.generate import Graph, Node
from benchmarks.scale import Scale
from benchmarks.servers import Server
from benchmarks.stats import Latency, Result, latency_summary, versus


class GateWithModel(Result):
    statuses: dict[int, int]
    verdicts: dict[str, int]
    gate: Latency


class Gate(Result):
    training_set_size: int
    statuses: dict[int, int]
    verdicts: dict[str, int]
    gate: Latency
    healthz: Latency
    ratio_p50: float
    ratio_p99: float
    with_model: GateWithModel
    target: str = "p50 < 100 ms"


def gate_body(members: Sequence[Node], model: Node | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "training_set": [
            {"namespace": n.namespace, "name": n.name, "version": n.version} for n in members
        ],
        "policy": "default",
    }
    if model is not None:
        body["model"] = {"namespace": model.namespace, "name": model.name}
    return body


def bench_gate(server: Server, graph: Graph, scale: Scale, rng: random.Random) -> Gate:
    datasets = [n for n in graph.nodes if n.kind == "dataset"]
    bodies = [gate_body(rng.sample(datasets, scale.gate_size)) for _ in range(scale.gates)]
    verdicts: dict[str, int] = {}
    model_verdicts: dict[str, int] = {}

    def post(
        body: dict[str, Any], tally: dict[str, int]
    ) -> Callable[[httpx.Client], httpx.Response]:
        def send(client: httpx.Client) -> httpx.Response:
            response = client.post("/api/v1/gate", json=body)
            if response.status_code == 200:
                verdict = response.json()["verdict"]
                tally[verdict] = tally.get(verdict, 0) + 1
            return response

        return send

    # self-consuming checks: the proposed set holds a family's latest training mix, and the
    # request names that family's model
    mixes = [n for n in datasets if n.name.endswith("/train-mix") and n.version != "g0"]
    models = {(n.namespace, n.name): n for n in graph.nodes if n.kind == "model"}
    model_bodies = []
    for mix in rng.sample(mixes, min(scale.model_gates, len(mixes))):
        family = mix.name.removesuffix("/train-mix")
        model_ns = "hf://" + mix.namespace.removeprefix("s3://").removesuffix("-data")
        model = models.get((model_ns, family))
        others = rng.sample(datasets, scale.gate_size - 1)
        model_bodies.append(gate_body([mix, *[o for o in others if o is not mix]], model))

    with server.client(timeout=300) as client:
        for body in bodies[:3]:  # warm-up
            client.post("/api/v1/gate", json=body)
        measured, health, statuses = interleaved(
            client,
            [post(b, verdicts) for b in bodies],
            f"POST /api/v1/gate ({scale.gate_size} datasets)",
        )
        model_measured, _, model_statuses = interleaved(
            client,
            [post(b, model_verdicts) for b in model_bodies],
            "POST /api/v1/gate with `model`",
        )
    gate, healthz, p50, p99 = versus(measured, health)
    return Gate(
        training_set_size=scale.gate_size,
        statuses=statuses,
        verdicts=verdicts,
        gate=gate,
        healthz=healthz,
        ratio_p50=p50,
        ratio_p99=p99,
        with_model=GateWithModel(
            statuses=model_statuses,
            verdicts=model_verdicts,
            gate=latency_summary(model_measured),
        ),
    )
