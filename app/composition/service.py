"""The propagation engine: keep every stored composition equal to a from-scratch computation.

Every write that adds a node or an edge, or corrects an origin or a size, ends by calling
:func:`recompute_from` with the nodes it touched (``app.writes`` runs that sequence). It row-locks
their descendant subgraph (see ``repository.lock_descendants``: writers below it wait, writers
elsewhere do not), recomputes it in topological order in memory with the pure core, and writes
the results back in bulk. A subgraph larger than the configured inline limit is marked stale and
finished by a worker (:func:`run_pending_job`), so a read never presents a stale composition as
current.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from graphlib import TopologicalSorter
from typing import Any, cast

from sqlalchemy import func
from sqlalchemy.orm import Session

from app.artifacts import repository as artifact_repository
from app.composition import repository
from app.composition.contributors import contribution_of, synthetic_credits
from app.composition.core import (
    Composition,
    Kind,
    NodeComposition,
    ParentContribution,
    Relation,
    WeightSource,
    compose,
    weighting,
)
from app.composition.models import PropagationJob
from app.config import get_settings
from app.errors import NotFound

log = logging.getLogger("headwater.propagation")


@dataclass(frozen=True)
class LineageChange:
    """What a recorded write changed: the nodes to recompute from, why, and whether edges or
    nodes were added (``structural``) or only origins and sizes were corrected."""

    roots: tuple[uuid.UUID, ...]
    cause: str
    structural: bool = True

    @classmethod
    def of(
        cls, roots: Iterable[uuid.UUID], cause: str, *, structural: bool = True
    ) -> LineageChange:
        return cls(tuple(dict.fromkeys(roots)), cause, structural)


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


def contribution(edge: repository.IncomingEdge, parent: NodeComposition) -> ParentContribution:
    is_dataset = edge.parent.kind == "dataset"
    return ParentContribution(
        relation=cast(Relation, edge.relation),
        composition=parent.composition,
        amount=edge.amount,
        parent_size=edge.parent.size if is_dataset else None,
        parent_total_amount=None if is_dataset else parent.total_amount,
    )


def stored(state: repository.NodeState) -> NodeComposition:
    assert state.composition is not None
    return NodeComposition(
        composition=Composition.from_json(state.composition),
        total_amount=state.total_amount,
        weights_assumed=state.weights_assumed,
    )


def columns(result: NodeComposition, *, stale: bool = False) -> dict[str, Any]:
    """The stored form of a node's composition (JSON plus the figures lists filter on)."""
    c = result.composition
    return {
        "composition": c.to_json(),
        "total_amount": result.total_amount,
        "weights_assumed": result.weights_assumed,
        "human_fraction": c.human_fraction,
        "synthetic_fraction": c.synthetic_fraction,
        "unknown_fraction": c.unknown_fraction,
        "stale": stale,
    }


def topological_order(
    ids: Iterable[uuid.UUID], edges: Sequence[repository.IncomingEdge]
) -> list[uuid.UUID]:
    """Parents before children, deterministically: the roots sorted, then each node's children in
    the order of its edges. (The cycle check under row locks makes a CycleError unreachable.)"""
    members = set(ids)
    graph: TopologicalSorter[uuid.UUID] = TopologicalSorter()
    for node in sorted(members):
        graph.add(node)
    for edge in edges:
        if edge.parent_id in members:
            graph.add(edge.child_id, edge.parent_id)
    return list(graph.static_order())


def recompute_from(
    session: Session,
    roots: Sequence[uuid.UUID],
    *,
    inline_limit: int | None = None,
    cause: str = "lineage changed",
    structural: bool = True,
) -> Recomputed:
    """Recompute ``roots`` and every descendant, holding them locked until commit.

    ``structural`` (did edges change, or only origins and sizes) travels with a deferred job to
    the training runs it re-judges."""
    if not roots:
        return Recomputed()
    if set(roots) <= artifact_repository.created_here(session):
        # new nodes only: no other writer can reach them, so there is nothing to lock
        nodes = repository.load_descendants(session, roots)
    else:
        nodes = repository.load_nodes(session, repository.lock_descendants(session, roots))
    if inline_limit is not None and len(nodes) > inline_limit:
        repository.mark_stale(session, [n.id for n in nodes])
        job_id = repository.enqueue_job(session, roots, cause, len(nodes), structural)
        log.info(
            "propagation deferred",
            extra={"job_id": str(job_id), "nodes": len(nodes), "cause": cause},
        )
        return Recomputed(nodes=len(nodes), job_id=job_id)

    by_id = {n.id: n for n in nodes}
    incoming = repository.load_incoming(session, list(by_id), outside_only=True)
    edges_into: dict[uuid.UUID, list[repository.IncomingEdge]] = defaultdict(list)
    # a computed composition is kept only until its last child inside the subgraph has used it
    uses_left: dict[uuid.UUID, int] = defaultdict(int)
    for edge in incoming:
        edges_into[edge.child_id].append(edge)
        if edge.parent_id in by_id:
            uses_left[edge.parent_id] += 1

    fresh: dict[uuid.UUID, NodeComposition] = {}
    outside: dict[uuid.UUID, NodeComposition] = {}
    stale: dict[uuid.UUID, bool] = {}
    writer = repository.CompositionWriter(session)
    models: list[uuid.UUID] = []
    for node_id in topological_order(by_id, incoming):
        node = by_id[node_id]
        parents: list[ParentContribution] = []
        node_stale = False
        for edge in edges_into.pop(node_id, ()):
            if edge.parent_id in by_id:
                parent = fresh[edge.parent_id]
                node_stale |= stale[edge.parent_id]
                uses_left[edge.parent_id] -= 1
                if uses_left[edge.parent_id] == 0:
                    del fresh[edge.parent_id]
            else:
                if edge.parent_id not in outside:
                    outside[edge.parent_id] = stored(edge.parent)
                parent = outside[edge.parent_id]
                node_stale |= edge.parent.stale
            parents.append(contribution(edge, parent))
        computed = compose(cast(Kind, node.kind), node.size, node.origin, parents)
        if uses_left[node_id]:
            fresh[node_id] = computed
        stale[node_id] = node_stale
        writer.add({"id": str(node_id), **columns(computed, stale=node_stale)})
        if node.kind == "model":
            models.append(node_id)
    writer.flush()
    # the bulk UPDATE bypasses the ORM: objects already loaded must reload what it wrote
    session.expire_all()
    # After an edge change every model downstream is re-judged: a new edge can bring a
    # previous generation into a training set's ancestry without moving any composition (a
    # `used` edge carries no mass). After an origin or size correction only the ancestry is
    # fixed, so the models whose composition changed are enough.
    if not structural:
        roots_set = set(roots)
        models = [m for m in models if m in writer.changed or m in roots_set]
    return Recomputed(
        nodes=len(nodes),
        changed=len(writer.changed),
        models=models,
    )


def run_pending_job(session: Session) -> Recomputed | None:
    """Finish the oldest deferred propagation, in this session's transaction.

    The job row stays locked and pending until the transaction commits, so a crash part-way
    leaves it pending for the next worker: nothing is half-done.
    """
    job = repository.claim_job(session)
    if job is None:
        return None
    job.started_at = func.clock_timestamp()
    outcome = recompute_from(session, job.roots, cause=job.cause)
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
