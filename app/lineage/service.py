"""Edges recorded after the fact and the cycle rule."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from app.artifacts import repository as artifact_repository
from app.artifacts import service as artifact_service
from app.artifacts.models import Artifact
from app.auth.core import Principal, require_namespace
from app.composition import repository as composition_repository
from app.composition.service import LineageChange
from app.config import get_settings
from app.errors import Conflict, CycleRefused, InvalidInput, TooManyEdges
from app.lineage import repository
from app.lineage.models import Edge
from app.lineage.schemas import EdgeCreate, EdgeEnd


def within_edge_limit(count: int, what: str) -> None:
    """Refuse, before any work, a request that would create more edges than one request may:
    its locks and its propagation would hold up every writer below the same nodes."""
    limit = get_settings().max_edges_per_request
    if count > limit:
        raise TooManyEdges(
            f"This request would create {count:,} {what}; one request may create at most"
            f" {limit:,} (HEADWATER_MAX_EDGES_PER_REQUEST). Send it in parts.",
            limit=limit,
            requested=count,
        )


def resolve_end(
    session: Session,
    end: EdgeEnd,
    required: str | None,
    field: str,
    relation: str,
    known: artifact_service.Known | None,
) -> Artifact:
    """The version one end of an edge names; the relation fixes the kind of some ends."""
    if required is not None and end.kind is not None and end.kind != required:
        raise InvalidInput.at(
            f"body.{field}.kind",
            "wrong kind",
            f"The {field} of a `{relation}` edge is a {required}, not a {end.kind}.",
        )
    return artifact_service.resolve(session, end, required or end.kind, field=field, known=known)


def record_edge(
    session: Session,
    body: EdgeCreate,
    *,
    actor: Principal,
    known: artifact_service.Known | None = None,
) -> tuple[Edge, LineageChange | None]:
    """Record child ← parent; refuse one that would close a cycle.

    An edge changes what its child is made of, so it is a write to the child's namespace."""
    child_kind, parent_kind = artifact_service.RELATION_KINDS[body.relation]
    child = resolve_end(session, body.child, child_kind, "child", body.relation, known)
    parent = resolve_end(session, body.parent, parent_kind, "parent", body.relation, known)
    require_namespace(actor, child.namespace)
    return connect(session, child, parent, body.relation, body.amount)


def differs(
    existing: Edge, child: Artifact, parent: Artifact, relation: str, amount: float | None
) -> Conflict:
    return Conflict(
        f"{artifact_service.label(child)} ← {artifact_service.label(parent)}"
        f" ({relation}) is already recorded with amount {existing.amount}, not {amount}.",
        differences={"amount": {"recorded": existing.amount, "posted": amount}},
        existing_id=str(existing.id),
    )


def connect(
    session: Session,
    child: Artifact,
    parent: Artifact,
    relation: str,
    amount: float | None,
    *,
    amount_may_change: bool = False,
) -> tuple[Edge, LineageChange | None]:
    """The edge child ← parent, recorded once, and what to propagate (None: nothing changed).

    ``amount_may_change`` lets a later report replace an edge's amount (OpenLineage's rule that
    a facet sent again replaces the earlier one); natively, a different amount is a conflict.

    Locks: a child this transaction created is a leaf no one else can reach, so its edge closes
    no cycle and needs only its parent locked ``FOR SHARE`` (``lock_for_reading``). Otherwise
    the child and all its descendants are locked for update, and the parent for reading, before
    the cycle check: two writers closing one cycle from both ends each lock for update the other's
    parent (it is downstream of their own child), so the second waits for the first to commit and
    then sees its edge.
    """
    existing = repository.find(session, child.id, parent.id, relation)
    if existing is not None and (existing.amount == amount or amount is None):
        if existing.amount != amount and not amount_may_change:
            raise differs(existing, child, parent, relation, amount)
        return existing, None  # recorded already, and edges are not removed: nothing to lock
    held: list[uuid.UUID] | None = None  # the child's subgraph, when it had to be locked
    if child.id in artifact_repository.created_here(session):
        composition_repository.lock_for_reading(session, [parent.id])
    else:
        # the child's subgraph, then the parent only for reading: a popular input stays open to
        # every other writer that reads it; propagation takes the subgraph as locked here (an
        # edge into the child adds nothing below it)
        held = composition_repository.lock_descendants(session, [child.id])
        composition_repository.lock_for_reading(session, [parent.id])
        existing = repository.find(session, child.id, parent.id, relation)
    if existing is not None:
        if existing.amount != amount and amount_may_change and amount is not None:
            existing.amount = amount
            session.flush()
            why = f"amount of an edge into {artifact_service.label(child)} changed"
            return existing, LineageChange.of([child.id], why, structural=False, locked=held)
        if existing.amount != amount and not amount_may_change:
            raise differs(existing, child, parent, relation, amount)
        return existing, None
    refuse_cycle(session, child, parent)
    edge = Edge(child_id=child.id, parent_id=parent.id, relation=relation, amount=amount)
    repository.add(session, [edge])
    why = f"edge {artifact_service.label(child)} ← {artifact_service.label(parent)} added"
    return edge, LineageChange.of([child.id], why, locked=held)


def refuse_cycle(session: Session, child: Artifact, parent: Artifact) -> None:
    """Refuse child ← parent when child is upstream of parent (the caller holds the locks
    ``connect`` describes)."""
    cycle = repository.path_between(session, child.id, parent.id)
    if cycle is not None:
        named = artifact_repository.many(session, cycle)
        path = [artifact_service.label(named[node]) for node in cycle]
        raise CycleRefused(
            f"{artifact_service.label(child)} ← {artifact_service.label(parent)} would close a"
            f" cycle: {' → '.join(path)} → {path[0]}.",
            path=path,
        )
