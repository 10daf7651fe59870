"""The propagation engine: keep every stored composition equal to a from-scratch computation.

Every write that adds a node or an edge, or corrects an origin or a size, ends by calling
:func:`recompute_from` with the nodes it touched (``app.writes`` runs that sequence). It row-locks
their descendant subgraph (see ``repository.lock_descendants``: writers below it wait, writers
elsewhere do not), recomputes it in topological order in memory with the pure core, and writes
the results back in bulk. A subgraph larger than the configured inline limit is marked stale and
finished by a worker (:func:`run_pending_job`), level by level in transactions of their own
(:func:`recompute_in_chunks`), so a read never presents a stale composition as current and a
writer below it waits for one chunk, not for the whole job.
"""

from __future__ import annotations

import logging
import math
import random
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from graphlib import TopologicalSorter
from typing import TypeVar, cast

import orjson
from sqlalchemy import func
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.artifacts import repository as artifact_repository
from app.composition import repository
from app.composition.contributors import contribution_of, synthetic_credits
from app.composition.core import (
    MASS_RELATIONS,
    Composition,
    Kind,
    NodeComposition,
    Relation,
    WeightSource,
    compose_streamed,
    weighting,
)
from app.composition.models import PropagationJob
from app.config import get_settings
from app.db import json_dumps
from app.errors import NotFound

log = logging.getLogger("headwater.propagation")

T = TypeVar("T")

# Nodes a deferred job recomputes per transaction (whole levels, so a chunk may hold more).
CHUNK_NODES = 5_000
# Rounds of the last sweep for nodes that turned stale while a job ran.
SWEEPS = 5
# SQLSTATEs after which a chunk can simply run again: deadlock_detected, serialization_failure
RETRYABLE = frozenset({"40P01", "40001"})
ATTEMPTS = 20


@dataclass(frozen=True)
class LineageChange:
    """What a recorded write changed: the nodes to recompute from, why, and whether edges or
    nodes were added (``structural``) or only origins and sizes were corrected. ``locked`` is the
    roots' whole descendant subgraph when the record step has locked it already
    (``repository.lock_descendants``) and changed nothing below the roots since: propagation
    then takes it as it is instead of walking and locking it again."""

    roots: tuple[uuid.UUID, ...]
    cause: str
    structural: bool = True
    locked: tuple[uuid.UUID, ...] | None = None

    @classmethod
    def of(
        cls,
        roots: Iterable[uuid.UUID],
        cause: str,
        *,
        structural: bool = True,
        locked: Iterable[uuid.UUID] | None = None,
    ) -> LineageChange:
        return cls(
            tuple(dict.fromkeys(roots)),
            cause,
            structural,
            None if locked is None else tuple(locked),
        )


@dataclass
class Recomputed:
    """What a propagation did: how many nodes it recomputed and changed, and the model versions
    whose training runs it may have changed, in topological order; for a deferred job, its id
    and what its change was, which the re-judging of those runs needs."""

    nodes: int = 0
    changed: int = 0
    models: list[uuid.UUID] = field(default_factory=list)
    job_id: uuid.UUID | None = None
    cause: str = "lineage changed"
    structural: bool = True


def stored_row(
    node_id: uuid.UUID, result: NodeComposition, stale: bool
) -> repository.CompositionRow:
    """The stored form of a node's composition (JSON plus the figures lists filter on)."""
    c = result.composition
    return repository.CompositionRow(
        id=node_id,
        composition=json_dumps(c.to_json()),
        total_amount=result.total_amount,
        weights_assumed=result.weights_assumed,
        human_fraction=c.human_fraction,
        synthetic_fraction=c.synthetic_fraction,
        unknown_fraction=c.unknown_fraction,
        stale=stale,
    )


@dataclass(frozen=True, slots=True)
class Written:
    """A composition a job wrote, as it left it (in its stored JSON form, which takes a third of
    the memory of the parsed one): a child in a later chunk may use it as long as the stored row
    still carries the same write time and stale flag."""

    composition: str
    total_amount: float | None
    weights_assumed: bool
    updated_at: datetime
    stale: bool


# Stored compositions this short (a handful of buckets: all human, all unknown, a declared
# origin) recur across a graph; equal ones parsed in one pass share one object.
SHARED_BELOW = 256


def parsed(stored_json: str, shared: dict[str, Composition]) -> Composition:
    """A stored composition's JSON text as a composition; short ones parsed once per pass."""
    if len(stored_json) > SHARED_BELOW:
        return Composition.from_json(orjson.loads(stored_json))
    found = shared.get(stored_json)
    if found is None:
        found = shared[stored_json] = Composition.from_json(orjson.loads(stored_json))
    return found


@dataclass
class Pass:
    """What recomputing one set of nodes did."""

    nodes: int = 0
    changed: set[uuid.UUID] = field(default_factory=set)
    models: list[uuid.UUID] = field(default_factory=list)
    written: dict[uuid.UUID, Written] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ParentFigures:
    """What weighing one edge needs (a :class:`~app.composition.core.ParentEdge`)."""

    relation: Relation
    amount: float | None
    parent_size: float | None
    parent_total_amount: float | None


