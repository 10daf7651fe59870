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
import contextlib
import hashlib
import json
import math
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from benchmarks import load
from benchmarks.generate import Graph, Node, describe, generate

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_DATABASE = "headwater_bench"
PRODUCER = "https://github.com/OpenLineage/OpenLineage/tree/1.54.0/client/python"
RUN_EVENT_SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
FACETS = "https://openlineage.io/spec/facets/"

console = Console(highlight=False)
if not console.is_terminal:  # a log file or a pipe: wide enough for the table
    console = Console(highlight=False, width=132)


# --- scale ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scale:
    nodes: int
    reads: int  # composition reads (and as many /healthz), interleaved
    point_reads: int  # plain GET /datasets/{id} (no contributors), interleaved likewise
    gates: int  # gate requests of `gate_size` datasets (and as many /healthz)
    gate_size: int
    model_gates: int  # gate requests that also name a model (self-consuming checks)
    writes: int  # POST /datasets, split over `writers` clients
    writers: int
    ol_runs: int  # OpenLineage runs (START + COMPLETE each), over `ol_clients` clients
    ol_clients: int
    correction_deadline_s: float
    inline_limit: int | None  # HEADWATER_PROPAGATION_INLINE_LIMIT for the server (None: default)
    memory_cap_mib: float | None = None  # the correction's server is stopped past this RSS


FULL = Scale(
    nodes=100_000,
    reads=2000,
    point_reads=1000,
    gates=100,
    gate_size=1000,
    model_gates=10,
    writes=800,
    writers=4,
    ol_runs=800,
    ol_clients=16,
    correction_deadline_s=2400.0,
    inline_limit=None,
)
# A quick check: a tenth of the graph, so the giant root has ~5,800 descendants; the inline limit
# is lowered to match, so the correction still takes the deferred (worker) path it takes at scale.
QUICK = Scale(
    nodes=10_000,
    reads=400,
    point_reads=200,
    gates=30,
    gate_size=1000,
    model_gates=5,
    writes=200,
    writers=4,
    ol_runs=160,
    ol_clients=16,
    correction_deadline_s=900.0,
    inline_limit=2000,
)


# --- small helpers -------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    ms = [s * 1000.0 for s in seconds]
    return {
        "n": len(ms),
        "p50_ms": percentile(ms, 50),
        "p90_ms": percentile(ms, 90),
        "p99_ms": percentile(ms, 99),
        "mean_ms": sum(ms) / len(ms) if ms else math.nan,
        "max_ms": max(ms) if ms else math.nan,
    }


def ratio(a: float, b: float) -> float:
    return a / b if b else math.inf


def progress_bar() -> Progress:
    return Progress(
        TextColumn("  {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def say(message: str) -> None:
    console.print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def sql_one(url: str, query: str, params: Sequence[Any] = ()) -> Any:
    with psycopg.connect(load.libpq_url(url)) as conn:
        row = conn.execute(query, params).fetchone()
        return None if row is None else row[0]


# --- the server under test -----------------------------------------------------------------------


def process_tree(pid: int) -> list[int]:
    """pid and every descendant process (from /proc/<pid>/task/*/children)."""
    found = [pid]
    index = 0
    while index < len(found):
        current = found[index]
        index += 1
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{current}/task"):
                with contextlib.suppress(OSError):
                    text = Path(f"/proc/{current}/task/{task}/children").read_text()
                    found.extend(int(child) for child in text.split())
    return found


def source_digest() -> str:
    """A digest of the service's source (app/ and migrations/) as it is on disk now: the code
    a server started now runs, even while the working tree changes."""
    digest = hashlib.sha256()
    for path in sorted([*ROOT.glob("app/**/*.py"), *ROOT.glob("migrations/**/*.py")]):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


SERVERS: list[dict[str, Any]] = []


def status_kib(pid: int, key: str) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


class Server:
    """The service in a subprocess of its own session, on a free loopback port."""

    def __init__(self, module: str, database_url: str, label: str, extra_env: dict[str, str]):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.module = module
        self.label = label
        self.log_path = RESULTS / f"server-{label}.log"
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "HEADWATER_HOST": "127.0.0.1",
            "HEADWATER_PORT": str(self.port),
            "HEADWATER_LOG_LEVEL": "warning",
            **extra_env,
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120.0) -> Server:
        RESULTS.mkdir(parents=True, exist_ok=True)
        SERVERS.append(
            {
                "label": self.label,
                "module": self.module,
                "started": datetime.now(UTC).isoformat(timespec="seconds"),
                "source_digest": source_digest(),
            }
        )
        self.log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.module, *(["serve"] if self.module == "app" else [])],
            env=self.env,
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.label} server exited: {self.tail()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    say(f"server '{self.label}' ready on {self.url} (pid {self.process.pid})")
                    return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.label} server not ready in {timeout}s: {self.tail()}")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def rss_kib(self) -> tuple[int, int]:
        """(VmRSS, VmHWM) summed over the server process and its children."""
        tree = process_tree(self.pid)
        return (
            sum(status_kib(p, "VmRSS") for p in tree),
            sum(status_kib(p, "VmHWM") for p in tree),
        )

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()  # our own child, by its handle
                self.process.wait(timeout=30)
        self.log.close()
        self.process = None

    def client(self, timeout: float = 120.0) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=timeout)


# HEADWATER_WORKERS of every server the run starts (--workers)
WORKERS = [1]


@contextlib.contextmanager
def serving(module: str, database_url: str, label: str, scale: Scale) -> Iterator[Server]:
    extra = {"HEADWATER_WORKERS": str(WORKERS[0])}
    if scale.inline_limit is not None:
        extra["HEADWATER_PROPAGATION_INLINE_LIMIT"] = str(scale.inline_limit)
    server = Server(module, database_url, label, extra).start()
    try:
        yield server
    finally:
        server.stop()


