"""Where the time goes: the slow paths of ``benchmarks.run``, in-process, under cProfile.

    python -m benchmarks.profile {read,gate,ingest,ingest-batch,native-batch,correction,all}
        [--database NAME] [--top N]

Runs against a database that ``benchmarks.run`` set up (default ``headwater_bench``) and
changes nothing in it: every step runs in a transaction that is rolled back. For each step it
prints the wall time, the SQL statements grouped by their text (count and total time, measured
around the driver's execute, so fetching the rows is included) and the Python functions with
the most time of their own. The service's code is called directly (the route's service
functions, with a session of their own), so HTTP is left out.
"""

from __future__ import annotations

import argparse
import cProfile
import inspect
import io
import pstats
import random
import re
import resource
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.auth.core import NOBODY_IN_PARTICULAR
from app.db import normalize_url
from benchmarks.generate import Graph
from benchmarks.load import service_engine
from benchmarks.run import DEFAULT_DATABASE, DEFAULT_SERVER


class SqlTimer:
    """Total time and count per SQL statement (whitespace-collapsed, first 90 characters)."""

    def __init__(self, engine: Engine) -> None:
        self.totals: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
        self._started: dict[int, float] = {}
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self._started[id(cursor)] = time.perf_counter()

    def _after(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        elapsed = time.perf_counter() - self._started.pop(id(cursor), time.perf_counter())
        key = re.sub(r"\s+", " ", statement).strip()[:90]
        entry = self.totals[key]
        entry[0] += 1
        entry[1] += elapsed

    def reset(self) -> None:
        self.totals.clear()

    def report(self, top: int) -> str:
        rows = sorted(self.totals.items(), key=lambda item: -item[1][1])[:top]
        total = sum(t for _, t in self.totals.values())
        count = int(sum(n for n, _ in self.totals.values()))
        lines = [f"  SQL total {total:8.3f} s, {count} statements"]
        lines += [f"  {t:8.3f} s {int(n):6d}x  {statement}" for statement, (n, t) in rows]
        return "\n".join(lines)


@contextmanager
def profiled(title: str, sql: SqlTimer, top: int) -> Iterator[None]:
    sql.reset()
    profile = cProfile.Profile()
    started = time.perf_counter()
    profile.enable()
    try:
        yield
    finally:
        profile.disable()
        elapsed = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"\n=== {title}: {elapsed:.3f} s wall (process peak RSS so far {peak:.0f} MiB)")
        print(sql.report(top))
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(top)
        body = out.getvalue()
        print(body[body.find("   ncalls") :].rstrip())


def random_ids(session: Session, kind: str, count: int, rng: random.Random) -> list[uuid.UUID]:
    ids = list(session.execute(text("SELECT id FROM artifacts WHERE kind = :k"), {"k": kind}))
    return [row[0] for row in rng.sample(ids, min(count, len(ids)))]


def profile_read(engine: Engine, sql: SqlTimer, top: int, rng: random.Random) -> None:
    from app import reads

    with Session(engine) as session:
        datasets = random_ids(session, "dataset", 300, rng)
        models = random_ids(session, "model", 100, rng)
    slowest: list[tuple[float, str, uuid.UUID]] = []

    def composition(node: uuid.UUID, kind: str) -> None:
        with Session(engine) as session:
            started = time.perf_counter()
            reads.composition_detail(session, node, kind, 10)
            slowest.append((time.perf_counter() - started, kind, node))
            session.rollback()

    with profiled("GET …/{id}/composition x400 (300 datasets, 100 models)", sql, top):
        for node in datasets:
            composition(node, "dataset")
        for node in models:
            composition(node, "model")
    slowest.sort(reverse=True)
    print("  slowest:", [(f"{s * 1000:.0f} ms", kind, str(n)) for s, kind, n in slowest[:5]])
    with profiled("GET /datasets/{id} x300 (point lookup)", sql, top):
        for node in datasets:
            with Session(engine) as session:
                reads.version(session, "dataset", node)
                session.rollback()


def profile_gate(engine: Engine, sql: SqlTimer, top: int, rng: random.Random) -> None:
    from app.artifacts.models import Artifact
    from app.policies.schemas import GateRequest
    from app.training import gate as service

    with Session(engine) as session:
        rows = session.execute(
            select(Artifact.namespace, Artifact.name, Artifact.version).where(
                Artifact.kind == "dataset"
            )
        ).all()
    requests = [
        GateRequest.model_validate(
            {
                "training_set": [
                    {"namespace": a, "name": b, "version": c} for a, b, c in rng.sample(rows, 1000)
                ]
            }
        )
        for _ in range(6)
    ]
    with Session(engine) as session:  # warm-up
        service.gate(session, requests[0])
        session.rollback()
    with profiled("POST /gate x5, 1,000 datasets each", sql, top):
        for request in requests[1:]:
            with Session(engine) as session:
                service.gate(session, request)
                session.rollback()


