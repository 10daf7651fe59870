"""The propagation engine: keep every stored composition equal to a from-scratch computation.

Every write that adds a node or an edge, or corrects an origin or a size, ends by calling
:func:`propagate` with the nodes it touched (``app.writes`` runs that sequence). It row-locks
their descendant subgraph (see ``repository.lock_descendants``: writers below it wait, writers
elsewhere do not), recomputes it in topological order in memory with the pure core
(``passes.recompute``), and writes the results back in bulk. A subgraph larger than the
configured inline limit is marked stale and finished by a worker (``jobs.run_pending_job``).
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import cast

from sqlalchemy.orm import Session

from app.artifacts import repository as artifact_repository
from app.composition import passes, reads, repository
from app.composition.contributors import contribution_of, synthetic_credits
from app.composition.core import Kind, WeightSource, weighting
from app.composition.models import PropagationJob
from app.composition.schemas import PropagationRead
from app.config import get_settings
from app.errors import NotFound
from app.pagination import Page, PageRequest

log = logging.getLogger("headwater.propagation")


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
        # new nodes with nothing below them yet (an edge out of one ends its place in
        # created_here): no other writer can reach them, and they are all there is to recompute
        ids = list(dict.fromkeys(roots))
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

    done = passes.recompute(session, ids)
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
    labels: dict[uuid.UUID, reads.Label]


def explain(session: Session, node_id: uuid.UUID, limit: int) -> Explanation | None:
    """The node's contributors (at most ``limit``) and weights, from one load of the region
    its mass comes from (None when there is no such node)."""
    region = reads.load_mass_region(session, node_id)
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


def listing(
    session: Session, requested: PageRequest, *, status: str | None
) -> Page[PropagationRead]:
    """Propagations, newest first; with ``status``, those in it."""
    return requested.newest_first(
        "propagations",
        lambda after, n: repository.jobs(session, status=status, after=after, limit=n),
        lambda rows: [PropagationRead.model_validate(job) for job in rows],
        lambda j: (j.created_at, j.id),
    )


def propagation(session: Session, job_id: uuid.UUID) -> PropagationJob:
    job = repository.get_job(session, job_id)
    if job is None:
        raise NotFound(f"No propagation has id {job_id}.", missing={"id": str(job_id)})
    return job