class MemorySampler:
    """Samples VmRSS and VmHWM of a server (and its children) every `interval` seconds."""

    def __init__(self, server: Server, interval: float = 0.1, cap_mib: float | None = None) -> None:
        self.server = server
        self.interval = interval
        self.cap_kib = None if cap_mib is None else cap_mib * 1024
        self.capped = False  # the server passed the cap and was stopped
        self.samples: list[tuple[float, int]] = []
        self.hwm = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)

    def __enter__(self) -> MemorySampler:
        self.started = time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        # bounded: it stops with the phase, and never runs longer than 2 hours
        deadline = time.monotonic() + 7200
        while not self._stop.is_set() and time.monotonic() < deadline:
            rss, hwm = self.server.rss_kib()
            self.samples.append((time.perf_counter() - self.started, rss))
            self.hwm = max(self.hwm, hwm)
            if self.cap_kib is not None and rss > self.cap_kib and self.server.process:
                self.capped = True
                self.server.process.kill()  # our own child, past the memory the run allows it
                return
            self._stop.wait(self.interval)

    @property
    def peak_rss_mib(self) -> float:
        return max((rss for _, rss in self.samples), default=0) / 1024.0


# --- phase 1 and 6: reads and the gate, against /healthz -----------------------------------------


def interleaved(
    client: httpx.Client,
    requests: Sequence[Callable[[httpx.Client], httpx.Response]],
    description: str,
) -> tuple[list[float], list[float], dict[int, int]]:
    """Each request, preceded by GET /healthz; the latencies of both, and the statuses."""
    measured: list[float] = []
    health: list[float] = []
    statuses: dict[int, int] = {}
    with progress_bar() as bar:
        task = bar.add_task(description, total=len(requests))
        for request in requests:
            started = time.perf_counter()
            client.get("/healthz").raise_for_status()
            health.append(time.perf_counter() - started)
            started = time.perf_counter()
            response = request(client)
            measured.append(time.perf_counter() - started)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            bar.advance(task)
    return measured, health, statuses


def artifact_path(node: Node) -> str:
    return f"/api/v1/{'datasets' if node.kind == 'dataset' else 'models'}/{node.id}"


def bench_reads(server: Server, graph: Graph, scale: Scale, rng: random.Random) -> dict[str, Any]:
    with server.client() as client:
        paths = client.get("/openapi.json").json()["paths"]
        has_composition = "/api/v1/datasets/{dataset_id}/composition" in paths
        suffix = "/composition" if has_composition else ""
        nodes = rng.sample(graph.nodes, min(scale.reads, len(graph.nodes)))
        warm = rng.sample(graph.nodes, 50)
        for node in warm:  # warm the pool, the caches and the code paths
            client.get(artifact_path(node) + suffix)
            client.get("/healthz")

        def read(node: Node) -> Callable[[httpx.Client], httpx.Response]:
            return lambda c: c.get(artifact_path(node) + suffix)

        measured, health, statuses = interleaved(
            client, [read(n) for n in nodes], f"GET …/{{id}}{suffix} on random nodes"
        )
        datasets = [n for n in graph.nodes if n.kind == "dataset"]
        points = rng.sample(datasets, min(scale.point_reads, len(datasets)))

        def point(node: Node) -> Callable[[httpx.Client], httpx.Response]:
            return lambda c: c.get(artifact_path(node))

        point_measured, point_health, point_statuses = interleaved(
            client, [point(n) for n in points], "GET /api/v1/datasets/{id} (point lookup)"
        )
    reads = latency_summary(measured)
    healthz = latency_summary(health)
    point_reads = latency_summary(point_measured)
    point_healthz = latency_summary(point_health)
    return {
        "endpoint": f"GET /api/v1/{{datasets|models}}/{{id}}{suffix}",
        "composition_endpoint": has_composition,
        "statuses": statuses,
        "reads": reads,
        "healthz": healthz,
        "ratio_p50": ratio(reads["p50_ms"], healthz["p50_ms"]),
        "ratio_p99": ratio(reads["p99_ms"], healthz["p99_ms"]),
        "point_lookup": {
            "endpoint": "GET /api/v1/datasets/{id}",
            "statuses": point_statuses,
            "reads": point_reads,
            "healthz": point_healthz,
            "ratio_p50": ratio(point_reads["p50_ms"], point_healthz["p50_ms"]),
            "ratio_p99": ratio(point_reads["p99_ms"], point_healthz["p99_ms"]),
        },
        "target": "p50 and p99 <= 2x /healthz",
    }


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


def bench_gate(server: Server, graph: Graph, scale: Scale, rng: random.Random) -> dict[str, Any]:
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
    gate = latency_summary(measured)
    healthz = latency_summary(health)
    return {
        "training_set_size": scale.gate_size,
        "statuses": statuses,
        "verdicts": verdicts,
        "gate": gate,
        "healthz": healthz,
        "ratio_p50": ratio(gate["p50_ms"], healthz["p50_ms"]),
        "ratio_p99": ratio(gate["p99_ms"], healthz["p99_ms"]),
        "with_model": {
            "statuses": model_statuses,
            "verdicts": model_verdicts,
            "gate": latency_summary(model_measured),
        },
        "target": "p50 < 100 ms",
    }


# --- phase 3: native writes against COPY ---------------------------------------------------------


def write_bodies(graph: Graph, count: int, rng: random.Random) -> list[dict[str, Any]]:
    """New dataset versions derived from (or generated by) what the graph already holds."""
    datasets = [n for n in graph.nodes if n.kind == "dataset" and n.size]
    models = [n for n in graph.nodes if n.kind == "model"]
    prompts = [n for n in graph.nodes if n.name.startswith("prompts/")]
    run = uuid.UUID(int=rng.getrandbits(128), version=4).hex[:8]
    bodies = []
    for i in range(count):
        body: dict[str, Any] = {
            "namespace": "s3://bench-writes",
            "name": f"run-{run}/derived-{i:05d}",
            "version": "v1",
        }
        if rng.random() < 0.2:
            size = float(round(10 ** rng.uniform(7, 9), -3))
            body["size"] = size
            body["parents"] = [
                {"id": str(rng.choice(models).id), "relation": "generated_by"},
                {"id": str(rng.choice(prompts).id), "relation": "used"},
            ]
        else:
            parents = rng.sample(datasets, rng.randint(1, 4))
            amounts = [round((p.size or 0) * rng.uniform(0.01, 0.5), -3) for p in parents]
            body["size"] = float(sum(amounts))
            body["parents"] = [
                {"id": str(p.id), "relation": "derived_from", "amount": a}
                for p, a in zip(parents, amounts, strict=True)
            ]
            if rng.random() < 0.1:
                body["size"] = round(body["size"] * 1.1, -3)
                body["origin"] = {"human": 1.0}
        bodies.append(body)
    return bodies