class Outside:
    """The stored compositions of the parents outside a pass, as JSON text until a child needs
    one; a parsed one is kept only while more children will need it, and each is dropped after
    its last use. A node with 50,000 parents outside then holds their texts, not 50,000 parsed
    compositions."""

    def __init__(self) -> None:
        self.texts: dict[uuid.UUID, tuple[str, float | None, bool]] = {}
        self.uses: dict[uuid.UUID, int] = defaultdict(int)
        self.parsed: dict[uuid.UUID, Composition] = {}
        self.shared: dict[str, Composition] = {}

    def total_amount(self, parent_id: uuid.UUID) -> float | None:
        return self.texts[parent_id][1]

    def composition(self, parent_id: uuid.UUID) -> Composition:
        found = self.parsed.get(parent_id)
        if found is None:
            found = parsed(self.texts[parent_id][0], self.shared)
            if self.uses[parent_id] > 1:
                self.parsed[parent_id] = found
        return found

    def used(self, parent_id: uuid.UUID) -> None:
        self.uses[parent_id] -= 1
        if self.uses[parent_id] == 0:
            del self.uses[parent_id], self.texts[parent_id]
            self.parsed.pop(parent_id, None)


def recompute(
    session: Session,
    ids: Sequence[uuid.UUID],
    *,
    known: dict[uuid.UUID, Written] | None = None,
    keep: Container[uuid.UUID] = (),
) -> Pass:
    """Recompute the given nodes (locked by the caller) from their parents, in topological order.

    A parent outside ``ids`` is read as stored, unless ``known`` holds what this job wrote for it
    and nobody has rewritten it since. The results for the nodes in ``keep`` are returned (for
    later passes of the same job); the others are dropped once their last child here used them.
    """
    nodes, edges = repository.load_chunk(session, ids)
    edges_into: list[list[repository.ChunkEdge]] = [[] for _ in ids]
    uses_left = [0] * len(ids)
    outside = Outside()
    missing: set[uuid.UUID] = set()
    graph: TopologicalSorter[int] = TopologicalSorter()
    for ix in range(len(ids)):
        graph.add(ix)
    for edge in edges:
        edges_into[edge.child_index].append(edge)
        if edge.parent_index is not None:
            uses_left[edge.parent_index] += 1
            graph.add(edge.child_index, edge.parent_index)
            continue
        outside.uses[edge.parent_id] += 1
        if edge.parent_id in outside.texts or edge.parent_id in missing:
            continue
        hit = known.get(edge.parent_id) if known is not None else None
        if (
            hit is not None
            and hit.updated_at == edge.parent_updated_at
            and hit.stale == edge.parent_stale
        ):
            outside.texts[edge.parent_id] = (
                hit.composition,
                hit.total_amount,
                hit.weights_assumed,
            )
        else:
            missing.add(edge.parent_id)
    for parent_id, composition, total, assumed in repository.load_compositions(
        session, list(missing)
    ):
        outside.texts[parent_id] = (composition, total, assumed)
    del missing, edges

    done = Pass()
    fresh: dict[int, tuple[NodeComposition, bool]] = {}
    writer = repository.CompositionWriter(session)
    kept: dict[int, tuple[repository.CompositionRow, bool]] = {}

    def compositions(into: list[repository.ChunkEdge]) -> Iterator[Composition]:
        for edge in into:
            if edge.relation not in MASS_RELATIONS:
                continue
            if edge.parent_index is not None:
                yield fresh[edge.parent_index][0].composition
            else:
                yield outside.composition(edge.parent_id)

    for ix in graph.static_order():
        node = nodes[ix]
        into = edges_into[ix]
        edges_into[ix] = []
        if node is None:  # gone since it was found
            continue
        figures: list[ParentFigures] = []
        node_stale = False
        for edge in into:
            if edge.parent_index is not None:
                parent, parent_stale = fresh[edge.parent_index]
                total = parent.total_amount
            else:
                total, parent_stale = outside.total_amount(edge.parent_id), edge.parent_stale
            node_stale |= parent_stale
            is_dataset = edge.parent_kind == "dataset"
            figures.append(
                ParentFigures(
                    relation=cast(Relation, edge.relation),
                    amount=edge.amount,
                    parent_size=edge.parent_size if is_dataset else None,
                    parent_total_amount=None if is_dataset else total,
                )
            )
        computed = compose_streamed(
            cast(Kind, node.kind), node.size, node.origin, figures, compositions(into)
        )
        for edge in into:
            if edge.parent_index is None:
                outside.used(edge.parent_id)
                continue
            uses_left[edge.parent_index] -= 1
            if uses_left[edge.parent_index] == 0:
                del fresh[edge.parent_index]
        if uses_left[ix]:
            fresh[ix] = (computed, node_stale)
        row = stored_row(node.id, computed, node_stale)
        if node.id in keep:
            kept[ix] = (row, node_stale)
        writer.add(row)
        done.nodes += 1
        if node.kind == "model":
            done.models.append(node.id)
    writer.flush()
    done.changed = set(writer.changed)
    for ix, (row, stale) in kept.items():
        node = nodes[ix]
        assert node is not None
        updated_at = writer.changed.get(node.id, node.updated_at)
        done.written[node.id] = Written(
            row.composition, row.total_amount, row.weights_assumed, updated_at, stale
        )
    return done


