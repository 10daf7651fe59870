"""The deferred job: a propagation too large for one request, finished by a worker.

A write whose subgraph is over the inline limit marks it stale and queues a job
(``service.recompute_from``); a worker claims the oldest (:func:`run_pending_job`) and
recomputes it level by level in transactions of its own (:func:`recompute_in_chunks`), so a
read never presents a stale composition as current and a writer below it waits for one chunk,
not for the whole job.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import TypeVar

from sqlalchemy import func
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.composition import passes, repository
from app.composition.passes import Pass, Written
from app.composition.service import Recomputed, recompute_from

log = logging.getLogger("headwater.propagation")

T = TypeVar("T")

# Nodes a deferred job recomputes per transaction (whole levels, so a chunk may hold more).
CHUNK_NODES = 5_000
# Rounds of the last sweep for nodes that turned stale while a job ran.
SWEEPS = 5
# SQLSTATEs after which a chunk can simply run again: deadlock_detected, serialization_failure
RETRYABLE = frozenset({"40P01", "40001"})
ATTEMPTS = 20


def levels(count: int, parents: Sequence[int], children: Sequence[int]) -> list[int]:
    """Each node's level: 0 for a node without parents among the ``count`` given, else one more
    than its deepest parent's. (A cycle, which the cycle check makes unreachable, would leave its
    nodes at the last level.)"""
    below: list[list[int]] = [[] for _ in range(count)]
    waiting = [0] * count
    for parent, child in zip(parents, children, strict=True):
        below[parent].append(child)
        waiting[child] += 1
    level = [0] * count
    frontier = [node for node in range(count) if waiting[node] == 0]
    reached = len(frontier)
    while frontier:
        following: list[int] = []
        for parent in frontier:
            for child in below[parent]:
                level[child] = max(level[child], level[parent] + 1)
                waiting[child] -= 1
                if waiting[child] == 0:
                    following.append(child)
        reached += len(following)
        frontier = following
    if reached < count:
        last = max(level) + 1
        level = [last if waiting[node] else level[node] for node in range(count)]
    return level


def chunks_by_level(
    ids: Sequence[uuid.UUID], level: Sequence[int], size: int
) -> list[list[uuid.UUID]]:
    """Whole levels grouped into chunks of at least ``size`` nodes, parents' levels first. The
    grouping starts from the deepest level, so the last chunk is a full one: the long thin tail
    of deep lineage finishes in one transaction with what precedes it."""
    by_level: dict[int, list[uuid.UUID]] = defaultdict(list)
    for node, at in zip(ids, level, strict=True):
        by_level[at].append(node)
    chunks: list[list[uuid.UUID]] = []
    current: list[uuid.UUID] = []
    for at in sorted(by_level, reverse=True):
        current.extend(by_level[at])
        if len(current) >= size:
            chunks.append(current)
            current = []
    if current:
        chunks.append(current)
    chunks.reverse()
    return chunks


def _retrying(sessions: Callable[[], Session], work: Callable[[Session], T]) -> T:
    """``work`` in a transaction of its own, run again when PostgreSQL aborted it to break a
    deadlock with a writer whose locks crossed it."""
    attempt = 1
    while True:
        try:
            with sessions() as session, session.begin():
                return work(session)
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) not in RETRYABLE or attempt >= ATTEMPTS:
                raise
            time.sleep(random.uniform(0.0, 0.005 * 2 ** min(attempt, 6)))
            attempt += 1


def recompute_in_chunks(sessions: Callable[[], Session], roots: Sequence[uuid.UUID]) -> Recomputed:
    """Recompute ``roots`` and every descendant level by level, committing every chunk of levels:
    locks are held on one chunk at a time, so a writer below the roots waits for a chunk, not
    for the whole job, and memory holds one chunk plus the results later chunks still need.

    Nodes not yet reached keep reading ``stale``; a node is written current once its parents
    are. A chunk re-reads its parents' edges and figures under its own locks, so writes that
    land between chunks are taken into account; nodes that became stale meanwhile (a new node
    or edge below one not yet recomputed) are found by a last sweep. Work committed before a
    crash is correct as it stands; the job, still pending, runs again from its roots.
    """
    ids = _retrying(sessions, lambda s: repository.descendant_ids(s, roots))
    parents, children = _retrying(sessions, lambda s: repository.internal_edges(s, ids))
    level = levels(len(ids), parents, children)
    chunks = chunks_by_level(ids, level, CHUNK_NODES)
    chunk_of = {node: number for number, chunk in enumerate(chunks) for node in chunk}
    # a node's result is kept until the last chunk with a child of it is done
    last_use: dict[uuid.UUID, int] = {}
    for parent, child in zip(parents, children, strict=True):
        parent_id, used_in = ids[parent], chunk_of[ids[child]]
        if chunk_of[parent_id] < used_in:
            last_use[parent_id] = max(last_use.get(parent_id, used_in), used_in)
    expiring: dict[int, list[uuid.UUID]] = defaultdict(list)
    for parent_id, used_in in last_use.items():
        expiring[used_in].append(parent_id)
    del parents, children, level, chunk_of

    known: dict[uuid.UUID, Written] = {}
    outcome = Recomputed()
    changed: set[uuid.UUID] = set()
    seen_models: set[uuid.UUID] = set()

    def run(chunk: Sequence[uuid.UUID]) -> Pass:
        def work(session: Session) -> Pass:
            repository.lock_nodes(session, chunk)
            return passes.recompute(session, chunk, known=known, keep=last_use)

        done = _retrying(sessions, work)
        outcome.nodes += done.nodes
        changed.update(done.changed)
        for model in done.models:
            if model not in seen_models:
                seen_models.add(model)
                outcome.models.append(model)
        return done

    for number, chunk in enumerate(chunks):
        known.update(run(chunk).written)
        for parent_id in expiring.pop(number, ()):
            known.pop(parent_id, None)
    known.clear()

    # nodes that turned stale while the job ran, below a node it had not reached yet
    left: set[uuid.UUID] = set()
    for _ in range(SWEEPS):
        stale = set(
            _retrying(sessions, lambda s: repository.descendant_ids(s, roots, stale_only=True))
        )
        if not stale or stale == left:
            break
        left = stale
        run(sorted(stale))
    outcome.changed = len(changed)
    return outcome


def run_pending_job(
    session: Session, sessions: Callable[[], Session] | None = None
) -> Recomputed | None:
    """Finish the oldest deferred propagation.

    The job row stays locked and pending in ``session``'s transaction until it commits, so a
    crash part-way leaves it pending for the next worker. Without ``sessions`` the whole job
    runs in that transaction; with it (a factory of sessions on the same database) the job
    commits chunk by chunk (:func:`recompute_in_chunks`).
    """
    job = repository.claim_job(session)
    if job is None:
        return None
    job.started_at = func.clock_timestamp()
    if sessions is None:
        outcome = recompute_from(session, job.roots, cause=job.cause)
    else:
        outcome = recompute_in_chunks(sessions, job.roots)
    job.nodes_total = outcome.nodes
    job.status = "done"
    job.nodes_done = outcome.nodes
    job.finished_at = func.clock_timestamp()
    session.flush()
    outcome.job_id = job.id
    outcome.cause = job.cause
    outcome.structural = job.structural
    log.info(
        "propagation finished",
        extra={"job_id": str(job.id), "nodes": outcome.nodes, "changed": outcome.changed},
    )
    return outcome
