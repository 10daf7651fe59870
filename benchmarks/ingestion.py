"""Benchmark 5: OpenLineage ingestion. RunEvents (START and COMPLETE of transforms, trainings
and generations) from threaded clients to ``POST /api/v1/lineage``, against the same clients
posting the same JSON to ``POST /bench/discard`` on the same server (``benchmarks.server``):
the events the official clients send, against what the HTTP stack alone allows."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime
from typing import Any

from benchmarks.clients import run_clients
from benchmarks.generate import Graph, drawn_on, tag
from benchmarks.scale import Scale
from benchmarks.servers import Server
from benchmarks.stats import Result, ratio


class Ingestion(Result):
    clients: int
    runs: int
    events: int
    statuses: dict[int, int]
    errors: list[str]
    lineage_s: float
    events_per_s: float
    discard_statuses: dict[int, int]
    discard_errors: list[str]
    discard_s: float
    discard_passes_s: list[float]
    discard_events_per_s: float
    ratio_to_ceiling: float
    batch_size: int
    batch_events: int
    batch_statuses: dict[int, int]
    batch_errors: list[str]
    batch_s: float
    batch_events_per_s: float
    batch_ratio_to_ceiling: float


PRODUCER = "https://github.com/OpenLineage/OpenLineage/tree/1.54.0/client/python"


RUN_EVENT_SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"


FACETS = "https://openlineage.io/spec/facets/"

BATCH_EVENTS = 50
"""Events a ``POST /api/v1/lineage/batch`` of the bulk pass carries."""


def facet(schema: str, **values: Any) -> dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": FACETS + schema, **values}


def ol_dataset(
    node_ns: str,
    name: str,
    *,
    version: str | None = None,
    model: bool = False,
    rows: int | None = None,
    output: bool = False,
) -> dict[str, Any]:
    facets: dict[str, Any] = {}
    if model:
        facets["datasetType"] = facet(
            "1-0-0/DatasetTypeDatasetFacet.json#/$defs/DatasetTypeDatasetFacet",
            datasetType="MODEL",
            subType="",
        )
    if version is not None:
        facets["version"] = facet(
            "1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet",
            datasetVersion=version,
        )
    item: dict[str, Any] = {"namespace": node_ns, "name": name, "facets": facets}
    if rows is not None and output:
        item["outputFacets"] = {
            "outputStatistics": facet(
                "1-0-2/OutputStatisticsOutputDatasetFacet.json"
                "#/$defs/OutputStatisticsOutputDatasetFacet",
                rowCount=rows,
            )
        }
    elif rows is not None:
        item["inputFacets"] = {
            "inputStatistics": facet(
                "1-0-0/InputStatisticsInputDatasetFacet.json#/$defs/InputStatisticsInputDatasetFacet",
                rowCount=rows,
            )
        }
    return item


def ol_runs(graph: Graph, count: int, rng: random.Random) -> list[list[dict[str, Any]]]:
    """`count` runs, each a START and a COMPLETE event: transforms, trainings, generations."""
    datasets, models, prompts = drawn_on(graph)
    run_tag = tag(rng)
    runs = []
    for i in range(count):
        run_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        kind = rng.choices(("transform", "train", "generate"), weights=(0.7, 0.15, 0.15))[0]
        job = {"namespace": "bench-pipelines", "name": f"{kind}-{run_tag}-{i:05d}", "facets": {}}
        if kind == "generate":
            model = rng.choice(models)
            prompt = rng.choice(prompts)
            size = int(10 ** rng.uniform(6, 8))
            inputs = [
                (model, int(size * 0.001), True),
                (prompt, int(min(prompt.size or 1e6, 1e6)), False),
            ]
            output = ("s3://bench-ol", f"{run_tag}/generated-{i:05d}", None, False, size)
        else:
            parents = rng.sample(datasets, rng.randint(1, 3))
            amounts = [int((p.size or 0) * rng.uniform(0.01, 0.3)) for p in parents]
            inputs = [(p, a, False) for p, a in zip(parents, amounts, strict=True)]
            if kind == "train":
                output = ("hf://bench-ol", f"{run_tag}/model-{i:05d}", "v1", True, None)
            else:
                output = ("s3://bench-ol", f"{run_tag}/derived-{i:05d}", None, False, sum(amounts))
        events = []
        for state in ("START", "COMPLETE"):
            complete = state == "COMPLETE"
            out_ns, out_name, out_version, out_model, out_rows = output
            events.append(
                {
                    "eventType": state,
                    "eventTime": datetime.now(UTC).isoformat(),
                    "run": {"runId": run_id, "facets": {}},
                    "job": job,
                    "inputs": [
                        ol_dataset(
                            n.namespace,
                            n.name,
                            version=n.version,
                            model=is_model,
                            rows=rows if complete else None,
                        )
                        for n, rows, is_model in inputs
                    ],
                    "outputs": [
                        ol_dataset(
                            out_ns,
                            out_name,
                            version=out_version,
                            model=out_model,
                            rows=out_rows if complete else None,
                            output=True,
                        )
                    ],
                    "producer": PRODUCER,
                    "schemaURL": RUN_EVENT_SCHEMA,
                }
            )
        runs.append(events)
    return runs


def bench_openlineage(server: Server, graph: Graph, scale: Scale, rng: random.Random) -> Ingestion:
    runs = ol_runs(graph, scale.ol_runs, rng)
    events = sum(len(r) for r in runs)

    def work(path: str) -> list[list[tuple[str, dict[str, Any]]]]:
        per_client: list[list[tuple[str, dict[str, Any]]]] = [[] for _ in range(scale.ol_clients)]
        for i, run in enumerate(runs):
            per_client[i % scale.ol_clients].extend((path, event) for event in run)
        return per_client

    # warm the discard route and the pool
    with server.client() as client:
        for event in runs[0][:1]:
            client.post("/bench/discard", json=event)
    # the ceiling is a short measurement: take the median of three passes
    passes = [
        run_clients(
            scale.ol_clients,
            work("/bench/discard"),
            server,
            f"POST /bench/discard, {scale.ol_clients} clients, pass {i + 1}/3",
            600,
        )
        for i in range(3)
    ]
    discard_s = sorted(p[0] for p in passes)[1]
    discard_statuses: dict[int, int] = {}
    discard_errors = [e for p in passes for e in p[2]]
    for p in passes:
        for code, n in p[1].items():
            discard_statuses[code] = discard_statuses.get(code, 0) + n
    lineage_s, statuses, errors = run_clients(
        scale.ol_clients,
        work("/api/v1/lineage"),
        server,
        f"POST /api/v1/lineage, {scale.ol_clients} clients",
        1200,
    )
    # the bulk path: other runs of the same kinds, each client's events BATCH_EVENTS a request
    # (a run's events stay with one client, in order)
    bulk_runs = ol_runs(graph, scale.ol_runs, rng)
    bulk_work: list[list[tuple[str, Any]]] = []
    for i in range(scale.ol_clients):
        mine = [event for run in bulk_runs[i :: scale.ol_clients] for event in run]
        bulk_work.append(
            [
                ("/api/v1/lineage/batch", mine[j : j + BATCH_EVENTS])
                for j in range(0, len(mine), BATCH_EVENTS)
            ]
        )
    batch_s, batch_statuses, batch_errors = run_clients(
        scale.ol_clients,
        bulk_work,
        server,
        f"POST /api/v1/lineage/batch ({BATCH_EVENTS} events), {scale.ol_clients} clients",
        1200,
    )
    batch_events = sum(len(run) for run in bulk_runs)
    rate = events / lineage_s
    ceiling = events / discard_s
    return Ingestion(
        clients=scale.ol_clients,
        runs=len(runs),
        events=events,
        statuses=statuses,
        errors=errors,
        lineage_s=lineage_s,
        events_per_s=rate,
        discard_statuses=discard_statuses,
        discard_errors=discard_errors,
        discard_s=discard_s,
        discard_passes_s=[p[0] for p in passes],
        discard_events_per_s=ceiling,
        ratio_to_ceiling=ratio(rate, ceiling),
        batch_size=BATCH_EVENTS,
        batch_events=batch_events,
        batch_statuses=batch_statuses,
        batch_errors=batch_errors,
        batch_s=batch_s,
        batch_events_per_s=batch_events / batch_s,
        batch_ratio_to_ceiling=ratio(batch_events / batch_s, ceiling),
    )