def run_clients(
    clients: int,
    work: Sequence[Sequence[tuple[str, dict[str, Any]]]],
    server: Server,
    description: str,
    deadline_s: float,
) -> tuple[float, dict[int, int], list[str]]:
    """Each client posts its list of (path, body) in order; wall time, statuses, errors."""
    statuses: dict[int, int] = {}
    errors: list[str] = []
    lock = threading.Lock()
    total = sum(len(items) for items in work)
    deadline = time.monotonic() + deadline_s
    with progress_bar() as bar:
        task = bar.add_task(description, total=total)

        def worker(items: Sequence[tuple[str, dict[str, Any]]]) -> None:
            with server.client(timeout=300) as client:
                for path, body in items:
                    if time.monotonic() > deadline:
                        with lock:
                            errors.append("deadline reached")
                        return
                    try:
                        response = client.post(path, json=body)
                        code = response.status_code
                        detail = response.text[:300] if code >= 400 else ""
                    except httpx.HTTPError as exc:
                        code, detail = 0, repr(exc)
                    with lock:
                        statuses[code] = statuses.get(code, 0) + 1
                        if detail and len(errors) < 10:
                            errors.append(f"{code}: {detail}")
                    bar.advance(task)

        threads = [
            threading.Thread(target=worker, args=(items,), name=f"client-{i}")
            for i, items in enumerate(work[:clients])
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=deadline_s + 60)
        elapsed = time.perf_counter() - started
    return elapsed, statuses, errors


def copy_baseline(url: str, nodes: int, edges: Sequence[tuple[int, dict[str, Any]]]) -> float:
    """Seconds to COPY the same nodes and edges into bare tables (best of 5)."""
    rows_nodes = [
        (uuid.uuid4(), "s3://bench-writes", f"copy-{i}", "v1", 1000.0) for i in range(nodes)
    ]
    node_ids = [r[0] for r in rows_nodes]
    rows_edges = [
        (node_ids[child], uuid.UUID(parent["id"]), parent["relation"], parent.get("amount"))
        for child, parent in edges
    ]
    best = math.inf
    with psycopg.connect(load.libpq_url(url)) as conn:
        conn.execute(
            "CREATE TEMP TABLE bench_raw_nodes (id uuid, namespace text, name text,"
            " version text, size double precision)"
        )
        conn.execute(
            "CREATE TEMP TABLE bench_raw_edges (child uuid, parent uuid, relation text,"
            " amount double precision)"
        )
        conn.commit()
        for _ in range(5):
            with conn.cursor() as cur:
                started = time.perf_counter()
                with cur.copy("COPY bench_raw_nodes FROM STDIN") as copy:
                    for row in rows_nodes:
                        copy.write_row(row)
                with cur.copy("COPY bench_raw_edges FROM STDIN") as copy:
                    for row in rows_edges:
                        copy.write_row(row)
                conn.commit()
                best = min(best, time.perf_counter() - started)
            conn.execute("TRUNCATE bench_raw_nodes, bench_raw_edges")
            conn.commit()
    return best


def bench_writes(
    server: Server, graph: Graph, scale: Scale, rng: random.Random, url: str
) -> dict[str, Any]:
    bodies = write_bodies(graph, scale.writes, rng)
    edges = [(i, p) for i, b in enumerate(bodies) for p in b.get("parents", [])]
    work = [
        [("/api/v1/datasets", b) for b in bodies[i :: scale.writers]] for i in range(scale.writers)
    ]
    elapsed, statuses, errors = run_clients(
        scale.writers, work, server, f"POST /api/v1/datasets, {scale.writers} clients", 1200
    )
    items = len(bodies) + len(edges)
    copy_s = copy_baseline(url, len(bodies), edges)
    http_rate = items / elapsed
    copy_rate = items / copy_s
    # the bulk path: the same kind of writes, 500 datasets a request (POST /api/v1/batch)
    bulk = write_bodies(graph, scale.writes * 5, rng)
    batches = [{"datasets": bulk[i : i + 500]} for i in range(0, len(bulk), 500)]
    bulk_work = [
        [("/api/v1/batch", b) for b in batches[i :: scale.writers]] for i in range(scale.writers)
    ]
    bulk_s, bulk_statuses, bulk_errors = run_clients(
        scale.writers, bulk_work, server, f"POST /api/v1/batch, {scale.writers} clients", 1200
    )
    bulk_items = len(bulk) + sum(len(b.get("parents", [])) for b in bulk)
    return {
        "batch_nodes": len(bulk),
        "batch_items": bulk_items,
        "batch_statuses": bulk_statuses,
        "batch_errors": bulk_errors,
        "batch_s": bulk_s,
        "batch_items_per_s": bulk_items / bulk_s,
        "ratio_batch_to_copy": ratio(bulk_items / bulk_s, copy_rate),
        "clients": scale.writers,
        "nodes": len(bodies),
        "edges": len(edges),
        "statuses": statuses,
        "errors": errors,
        "http_s": elapsed,
        "http_items_per_s": http_rate,
        "http_requests_per_s": len(bodies) / elapsed,
        "copy_s": copy_s,
        "copy_items_per_s": copy_rate,
        "ratio_http_to_copy": ratio(http_rate, copy_rate),
    }