def profile_correction(engine: Engine, sql: SqlTimer, top: int, rng: random.Random) -> None:
    """The worker's job for the giant root's origin correction, rolled back."""
    from app.composition import service as composition_service
    from app.training import service as training_service

    with Session(engine) as session:
        root = session.execute(
            text(
                "SELECT e.parent_id FROM edges e JOIN artifacts a ON a.id = e.parent_id"
                " WHERE a.name = 'common-crawl/en-2019' LIMIT 1"
            )
        ).scalar_one()
        human = session.execute(
            text("SELECT origin_human FROM artifacts WHERE id = :id"), {"id": root}
        ).scalar_one()
        new_human = 0.8 if human > 0.85 else 0.9
        session.execute(
            text(
                "UPDATE artifacts SET origin_human = :h, origin_unknown = 1 - :h,"
                " origin_synthetic = 0 WHERE id = :id"
            ),
            {"h": new_human, "id": root},
        )
        outcome: list[Any] = []
        with profiled("recompute_from(giant root), no inline limit", sql, top):
            outcome.append(composition_service.recompute_from(session, [root], cause="profile"))
        models = outcome[0].models
        print(f"  nodes {outcome[0].nodes}, changed {outcome[0].changed}, models {len(models)}")
        sample = models[:1000]
        # an origin correction changes no edge: the worker re-judges with structural=False
        # where the service's refresh takes that argument
        extra = (
            {"structural": False}
            if "structural" in inspect.signature(training_service.refresh).parameters
            else {}
        )
        title = f"training_service.refresh{extra or ''} on {len(sample)} of {len(models)} models"
        with profiled(title, sql, top):
            training_service.refresh(session, sample, cause="profile", **extra)
        session.rollback()


def stored_graph(engine: Engine) -> Graph:
    """The stored versions as the benchmarks' generator describes a graph (no edges)."""
    from benchmarks.generate import Graph, Node

    with Session(engine) as session:
        rows = session.execute(
            text("SELECT id, kind, namespace, name, version, size FROM artifacts")
        ).all()
    return Graph(seed=0, nodes=[Node(*row, origin=None, uri=None) for row in rows])


def ol_runs_on(engine: Engine, count: int, rng: random.Random) -> list[list[dict[str, Any]]]:
    """OpenLineage runs (START + COMPLETE) as benchmarks.run sends them, over the stored graph."""
    from benchmarks.ingestion import ol_runs

    return ol_runs(stored_graph(engine), count, rng)


@contextmanager
def per_event(sql: SqlTimer, events: int, unit: str = "event") -> Iterator[None]:
    """After the step: its statements and this process's CPU time, per event (or ``unit``)."""
    cpu = time.process_time()
    try:
        yield
    finally:
        cpu = time.process_time() - cpu
        statements = sum(n for n, _ in sql.totals.values())
        print(
            f"  per {unit}: {statements / events:.1f} statements,"
            f" {cpu / events * 1000:.2f} ms CPU in this process"
        )


def profile_ingest(engine: Engine, sql: SqlTimer, top: int, rng: random.Random) -> None:
    """OpenLineage runs (START + COMPLETE) as benchmarks.run sends them, one run per
    transaction, each rolled back."""
    from app import writes

    runs = ol_runs_on(engine, 150, rng)
    events = 2 * len(runs)
    with (
        per_event(sql, events),
        profiled(f"OpenLineage ingest: {len(runs)} runs, {events} events", sql, top),
    ):
        for run in runs:
            with Session(engine) as session:
                for event in run:
                    writes.ingest(session, event, actor=NOBODY_IN_PARTICULAR)
                    session.flush()
                session.rollback()


def profile_ingest_batch(engine: Engine, sql: SqlTimer, top: int, rng: random.Random) -> None:
    """The same kind of runs through ``POST /lineage/batch``'s path: as benchmarks.run sends
    them, ``BATCH_EVENTS`` events a batch (a run's events in one, in order), each batch one
    transaction, rolled back."""
    from app import writes
    from benchmarks.ingestion import BATCH_EVENTS

    events = [event for run in ol_runs_on(engine, 150, rng) for event in run]
    title = f"OpenLineage batches: {len(events)} events, {BATCH_EVENTS} a batch"
    with per_event(sql, len(events)), profiled(title, sql, top):
        for start in range(0, len(events), BATCH_EVENTS):
            with Session(engine) as session:
                batch = events[start : start + BATCH_EVENTS]
                writes.ingest_batch(session, batch, actor=NOBODY_IN_PARTICULAR)
                session.flush()
                session.rollback()


def profile_native_batch(engine: Engine, sql: SqlTimer, top: int, rng: random.Random) -> None:
    """``POST /api/v1/batch`` as benchmark 3b sends it: new datasets derived from (or generated
    by) stored versions, ``BATCH_DATASETS`` a batch, each batch one transaction, rolled back."""
    from app import writes
    from app.lineage.schemas import NativeBatch
    from benchmarks.writes import BATCH_DATASETS, write_bodies

    bodies = write_bodies(stored_graph(engine), 4 * BATCH_DATASETS, rng)
    batches = [
        NativeBatch.model_validate({"datasets": bodies[start : start + BATCH_DATASETS]})
        for start in range(0, len(bodies), BATCH_DATASETS)
    ]
    items = len(bodies) + sum(len(body.get("parents", ())) for body in bodies)
    title = f"native batches: {len(bodies)} datasets, {items} nodes+edges, {BATCH_DATASETS} a batch"
    with per_event(sql, items, "node or edge"), profiled(title, sql, top):
        for batch in batches:
            with Session(engine) as session:
                writes.record_batch(session, batch, actor=NOBODY_IN_PARTICULAR)
                session.flush()
                session.rollback()


STEPS: dict[str, Callable[[Engine, SqlTimer, int, random.Random], None]] = {
    "read": profile_read,
    "gate": profile_gate,
    "ingest": profile_ingest,
    "ingest-batch": profile_ingest_batch,
    "native-batch": profile_native_batch,
    "correction": profile_correction,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=[*STEPS, "all"])
    parser.add_argument("--server", default=DEFAULT_SERVER)
    parser.add_argument("--database", default=DEFAULT_DATABASE)
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    base = normalize_url(args.server).rsplit("/", 1)[0]
    engine = service_engine(f"{base}/{args.database}")
    sql = SqlTimer(engine)
    rng = random.Random(args.seed)
    for name, step in STEPS.items():
        if args.step in (name, "all"):
            step(engine, sql, args.top, rng)
    engine.dispose()


if __name__ == "__main__":
    main()
