"""Setting up a benchmark database: fresh, migrated, bulk-loaded, compositions computed once.

Loading 100k nodes through HTTP would take longer than the benchmarks themselves, so nodes and
edges go in with ``COPY`` (placeholder compositions, as the service itself inserts them) and
then the propagation engine computes every composition once, from all roots, in one
transaction: the stored state is exactly what the service would have written. Training runs
are then recorded for every model version with a training set, by the service's own code
(a re-judgement after a correction reuses what the first judgement recorded, so leaving them
out would make corrections look slower than they are).
"""

from __future__ import annotations

import json
import multiprocessing
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app import migrate
from app.db import normalize_url
from benchmarks.generate import Graph, Node

PLACEHOLDER = json.dumps({"b": [], "u": 1.0})

ARTIFACT_COLUMNS = (
    "id, kind, namespace, name, version, size, uri, facets,"
    " origin_human, origin_synthetic, origin_unknown, origin_synthetic_depth,"
    " origin_digital_source_type, composition, total_amount, weights_assumed,"
    " human_fraction, synthetic_fraction, unknown_fraction, composition_stale,"
    " created_at, composition_updated_at"
)
EDGE_COLUMNS = "id, child_id, parent_id, relation, amount, created_at"

Progress = Callable[[int], None]


def libpq_url(url: str) -> str:
    """A SQLAlchemy URL (postgresql+psycopg://) as libpq wants it."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def sql_one(url: str, query: str, params: Sequence[Any] = ()) -> Any:
    """The first column of the first row of one query (None when there is no row)."""
    with psycopg.connect(libpq_url(url)) as conn:
        row = conn.execute(query, params).fetchone()
        return None if row is None else row[0]


def fresh_database(server: str, name: str) -> str:
    """Drop and recreate ``name`` on the server at ``server`` (a URL); return its URL."""
    base = normalize_url(server).rsplit("/", 1)[0]
    with psycopg.connect(libpq_url(base + "/postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{base}/{name}"
    migrate.upgrade(url)
    return url


def _artifact_rows(graph: Graph, base: datetime) -> Iterable[tuple[object, ...]]:
    for index, n in enumerate(graph.nodes):
        created = base + timedelta(milliseconds=index)
        o = n.origin
        yield (
            n.id,
            n.kind,
            n.namespace,
            n.name,
            n.version,
            n.size,
            n.uri,
            "{}",
            None if o is None else o.human,
            None if o is None else o.synthetic,
            None if o is None else o.unknown,
            None if o is None else o.synthetic_depth,
            None if o is None else o.digital_source_type,
            PLACEHOLDER,
            None,
            False,
            0.0,
            0.0,
            1.0,
            False,
            created,
            created,
        )


def bulk_load(url: str, graph: Graph) -> dict[str, float]:
    """COPY every node and edge; return timings in seconds."""
    timings: dict[str, float] = {}
    base = datetime.now(UTC) - timedelta(milliseconds=len(graph.nodes) + 60_000)
    created = {n.id: base + timedelta(milliseconds=i) for i, n in enumerate(graph.nodes)}
    with psycopg.connect(libpq_url(url)) as conn, conn.cursor() as cur:
        started = time.perf_counter()
        with cur.copy(f"COPY artifacts ({ARTIFACT_COLUMNS}) FROM STDIN") as copy:
            for row in _artifact_rows(graph, base):
                copy.write_row(row)
        timings["copy_artifacts_s"] = time.perf_counter() - started
        started = time.perf_counter()
        with cur.copy(f"COPY edges ({EDGE_COLUMNS}) FROM STDIN") as copy:
            for e in graph.edges:
                copy.write_row((e.id, e.child, e.parent, e.relation, e.amount, created[e.child]))
        timings["copy_edges_s"] = time.perf_counter() - started
        conn.commit()
    return timings


def vacuum_analyze(url: str, tables: Sequence[str] = ("artifacts", "edges")) -> None:
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        for table in tables:
            conn.execute(f"VACUUM ANALYZE {table}")


def service_engine(url: str) -> Engine:
    """An engine configured as the service configures its own (JSON codecs, pool)."""
    from app.db import Database

    return Database.connect(url).engine


def compute_compositions(url: str, roots: Sequence[uuid.UUID]) -> dict[str, float]:
    """Every composition, by the propagation engine, from all roots, in one transaction."""
    from app.composition.service import recompute_from

    engine = service_engine(url)
    try:
        with Session(engine) as session, session.begin():
            started = time.perf_counter()
            outcome = recompute_from(session, list(roots), cause="benchmark setup")
            elapsed = time.perf_counter() - started
        return {"recompute_s": elapsed, "recomputed_nodes": float(outcome.nodes)}
    finally:
        engine.dispose()


def _record_part(url: str, models: Sequence[uuid.UUID], done: Any, chunk: int) -> None:
    """One process's share of :func:`record_training_runs` (whole model families, in order)."""
    from app.training import service as training_service

    engine = service_engine(url)
    try:
        for start in range(0, len(models), chunk):
            with Session(engine) as session, session.begin():
                training_service.refresh(
                    session, list(models[start : start + chunk]), cause="benchmark setup"
                )
            with done.get_lock():
                done.value += len(models[start : start + chunk])
    finally:
        engine.dispose()


def family_parts(models: Sequence[Node], parts: int) -> list[list[uuid.UUID]]:
    """The models split into ``parts`` lists of whole families (one model name each), each list
    in creation (topological) order, the largest families placed first on the lightest list."""
    families: dict[tuple[str, str], list[int]] = {}
    for index, model in enumerate(models):
        families.setdefault((model.namespace, model.name), []).append(index)
    buckets: list[list[int]] = [[] for _ in range(max(1, parts))]
    for members in sorted(families.values(), key=len, reverse=True):
        min(buckets, key=len).extend(members)
    return [[models[i].id for i in sorted(bucket)] for bucket in buckets if bucket]


def record_training_runs(
    url: str,
    models: Sequence[Node],
    progress: Progress,
    *,
    workers: int = 1,
    chunk: int = 1000,
    deadline_s: float = 4 * 3600.0,
) -> dict[str, float]:
    """The training run of every model version with a training set, judged by the service's
    own code (``training_service.refresh``), in topological order within each model family.

    A run is judged against its previous generation's run: the nearest earlier version of the
    same model (namespace and name) upstream, and nothing of other families. So families are
    independent, and ``workers`` processes each record whole families, in order, in their own
    transactions of ``chunk`` models: the stored runs and verdicts are those one process
    writes, recorded in a fraction of the time.
    """
    started = time.perf_counter()
    parts = family_parts(models, workers)
    context = multiprocessing.get_context("spawn")
    done = context.Value("q", 0)
    processes = [
        context.Process(target=_record_part, args=(url, part, done, chunk), name=f"runs-{i}")
        for i, part in enumerate(parts)
    ]
    for process in processes:
        process.start()
    try:
        deadline = time.monotonic() + deadline_s
        while any(p.is_alive() for p in processes) and time.monotonic() < deadline:
            progress(done.value)
            time.sleep(0.5)
        progress(done.value)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()  # our own child, past the deadline
            process.join(timeout=60)
    failed = [p.name for p in processes if p.exitcode != 0]
    if failed:
        raise RuntimeError(f"recording training runs failed in {', '.join(failed)}")
    return {
        "training_runs_s": time.perf_counter() - started,
        "models": float(len(models)),
        "training_run_workers": float(len(processes)),
    }