# --- phase 5: OpenLineage ingestion against the discard route ------------------------------------


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
    datasets = [n for n in graph.nodes if n.kind == "dataset" and n.size]
    models = [n for n in graph.nodes if n.kind == "model"]
    prompts = [n for n in graph.nodes if n.name.startswith("prompts/")]
    tag = uuid.UUID(int=rng.getrandbits(128), version=4).hex[:8]
    runs = []
    for i in range(count):
        run_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        kind = rng.choices(("transform", "train", "generate"), weights=(0.7, 0.15, 0.15))[0]
        job = {"namespace": "bench-pipelines", "name": f"{kind}-{tag}-{i:05d}", "facets": {}}
        if kind == "generate":
            model = rng.choice(models)
            prompt = rng.choice(prompts)
            size = int(10 ** rng.uniform(6, 8))
            inputs = [
                (model, int(size * 0.001), True),
                (prompt, int(min(prompt.size or 1e6, 1e6)), False),
            ]
            output = ("s3://bench-ol", f"{tag}/generated-{i:05d}", None, False, size)
        else:
            parents = rng.sample(datasets, rng.randint(1, 3))
            amounts = [int((p.size or 0) * rng.uniform(0.01, 0.3)) for p in parents]
            inputs = [(p, a, False) for p, a in zip(parents, amounts, strict=True)]
            if kind == "train":
                output = ("hf://bench-ol", f"{tag}/model-{i:05d}", "v1", True, None)
            else:
                output = ("s3://bench-ol", f"{tag}/derived-{i:05d}", None, False, sum(amounts))
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


def bench_openlineage(
    server: Server, graph: Graph, scale: Scale, rng: random.Random
) -> dict[str, Any]:
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
    rate = events / lineage_s
    ceiling = events / discard_s
    return {
        "clients": scale.ol_clients,
        "runs": len(runs),
        "events": events,
        "statuses": statuses,
        "errors": errors,
        "lineage_s": lineage_s,
        "events_per_s": rate,
        "discard_statuses": discard_statuses,
        "discard_errors": discard_errors,
        "discard_s": discard_s,
        "discard_passes_s": [p[0] for p in passes],
        "discard_events_per_s": ceiling,
        "ratio_to_ceiling": ratio(rate, ceiling),
    }


# --- phase 2 and 4: the correction, its memory, and the networkx baseline ------------------------


def probe_during(
    server: Server, label: str, send: Callable[[httpx.Client], httpx.Response]
) -> dict[str, Any]:
    """Send one wide request, and one small unrelated POST /datasets 1 s later: how long does
    the small one wait while the wide one is applied?"""
    wide: dict[str, Any] = {}

    def run_wide() -> None:
        started = time.perf_counter()
        try:
            with server.client(timeout=600) as client:
                response = send(client)
            wide["status"] = response.status_code
            if response.status_code >= 400:
                wide["error"] = response.text[:300]
        except httpx.HTTPError as exc:
            wide["status"] = repr(exc)
        wide["latency_s"] = time.perf_counter() - started

    say(f"{label}, and a small write 1 s into it")
    thread = threading.Thread(target=run_wide, name="wide-write")
    thread.start()
    time.sleep(1.0)
    body = {
        "namespace": "s3://bench-probe",
        "name": f"probe-{uuid.uuid4().hex[:8]}",
        "version": "v1",
        "size": 1000.0,
        "origin": {"human": 1.0},
    }
    started = time.perf_counter()
    with server.client(timeout=600) as client:
        status = client.post("/api/v1/datasets", json=body).status_code
    probe = {"status": status, "latency_s": time.perf_counter() - started}
    thread.join(timeout=900)
    return {"wide": wide, "probe": probe}


def bench_wide_writes(server: Server, graph: Graph, rng: random.Random) -> dict[str, Any]:
    """The stalls of issue-sized requests: a 50,000-member training set, a 100 x 100 event."""
    datasets = [n for n in graph.nodes if n.kind == "dataset"]
    members = rng.sample(datasets, min(50_000, len(datasets)))
    model = {
        "namespace": "s3://bench-wide",
        "name": "wide-model",
        "version": uuid.uuid4().hex[:8],
        "training_set": [{"id": str(n.id)} for n in members],
    }
    inputs = rng.sample(datasets, 100)
    run_id = str(uuid.uuid4())
    event = {
        "eventType": "COMPLETE",
        "eventTime": datetime.now(UTC).isoformat(),
        "producer": PRODUCER,
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": run_id},
        "job": {"namespace": "bench-wide", "name": "mix-100x100"},
        "inputs": [ol_dataset(n.namespace, n.name, version=n.version) for n in inputs],
        "outputs": [
            ol_dataset("s3://bench-wide", f"out-{i}", version=run_id, rows=1000, output=True)
            for i in range(100)
        ],
    }
    return {
        "members": len(members),
        "training_set": probe_during(
            server,
            f"a model with a {len(members):,}-member training set",
            lambda client: client.post("/api/v1/models", json=model),
        ),
        "event_100x100": probe_during(
            server,
            "an OpenLineage event with 100 inputs and 100 outputs",
            lambda client: client.post("/api/v1/lineage", json=event),
        ),
    }


def polled_descendant(graph: Graph, url: str) -> Node:
    """The deepest dataset below the giant root that holds some of its human mass (so that the
    correction visibly changes it); the deepest one at all if none does."""
    below = sorted(
        (n for n in graph.nodes if n.giant and n.kind == "dataset"),
        key=lambda n: n.depth,
        reverse=True,
    )[:2000]
    with psycopg.connect(load.libpq_url(url)) as conn:
        human = dict(
            conn.execute(
                "SELECT id, human_fraction FROM artifacts WHERE id = ANY(%s)",
                ([n.id for n in below],),
            ).fetchall()
        )
    return next((n for n in below if human.get(n.id, 0.0) > 0.01), below[0])


