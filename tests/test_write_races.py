"""The races the write path's locks exist for, each between two real processes.

Each writer runs the service's write sequence in a process of its own, with a connection of its
own, and holds its transaction open before committing, so that without the lock in question
both would commit what they computed from what they saw: (a) two edges that close one cycle
from both ends through existing paths; (b) a new node below a node whose descendants another
writer is recomputing, whichever of the two writes first.

What each test stands on: (a) the locks ``lineage_service.connect`` takes before its cycle
check; (b, propagation first) the parents' ``FOR SHARE`` lock (``lock_parents``); (b, node first)
``lock_descendants`` looking for descendants again once its locks are held (the correction locks
twice, in ``record_origin`` and in the propagation: each look finds the node). Without it, each
test fails.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from app import writes
from app.artifacts.schemas import DatasetCreate, OriginIn, ParentIn
from app.auth.core import NOBODY_IN_PARTICULAR as ANYONE
from app.errors import CycleRefused
from app.lineage.schemas import EdgeCreate, EdgeEnd
from tests import graph_check

NAMESPACE = "race"
# how long a writer keeps its transaction open: long enough for the other to catch up with it
HOLD_S = 3.0

context = multiprocessing.get_context("spawn")


def in_process(url: str, work: Callable[[Session], str], before_commit: Callable[[], None]) -> str:
    engine = create_engine(url)
    try:
        with sessionmaker(engine)() as session:
            try:
                outcome = work(session)
            except CycleRefused:
                session.rollback()
                return "cycle"
            before_commit()
            session.commit()
            return outcome
    finally:
        engine.dispose()


def add_edge(url: str, child: str, parent: str, start: Any, held: Any, results: Any) -> None:
    start.wait(timeout=30)

    def work(session: Session) -> str:
        body = EdgeCreate(
            child=EdgeEnd(id=uuid.UUID(child)),
            parent=EdgeEnd(id=uuid.UUID(parent)),
            relation="derived_from",
        )
        writes.add_edge(session, body, actor=ANYONE)
        return "ok"

    def hold() -> None:
        # a broken barrier: the other writer waits for this one's locks, so commit and let it on
        with contextlib.suppress(threading.BrokenBarrierError):
            held.wait(timeout=HOLD_S)

    results.put(in_process(url, work, hold))


def hold_after(signal: Any) -> Callable[[], None]:
    """Before committing: tell the other writer this one has written, and give it time."""

    def hold() -> None:
        if signal is not None:
            signal.set()
            time.sleep(HOLD_S)

    return hold


def correct(url: str, dataset: str, results: Any, signal: Any, wait_for: Any) -> None:
    if wait_for is not None:
        wait_for.wait(timeout=30)

    def work(session: Session) -> str:
        writes.correct_origin(
            session, uuid.UUID(dataset), OriginIn(synthetic=1.0), "race", actor=ANYONE
        )
        return "corrected"

    results.put(in_process(url, work, hold_after(signal)))


def add_leaf(url: str, parent: str, name: str, results: Any, signal: Any, wait_for: Any) -> None:
    if wait_for is not None:
        wait_for.wait(timeout=30)

    def work(session: Session) -> str:
        body = DatasetCreate(
            namespace=NAMESPACE,
            name=name,
            version="1",
            size=10.0,
            parents=[ParentIn(id=uuid.UUID(parent), relation="derived_from")],
        )
        writes.register_dataset(session, body, actor=ANYONE)
        return "recorded"

    results.put(in_process(url, work, hold_after(signal)))


def dataset(session: Session, name: str, *parents: uuid.UUID) -> uuid.UUID:
    body = DatasetCreate(
        namespace=NAMESPACE,
        name=name,
        version="1",
        size=100.0,
        origin=None if parents else OriginIn(human=1.0),
        parents=[ParentIn(id=p, relation="derived_from") for p in parents],
    )
    artifact, _ = writes.register_dataset(session, body, actor=ANYONE)
    return artifact.id


def run(*processes: Any) -> None:
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0


def drain(results: Any, count: int) -> list[str]:
    return sorted(results.get(timeout=10) for _ in range(count))


def test_two_processes_cannot_close_one_cycle_through_existing_paths(committed: str) -> None:
    engine = create_engine(committed)
    with sessionmaker(engine).begin() as session:
        a1 = dataset(session, "a1")
        a2 = dataset(session, "a2", a1)
        b1 = dataset(session, "b1")
        b2 = dataset(session, "b2", b1)
    # b1 ← a2 makes a1 → a2 → b1 → b2; a1 ← b2 then closes the cycle, and the other way round.
    # Their endpoints are four different nodes.
    start, held, results = context.Barrier(2), context.Barrier(2), context.Queue()
    run(
        context.Process(target=add_edge, args=(committed, str(b1), str(a2), start, held, results)),
        context.Process(target=add_edge, args=(committed, str(a1), str(b2), start, held, results)),
    )
    assert drain(results, 2) == ["cycle", "ok"]
    with Session(engine) as session:
        graph_check.check_graph(session, [NAMESPACE])
    engine.dispose()


def test_a_node_added_during_a_propagation_reads_its_result(committed: str) -> None:
    """The propagation writes first: the new node must not keep the parent's old value."""
    engine = create_engine(committed)
    with sessionmaker(engine).begin() as session:
        root = dataset(session, "root")
        middle = dataset(session, "middle", root)
    written, results = context.Event(), context.Queue()
    run(
        context.Process(target=correct, args=(committed, str(root), results, written, None)),
        context.Process(
            target=add_leaf, args=(committed, str(middle), "late", results, None, written)
        ),
    )
    assert drain(results, 2) == ["corrected", "recorded"]
    with Session(engine) as session:
        graph_check.check_graph(session, [NAMESPACE])
    engine.dispose()


def test_a_propagation_finds_a_node_added_before_it_locked(committed: str) -> None:
    """The new node is written first, uncommitted: the propagation must wait and include it."""
    engine = create_engine(committed)
    with sessionmaker(engine).begin() as session:
        root = dataset(session, "root")
        middle = dataset(session, "middle", root)
    written, results = context.Event(), context.Queue()
    run(
        context.Process(
            target=add_leaf, args=(committed, str(middle), "early", results, written, None)
        ),
        context.Process(target=correct, args=(committed, str(root), results, None, written)),
    )
    assert drain(results, 2) == ["corrected", "recorded"]
    with Session(engine) as session:
        graph_check.check_graph(session, [NAMESPACE])
    engine.dispose()
