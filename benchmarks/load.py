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
from app.composition.core import Composition, packed
from app.db import normalize_url
from benchmarks.generate import Graph, Node

PLACEHOLDER = json.dumps({"b": [], "u": 1.0})
PLACEHOLDER_PACKED = packed(Composition.all_unknown())

ARTIFACT_COLUMNS = (
    "id, kind, namespace, name, version, size, uri, facets,"
    " origin_human, origin_synthetic, origin_unknown, origin_synthetic_depth,"
    " origin_digital_source_type, composition, composition_packed, total_amount, weights_assumed,"
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


def reused_database(server: str, name: str, graph: Graph) -> str:
    """The URL of ``name`` when it holds exactly ``graph`` as setup leaves it before recording
    training runs: the same nodes and edges, none stale, no training run, nothing a benchmark
    writes (an interrupted run's setup, which at a million nodes took most of an hour)."""
    url = normalize_url(server).rsplit("/", 1)[0] + f"/{name}"
    migrate.upgrade(url)
    found = (
        sql_one(url, "SELECT count(*) FROM artifacts"),
        sql_one(url, "SELECT count(*) FROM edges"),
        sql_one(url, "SELECT count(*) FROM artifacts WHERE composition_stale"),
        sql_one(url, "SELECT count(*) FROM training_runs"),
        sql_one(url, "SELECT count(*) FROM artifacts WHERE id = %s", (graph.giant_root,)),
    )
    wanted = (len(graph.nodes), len(graph.edges), 0, 0, 1)
    if found != wanted:
        raise SystemExit(
            f"{name} does not hold this graph as setup left it (artifacts, edges, stale,"
            f" training runs, giant root: {found}, wanted {wanted}): run without --reuse-setup"
        )
    return url


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
            PLACEHOLDER_PACKED,
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


def known_ancestries(graph: Graph, models: Sequence[Node]) -> dict[uuid.UUID, Any]:
    """Each model's ancestry as its first judgement would find it, from the generated graph in
    memory: what ``policies.repository.previous_generation`` finds (the nearest earlier
    version of the same model upstream of its training set, breadth-first, the latest created
    at the first level holding one) and which members ``carried_over`` says that version had
    trained on (its training set and the datasets those derive from, up to the models that
    generated them). In the form a judged run stores it (``previous_generation``); None when
    there is no earlier version. Only models with a training set are keyed."""
    from app.policies.repository import MAX_ANCESTRY

    parents: dict[uuid.UUID, set[uuid.UUID]] = {}
    members: dict[uuid.UUID, list[uuid.UUID]] = {}
    for edge in graph.edges:
        parents.setdefault(edge.child, set()).add(edge.parent)
        if edge.relation == "trained_on":
            members.setdefault(edge.child, []).append(edge.parent)
    kinds = {n.id: n.kind for n in graph.nodes}
    created = {n.id: i for i, n in enumerate(graph.nodes)}  # bulk_load's created_at order
    versions: dict[tuple[str, str], set[uuid.UUID]] = {}
    for model in models:
        versions.setdefault((model.namespace, model.name), set()).add(model.id)

    def previous(model: Node, start: list[uuid.UUID]) -> uuid.UUID | None:
        others = versions[(model.namespace, model.name)] - {model.id}
        seen = set(start)
        frontier = list(seen)
        for _ in range(MAX_ANCESTRY):
            if not frontier or not others:
                return None
            above = {p for node in frontier for p in parents.get(node, ())}
            frontier = [p for p in above if p not in seen]
            seen.update(frontier)
            found = [p for p in frontier if p in others]
            if found:
                return max(found, key=lambda p: created[p])
        return None

    def trained_on(earlier: uuid.UUID) -> set[uuid.UUID]:
        up, stack = {earlier}, [earlier]
        while stack:
            node = stack.pop()
            if kinds[node] == "dataset" or node == earlier:
                for parent in parents.get(node, ()):
                    if parent not in up:
                        up.add(parent)
                        stack.append(parent)
        return up

    known: dict[uuid.UUID, Any] = {}
    for model in models:
        start = members.get(model.id)
        if not start:
            continue
        earlier = previous(model, start)
        if earlier is None:
            known[model.id] = None
            continue
        carried = trained_on(earlier)
        known[model.id] = {
            "id": str(earlier),
            "carried_over": sorted({str(m) for m in start if m in carried}),
        }
    return known


def seed_runs(url: str, known: dict[uuid.UUID, Any]) -> None:
    """A placeholder run per model holding only its known ancestry, which a judgement that is
    told no edge changed (``structural=False``) reuses instead of walking it in SQL; the
    judgement then writes every other column, and its verdict record, as a first one does."""
    with psycopg.connect(libpq_url(url)) as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY training_runs (id, model_id, composition, verdict, previous_generation,"
            " remediation) FROM STDIN"
        ) as copy:
            for model_id, ancestry in known.items():
                # JSON nulls, as the ORM inserts a None: a judgement that finds None again
                # leaves the column as it is
                copy.write_row(
                    (uuid.uuid4(), model_id, PLACEHOLDER, "pass", json.dumps(ancestry), "null")
                )
        conn.commit()


def _record_part(
    url: str, models: Sequence[uuid.UUID], done: Any, chunk: int, structural: bool
) -> None:
    """One process's share of :func:`record_training_runs` (whole model families, in order)."""
    from app.training import service as training_service

    engine = service_engine(url)
    try:
        for start in range(0, len(models), chunk):
            with Session(engine) as session, session.begin():
                training_service.refresh(
                    session,
                    list(models[start : start + chunk]),
                    cause="benchmark setup",
                    structural=structural,
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
    graph: Graph | None = None,
) -> dict[str, float]:
    """The training run of every model version with a training set, judged by the service's
    own code (``training_service.refresh``), in topological order within each model family.

    A run is judged against its previous generation's run: the nearest earlier version of the
    same model (namespace and name) upstream, and nothing of other families. So families are
    independent, and ``workers`` processes each record whole families, in order, in their own
    transactions of ``chunk`` models: the stored runs and verdicts are those one process
    writes, recorded in a fraction of the time.

    With ``graph``, each run's ancestry (the one walk of the lineage a first judgement makes
    in SQL, most of its time) is computed from the graph in memory and seeded
    (:func:`known_ancestries`, :func:`seed_runs`); the judgements then reuse it, as
    re-judgements after a correction do.
    """
    started = time.perf_counter()
    timings: dict[str, float] = {}
    if graph is not None and models:
        known = known_ancestries(graph, models)
        seed_runs(url, known)
        timings["known_ancestries_s"] = time.perf_counter() - started
    parts = family_parts(models, workers)
    context = multiprocessing.get_context("spawn")
    done = context.Value("q", 0)
    processes = [
        context.Process(
            target=_record_part, args=(url, part, done, chunk, graph is None), name=f"runs-{i}"
        )
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
        **timings,
        "training_runs_s": time.perf_counter() - started,
        "models": float(len(models)),
        "training_run_workers": float(len(processes)),
    }