def job_breakdown(url: str, cause_prefix: str, since: datetime) -> dict[str, Any] | None:
    """Where the worker's time went, from the timestamps the service writes as it goes:
    compositions carry composition_updated_at (clock_timestamp() at the bulk UPDATE) and
    verdict records judged_at (at their INSERT, one flush per training run)."""
    with psycopg.connect(load.libpq_url(url)) as conn:
        job = conn.execute(
            "SELECT id, nodes_total, nodes_done, status, created_at, started_at, finished_at"
            " FROM propagation_jobs WHERE created_at >= %s ORDER BY created_at DESC LIMIT 1",
            (since,),
        ).fetchone()
        if job is None:
            return None
        _, total, done, status, created, started, finished = job
        if started is None or finished is None:
            return {"nodes_total": total, "nodes_done": done, "status": status}
        writes = conn.execute(
            "SELECT min(composition_updated_at), max(composition_updated_at), count(*)"
            " FROM artifacts WHERE composition_updated_at BETWEEN %s AND %s",
            (started, finished),
        ).fetchone()
        verdicts = conn.execute(
            "SELECT min(judged_at), max(judged_at), count(*) FROM training_run_verdicts"
            " WHERE cause LIKE %s AND judged_at BETWEEN %s AND %s",
            (cause_prefix + "%", started, finished),
        ).fetchone()
    assert writes is not None and verdicts is not None

    def seconds(a: datetime | None, b: datetime | None) -> float | None:
        return None if a is None or b is None else (b - a).total_seconds()

    return {
        "nodes_total": total,
        "nodes_done": done,
        "status": status,
        "queued_s": seconds(created, started),
        "run_s": seconds(started, finished),
        # the engine writes chunks as it computes: the first chunk marks loading done
        "until_first_write_s": seconds(started, writes[0]),
        "compute_and_write_s": seconds(writes[0], writes[1]),
        "rows_written": writes[2],
        "training_runs_s": seconds(writes[1], verdicts[1] or writes[1]),
        "training_run_verdicts": verdicts[2],
        "commit_s": seconds(verdicts[1] or writes[1], finished),
    }