def recompute_from(
    session: Session,
    roots: Sequence[uuid.UUID],
    *,
    inline_limit: int | None = None,
    cause: str = "lineage changed",
    structural: bool = True,
    locked: Sequence[uuid.UUID] | None = None,
) -> Recomputed:
    """Recompute ``roots`` and every descendant, holding them locked until commit (``locked``:
    they are, and these are all of them).

    ``structural`` (did edges change, or only origins and sizes) travels with a deferred job to
    the training runs it re-judges."""
    if not roots:
        return Recomputed()
    if locked is not None:
        ids = list(locked)
    elif set(roots) <= artifact_repository.created_here(session):
        # new nodes only: no other writer can reach them, so there is nothing to lock
        ids = repository.descendant_ids(session, roots)
    else:
        ids = repository.lock_descendants(session, roots)
    if inline_limit is not None and len(ids) > inline_limit:
        repository.mark_stale(session, ids)
        job_id = repository.enqueue_job(session, roots, cause, len(ids), structural)
        log.info(
            "propagation deferred",
            extra={"job_id": str(job_id), "nodes": len(ids), "cause": cause},
        )
        return Recomputed(nodes=len(ids), job_id=job_id)

    done = recompute(session, ids)
    # the bulk UPDATE bypasses the ORM: objects already loaded must reload what it wrote
    session.expire_all()
    models = done.models
    # After an edge change every model downstream is re-judged: a new edge can bring a
    # previous generation into a training set's ancestry without moving any composition (a
    # `used` edge carries no mass). After an origin or size correction only the ancestry is
    # fixed, so the models whose composition changed are enough.
    if not structural:
        roots_set = set(roots)
        models = [m for m in models if m in done.changed or m in roots_set]
    return Recomputed(nodes=done.nodes, changed=len(done.changed), models=models)


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
            return recompute(session, chunk, known=known, keep=last_use)

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


def propagate(session: Session, change: LineageChange) -> Recomputed:
    """After a lineage write: bring every composition downstream up to date (or mark it stale
    and queue the work when the subgraph is over the inline limit)."""
    return recompute_from(
        session,
        change.roots,
        inline_limit=get_settings().propagation_inline_limit,
        cause=change.cause,
        structural=change.structural,
        locked=change.locked,
    )


@dataclass(frozen=True)
class Weight:
    """How much one parent edge weighed in a node's composition, and where that came from."""

    parent_id: uuid.UUID
    relation: str
    weight: float
    source: WeightSource
    amount_source: str | None  # the facet field an edge's own amount was read from


@dataclass(frozen=True)
class Explanation:
    """Why a node's composition is what it is: the ancestors that bring its synthetic mass
    (each with its share of it, largest first) and the weight of each mass-carrying parent;
    with the node's stored state and what names each node named."""

    node: repository.NodeState
    contributors: list[tuple[uuid.UUID, float]]
    weights: list[Weight]
    labels: dict[uuid.UUID, repository.Label]


def explain(session: Session, node_id: uuid.UUID, limit: int) -> Explanation | None:
    """The node's contributors (at most ``limit``) and weights, from one load of the region
    its mass comes from (None when there is no such node)."""
    region = repository.load_mass_region(session, node_id)
    if region is None:
        return None
    credits = synthetic_credits(node_id, region.nodes, region.incoming)
    return Explanation(
        region.target,
        ranked_contributors(credits, limit),
        node_weights(region.target, region.incoming.get(node_id, [])),
        region.labels,
    )


def ranked_contributors(
    credits: dict[uuid.UUID, float], limit: int
) -> list[tuple[uuid.UUID, float]]:
    total = math.fsum(credits.values())
    if total == 0.0:
        return []
    ranked = sorted(credits.items(), key=lambda item: (-item[1], str(item[0])))
    return [(node, credit / total) for node, credit in ranked[:limit]]


def node_weights(
    node: repository.NodeState, edges: Sequence[repository.IncomingEdge]
) -> list[Weight]:
    """The weights ``compose`` gave each mass-carrying parent of a node, with their sources."""
    mixed = weighting(cast(Kind, node.kind), node.size, [contribution_of(e) for e in edges])
    return [
        Weight(edge.parent_id, edge.relation, weight, source, edge.amount_source)
        for edge, weight, source in zip(edges, mixed.parents, mixed.sources, strict=True)
        if source is not None
    ]


def propagations(
    session: Session,
    *,
    status: str | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[PropagationJob]:
    """Propagation jobs, newest first, after a position."""
    return repository.jobs(session, status=status, after=after, limit=limit)


def propagation(session: Session, job_id: uuid.UUID) -> PropagationJob:
    job = repository.get_job(session, job_id)
    if job is None:
        raise NotFound(f"No propagation has id {job_id}.", missing={"id": str(job_id)})
    return job