def bench_correction(server: Server, graph: Graph, scale: Scale, url: str) -> dict[str, Any]:
    root = graph.giant_root
    deep = polled_descendant(graph, url)
    deadline_s = scale.correction_deadline_s
    result: dict[str, Any] = {"root": str(root), "polled_descendant": str(deep.id)}
    with server.client(timeout=deadline_s) as client:
        before = client.get(f"/api/v1/datasets/{deep.id}").json()["composition"]
        rss_before, hwm_before = server.rss_kib()
        result["server_rss_before_mib"] = rss_before / 1024
        result["server_hwm_before_mib"] = hwm_before / 1024
        probe: dict[str, float | int | str] = {}

        def write_probe() -> None:
            """One small write while the correction runs: how long is it held up?"""
            time.sleep(1.0)
            body = {
                "namespace": "s3://bench-probe",
                "name": f"probe-{uuid.uuid4().hex[:8]}",
                "version": "v1",
                "size": 1000.0,
                "origin": {"human": 1.0},
            }
            started = time.perf_counter()
            try:
                with server.client(timeout=deadline_s) as probe_client:
                    response = probe_client.post("/api/v1/datasets", json=body)
                probe["status"] = response.status_code
            except httpx.HTTPError as exc:
                probe["status"] = repr(exc)
            probe["latency_s"] = time.perf_counter() - started

        say(f"correcting the origin of the giant root ({graph.giant_descendants:,} descendants)")
        put_at = sql_one(url, "SELECT clock_timestamp()")
        with MemorySampler(server, cap_mib=scale.memory_cap_mib) as memory:
            started = time.perf_counter()
            response = client.put(
                f"/api/v1/datasets/{root}/origin",
                json={"human": 0.9, "unknown": 0.1, "reason": "benchmark: 10% turned out unknown"},
            )
            put_s = time.perf_counter() - started
            result["put_status"] = response.status_code
            result["put_s"] = put_s
            if response.status_code != 200:
                result["put_error"] = response.text[:1000]
                result["completed"] = False
                result["peak_rss_mib"] = memory.peak_rss_mib
                return result
            prober = threading.Thread(target=write_probe, name="write-probe", daemon=True)
            prober.start()
            saw_stale = False
            polls = 0
            poll_errors: list[str] = []
            done = False
            with progress_bar() as bar:
                task = bar.add_task("waiting for stale: false (polls)", total=None)
                while time.perf_counter() - started < deadline_s:
                    polls += 1
                    bar.advance(task)
                    try:
                        reply = client.get(f"/api/v1/datasets/{deep.id}")
                        composition = reply.json()["composition"]
                    except (httpx.HTTPError, ValueError, KeyError) as exc:
                        poll_errors.append(f"{time.perf_counter() - started:.1f}s: {exc!r}")
                        if server.process is None or server.process.poll() is not None:
                            break  # the server is gone: nothing will finish
                        time.sleep(1.0)
                        continue
                    if composition["stale"]:
                        saw_stale = True
                    else:
                        done = True
                        break
                    time.sleep(0.25)
            stale_left = sql_one(url, "SELECT count(*) FROM artifacts WHERE composition_stale")
            wall = time.perf_counter() - started
            prober.join(timeout=max(5.0, deadline_s - wall))
        alive = server.process is not None and server.process.poll() is None
        after = (
            client.get(f"/api/v1/datasets/{deep.id}").json()["composition"]
            if alive
            else {"human_fraction": None}
        )
    job = job_breakdown(url, "origin of", put_at)
    rss_after, hwm_after = server.rss_kib()
    result.update(
        {
            "completed": done and stale_left == 0,
            "server_alive_at_end": alive,
            "stopped_at_memory_cap_mib": scale.memory_cap_mib if memory.capped else None,
            "poll_errors": poll_errors[:20],
            "saw_stale": saw_stale,
            "polls": polls,
            "stale_after": stale_left,
            "wall_s": wall,
            "deferred": job is not None,
            "job": job,
            "human_fraction_before": before["human_fraction"],
            "human_fraction_after": after["human_fraction"],
            "write_probe": probe,
            "peak_rss_mib": memory.peak_rss_mib,
            "server_hwm_after_mib": hwm_after / 1024,
            "server_rss_after_mib": rss_after / 1024,
            "rss_timeline_mib": [
                (round(t, 1), round(rss / 1024))
                for t, rss in memory.samples[:: max(1, len(memory.samples) // 60)]
            ],
        }
    )
    return result


# above this many nodes the baseline keeps a composition only until its last child used it,
# and checks the stored ones in a second, untimed pass (all of them at once would not fit)
NETWORKX_KEEP_ALL_UP_TO = 300_000


def compose_in_order(
    graph: Any,
    order: Sequence[Any],
    *,
    keep_all: bool,
    visit: Callable[[Any, Any], None] | None = None,
) -> dict[Any, Any]:
    """``compose`` on every node of a networkx graph in topological order; every result when
    ``keep_all``, else each only until its last child has used it (``visit`` sees each)."""
    from app.composition.core import ParentContribution, compose

    computed: dict[Any, Any] = {}
    uses_left = None if keep_all else {node: graph.out_degree(node) for node in order}
    nodes = graph.nodes
    for node in order:
        attrs = nodes[node]
        parents = []
        for parent, _, data in graph.in_edges(node, data=True):
            parent_attrs = nodes[parent]
            result = computed[parent]
            is_dataset = parent_attrs["kind"] == "dataset"
            for relation, amount in data["rels"]:
                parents.append(
                    ParentContribution(
                        relation=relation,
                        composition=result.composition,
                        amount=amount,
                        parent_size=parent_attrs["size"] if is_dataset else None,
                        parent_total_amount=None if is_dataset else result.total_amount,
                    )
                )
            if uses_left is not None:
                uses_left[parent] -= 1
                if not uses_left[parent]:
                    del computed[parent]
        computed[node] = compose(attrs["kind"], attrs["size"], attrs["origin"], parents)
        if visit is not None:
            visit(node, computed[node])
        if uses_left is not None and not uses_left[node]:
            del computed[node]
    return computed


@dataclass
class StoredCheck:
    """Every stored composition against the recomputation (the design's 1e-9 bar)."""

    worst: float = 0.0
    worst_figure: float = 0.0
    mismatched: int = 0
    buckets: int = 0
    tiny: int = 0

    def check(self, rows: Iterable[tuple[Any, ...]], computed: dict[Any, Any]) -> None:
        from app.composition.core import Composition

        for id_, stored_json, total, assumed in rows:
            stored = Composition.from_json(stored_json)
            fresh = computed[id_]
            self.buckets += len(stored.buckets)
            self.tiny += sum(1 for _, mass in stored.buckets if mass < 1e-12)
            a, b = dict(stored.buckets), dict(fresh.composition.buckets)
            diff = max(
                [abs(a.get(d, 0.0) - b.get(d, 0.0)) for d in a.keys() | b.keys()]
                + [abs(stored.unknown - fresh.composition.unknown)]
            )
            figures = max(
                abs(stored.human_fraction - fresh.composition.human_fraction),
                abs(stored.synthetic_fraction - fresh.composition.synthetic_fraction),
                abs(stored.unknown_fraction - fresh.composition.unknown_fraction),
                abs(stored.depth_load - fresh.composition.depth_load)
                / max(1.0, abs(stored.depth_load)),
            )
            self.worst_figure = max(self.worst_figure, figures)
            total_off = (total is None) != (fresh.total_amount is None) or (
                total is not None
                and fresh.total_amount is not None
                and abs(total - fresh.total_amount) > 1e-9 * max(1.0, abs(total))
            )
            if diff > 1e-9 or total_off or assumed != fresh.weights_assumed:
                self.mismatched += 1
            self.worst = max(self.worst, diff)


STORED = "SELECT id, composition, total_amount, weights_assumed FROM artifacts"


def networkx_baseline(url: str, patch_negligible: float | None = None) -> dict[str, Any]:
    """Load the graph into networkx (untimed), then time a topological sort and ``compose`` on
    every node; compare every stored composition with the result (the design's 1e-9 bar)."""
    import networkx as nx

    from app.composition import core
    from app.composition.origin import Origin

    graph = nx.DiGraph()
    started = time.perf_counter()
    with psycopg.connect(load.libpq_url(url)) as conn:
        for row in conn.execute(
            "SELECT id, kind, size, origin_human, origin_synthetic, origin_unknown,"
            " origin_synthetic_depth, origin_digital_source_type FROM artifacts"
        ):
            id_, kind, size, human, synthetic, unknown, depth, dst = row
            origin = None if human is None else Origin(human, synthetic, unknown, depth or 1, dst)
            graph.add_node(id_, kind=kind, size=size, origin=origin)
        for child, parent, relation, amount in conn.execute(
            "SELECT child_id, parent_id, relation, amount FROM edges"
        ):
            if graph.has_edge(parent, child):
                graph.edges[parent, child]["rels"].append((relation, amount))
            else:
                graph.add_edge(parent, child, rels=[(relation, amount)])
    load_s = time.perf_counter() - started
    keep_all = graph.number_of_nodes() <= NETWORKX_KEEP_ALL_UP_TO

    saved = core.NEGLIGIBLE_MASS
    if patch_negligible is not None:
        core.NEGLIGIBLE_MASS = patch_negligible
    check = StoredCheck()
    try:
        started = time.perf_counter()
        order = list(nx.topological_sort(graph))
        sort_s = time.perf_counter() - started
        started = time.perf_counter()
        computed = compose_in_order(graph, order, keep_all=keep_all)
        recompute_s = time.perf_counter() - started
        if keep_all:
            with psycopg.connect(load.libpq_url(url)) as conn, conn.cursor(name="stored") as cur:
                cur.itersize = 5000
                cur.execute(STORED)
                check.check(cur, computed)
        else:  # again, untimed, checking the stored compositions 5,000 at a time
            with psycopg.connect(load.libpq_url(url)) as conn:
                pending: dict[Any, Any] = {}

                def flush() -> None:
                    rows = conn.execute(STORED + " WHERE id = ANY(%s)", (list(pending),))
                    check.check(rows, pending)
                    pending.clear()

                def visit(node: Any, result: Any) -> None:
                    pending[node] = result
                    if len(pending) >= 5000:
                        flush()

                compose_in_order(graph, order, keep_all=False, visit=visit)
                flush()
    finally:
        core.NEGLIGIBLE_MASS = saved
    return {
        "nodes": graph.number_of_nodes(),
        "edges": graph.number_of_edges(),
        "negligible_mass": patch_negligible if patch_negligible is not None else saved,
        "kept_every_composition": keep_all,
        "load_s_untimed": load_s,
        "toposort_s": sort_s,
        "recompute_s": recompute_s,
        "stored_vs_recomputed_max_bucket_diff": check.worst,
        "stored_vs_recomputed_max_figure_diff": check.worst_figure,
        "mismatched_nodes": check.mismatched,
        "stored_buckets_per_node": check.buckets / max(1, graph.number_of_nodes()),
        "stored_buckets_below_1e-12": check.tiny / max(1, check.buckets),
    }


def database_size(url: str) -> dict[str, Any]:
    with psycopg.connect(load.libpq_url(url)) as conn:
        row = conn.execute(
            "SELECT pg_total_relation_size('artifacts'), pg_total_relation_size('edges'),"
            " pg_relation_size('artifacts'), pg_indexes_size('artifacts'),"
            " pg_relation_size('edges'), pg_indexes_size('edges'),"
            " (SELECT count(*) FROM artifacts), (SELECT count(*) FROM edges)"
        ).fetchone()
    assert row is not None
    total = row[0] + row[1]
    return {
        "artifacts_total_bytes": row[0],
        "edges_total_bytes": row[1],
        "artifacts_heap_bytes": row[2],
        "artifacts_index_bytes": row[3],
        "artifacts_toast_bytes": row[0] - row[2] - row[3],
        "edges_heap_bytes": row[4],
        "edges_index_bytes": row[5],
        "nodes": row[6],
        "edges": row[7],
        "bytes_per_node": total / max(1, row[6]),
    }


# --- the report ----------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = status_mem_total()
    commit, dirty = "unknown", None
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = len(
            subprocess.run(
                ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True
            ).stdout.splitlines()
        )
    return {
        "source_digest": source_digest(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": memory,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "git_commit": commit,
        "git_dirty_files": dirty,
    }


def status_mem_total() -> float:
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    return math.nan


@dataclass
class Row:
    benchmark: str
    measured: str
    baseline: str
    ratio: str
    target: str
    verdict: str


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)

    def add(self, *cells: str) -> None:
        self.rows.append(Row(*cells))

    def table(self) -> Table:
        table = Table(title="Headwater benchmarks", show_lines=True)
        for column in ("benchmark", "measured", "baseline (same run)", "ratio", "target", ""):
            table.add_column(column)
        for row in self.rows:
            table.add_row(
                row.benchmark, row.measured, row.baseline, row.ratio, row.target, row.verdict
            )
        return table


def met(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "MISSED")


def summarize(results: dict[str, Any]) -> Report:
    report = Report()
    reads = results.get("reads")
    if reads:
        r, h = reads["reads"], reads["healthz"]
        ok = reads["ratio_p50"] <= 2 and reads["ratio_p99"] <= 2
        report.add(
            "1. composition read\n" + reads["endpoint"],
            f"p50 {r['p50_ms']:.2f} ms\np99 {r['p99_ms']:.2f} ms",
            f"/healthz p50 {h['p50_ms']:.2f} ms\np99 {h['p99_ms']:.2f} ms",
            f"{reads['ratio_p50']:.2f}x / {reads['ratio_p99']:.2f}x",
            "<= 2x",
            met(ok),
        )
        p = reads["point_lookup"]
        report.add(
            "1b. point lookup\nGET /api/v1/datasets/{id}",
            f"p50 {p['reads']['p50_ms']:.2f} ms\np99 {p['reads']['p99_ms']:.2f} ms",
            f"/healthz p50 {p['healthz']['p50_ms']:.2f} ms\np99 {p['healthz']['p99_ms']:.2f} ms",
            f"{p['ratio_p50']:.2f}x / {p['ratio_p99']:.2f}x",
            "(info)",
            met(p["ratio_p50"] <= 2 and p["ratio_p99"] <= 2),
        )
    correction = results.get("correction")
    nx_result = results.get("networkx")
    if correction:
        if correction.get("completed") and nx_result:
            value = correction["wall_s"]
            base = nx_result["recompute_s"] + nx_result["toposort_s"]
            job = correction.get("job") or {}
            descendants = job.get("nodes_total") or 0
            split = ""
            if job.get("compute_and_write_s") is not None:
                compose_s = (job.get("until_first_write_s") or 0) + job["compute_and_write_s"]
                split = (
                    f"\njob: compose+write {compose_s:.0f} s,"
                    f"\ntraining runs {job.get('training_runs_s') or 0:.0f} s"
                )
            report.add(
                f"2. origin correction\n{descendants:,} descendants",
                f"{value:.1f} s until none stale\n(PUT {correction['put_s']:.1f} s){split}",
                f"networkx + compose,\nwhole graph: {base:.1f} s",
                f"{ratio(value, base):.2f}x",
                "<= 3x",
                met(ratio(value, base) <= 3),
            )
        else:
            report.add(
                "2. origin correction",
                f"did not complete (PUT {correction.get('put_status')},"
                f" {correction.get('wall_s', correction.get('put_s', 0)):.0f} s)",
                "",
                "",
                "<= 3x",
                "MISSED",
            )
        probe = correction.get("write_probe") or {}
        if "latency_s" in probe:
            report.add(
                "2b. a write during\nthe correction",
                f"POST /datasets waited\n{probe['latency_s']:.1f} s",
                "",
                "",
                "(info)",
                "",
            )
    wide = results.get("wide_writes")
    if wide:
        for key, what in (("training_set", "members training set"), ("event_100x100", "")):
            step = wide[key]
            label = f"{wide['members']:,}-{what}" if what else "100 x 100 OpenLineage event"
            report.add(
                f"2c. a write during a\n{label}",
                f"POST /datasets waited\n{step['probe']['latency_s']:.2f} s",
                f"the wide request: {step['wide'].get('latency_s', 0):.1f} s"
                f" ({step['wide'].get('status')})",
                "",
                "<= 1 s",
                met(step["probe"]["latency_s"] <= 1.0),
            )
    if correction:
        report.add(
            "4a. server peak RSS\nduring the correction",
            f"{correction['peak_rss_mib']:.0f} MiB sampled\n"
            f"(VmHWM {correction.get('server_hwm_after_mib', 0):.0f} MiB)",
            f"before: {correction['server_rss_before_mib']:.0f} MiB",
            "",
            "< 500 MB",
            met(correction["peak_rss_mib"] * 1.048576 < 500),
        )
    size = results.get("database_size")
    if size:
        report.add(
            "4b. database bytes per node",
            f"{size['bytes_per_node']:,.0f} B/node",
            f"{size['nodes']:,} nodes, {size['edges']:,} edges",
            "",
            "(info)",
            "",
        )
    writes = results.get("writes")
    if writes:
        report.add(
            f"3. lineage writes\nPOST /datasets, {writes['clients']} clients",
            f"{writes['http_items_per_s']:,.0f} nodes+edges/s\n"
            f"({writes['http_requests_per_s']:.0f} req/s)",
            f"COPY: {writes['copy_items_per_s']:,.0f}/s",
            f"{writes['ratio_http_to_copy']:.4f}x",
            ">= 0.01x",
            met(writes["ratio_http_to_copy"] >= 0.01),
        )
        if "batch_items_per_s" in writes:
            report.add(
                f"3b. bulk path\nPOST /batch (500 datasets), {writes['clients']} clients",
                f"{writes['batch_items_per_s']:,.0f} nodes+edges/s",
                f"COPY: {writes['copy_items_per_s']:,.0f}/s",
                f"{writes['ratio_batch_to_copy']:.4f}x",
                ">= 0.05x",
                met(writes["ratio_batch_to_copy"] >= 0.05),
            )
    ol = results.get("openlineage")
    if ol:
        report.add(
            f"5. OpenLineage ingestion\n{ol['clients']} clients",
            f"{ol['events_per_s']:,.1f} events/s",
            f"discard route: {ol['discard_events_per_s']:,.0f}/s",
            f"{ol['ratio_to_ceiling']:.3f}x",
            "(info)",
            "",
        )
    gate = results.get("gate")
    if gate:
        g, h = gate["gate"], gate["healthz"]
        report.add(
            f"6. gate, {gate['training_set_size']:,} datasets",
            f"p50 {g['p50_ms']:.0f} ms\np99 {g['p99_ms']:.0f} ms",
            f"/healthz p50 {h['p50_ms']:.2f} ms",
            f"{gate['ratio_p50']:.0f}x / {gate['ratio_p99']:.0f}x",
            "p50 < 100 ms",
            met(g["p50_ms"] < 100),
        )
    return report


# --- main ----------------------------------------------------------------------------------------


def phase(results: dict[str, Any], name: str, title: str, run: Callable[[], Any]) -> None:
    say(f"— {title}")
    started = time.perf_counter()
    try:
        results[name] = run()
    except Exception as exc:  # a failed phase is reported, the others still run
        console.print_exception(max_frames=5)
        results.setdefault("errors", {})[name] = repr(exc)
    results.setdefault("phase_seconds", {})[name] = round(time.perf_counter() - started, 1)


def write_results(results: dict[str, Any], output: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2, default=str) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
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

    WORKERS[0] = args.workers
    rng = random.Random(args.seed)
    started = time.perf_counter()
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "scale": scale.__dict__,
        "workers": args.workers,
        "machine": machine(),
        "servers": SERVERS,
    }

    say(f"generating a lineage graph of {scale.nodes:,} nodes (seed {args.seed})")
    graph = generate(scale.nodes, seed=args.seed)
    results["graph"] = describe(graph)
    say(
        f"{len(graph.nodes):,} nodes, {len(graph.edges):,} edges; the giant human root has"
        f" {graph.giant_descendants:,} descendants"
    )

    say(f"fresh database {args.database}: migrate, COPY, compute every composition")
    url = load.fresh_database(args.server, args.database)
    results["machine"]["postgres"] = sql_one(url, "SELECT version()")
    setup = load.bulk_load(url, graph)
    load.vacuum_analyze(url)
    say(f"loaded in {setup['copy_artifacts_s'] + setup['copy_edges_s']:.1f} s; computing")
    setup.update(load.compute_compositions(url, graph.roots()))
    say(f"compositions computed in {setup['recompute_s']:.1f} s; recording training runs")
    models = [n for n in graph.nodes if n.kind == "model"]  # creation order is topological
    with progress_bar() as bar:
        task = bar.add_task("training runs (the service's refresh)", total=len(models))
        setup.update(
            load.record_training_runs(
                url,
                models,
                lambda done: bar.update(task, completed=done),
                workers=args.setup_workers,
            )
        )
    load.vacuum_analyze(url)
    results["setup"] = setup
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
    results["database_size_after"] = database_size(url)
    end = machine()
    results["code_at_end"] = {k: end[k] for k in ("git_commit", "git_dirty_files", "source_digest")}
    results["total_s"] = round(time.perf_counter() - started, 1)

    report = summarize(results)
    results["summary"] = [row.__dict__ for row in report.rows]
    write_results(results, args.output)
    console.print(report.table())
    say(f"results written to {args.output} ({results['total_s']:.0f} s in all)")
    return 0 if "errors" not in results else 1


if __name__ == "__main__":
    sys.exit(main())
