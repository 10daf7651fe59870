"""Edges recorded after the fact, the cycle rule, and ancestry walks."""

from __future__ import annotations

import uuid
from typing import Literal

from sqlalchemy.orm import Session

from app.artifacts import repository as artifact_repository
from app.artifacts import service as artifact_service
from app.artifacts.models import Artifact
from app.audit import service as audit
from app.auth.core import Principal, require_namespace
from app.composition import service as composition_service
from app.db import lock_lineage_writes
from app.errors import Conflict, CycleRefused, InvalidInput
from app.lineage import repository
from app.lineage.models import Edge
from app.lineage.schemas import EdgeCreate, EdgeEnd, EdgeRead, LineageGraph, LineageNode


def end_kind(end: EdgeEnd, required: str | None, field: str, relation: str) -> str | None:
    if required is not None and end.kind is not None and end.kind != required:
        raise InvalidInput(
            f"The {field} of a `{relation}` edge is a {required}, not a {end.kind}.",
            errors=[{"loc": f"body.{field}.kind", "msg": "wrong kind", "type": "value_error"}],
        )
    return required or end.kind


def add_edge(session: Session, body: EdgeCreate, *, actor: Principal) -> tuple[Edge, bool]:
    """Record child ← parent; refuse one that would close a cycle; propagate downstream.

    An edge changes what its child is made of, so it is a write to the child's namespace."""
    lock_lineage_writes(session)
    child_kind, parent_kind = artifact_service.RELATION_KINDS[body.relation]
    child = artifact_service.resolve(
        session, body.child, end_kind(body.child, child_kind, "child", body.relation), field="child"
    )
    parent = artifact_service.resolve(
        session,
        body.parent,
        end_kind(body.parent, parent_kind, "parent", body.relation),
        field="parent",
    )
    require_namespace(actor, child.namespace)
    edge, is_new = connect(session, child, parent, body.relation, body.amount)
    if is_new:
        audit.record(
            session,
            actor.name,
            "edge.create",
            body.model_dump(mode="json", exclude_unset=True, by_alias=True),
        )
    return edge, is_new


def connect(
    session: Session,
    child: Artifact,
    parent: Artifact,
    relation: str,
    amount: float | None,
    *,
    propagate: bool = True,
    amount_may_change: bool = False,
) -> tuple[Edge, bool]:
    """The edge child ← parent, recorded once; the caller holds the lineage write lock.

    With ``propagate=False`` the caller runs the propagation itself, once for a whole batch of
    writes. ``amount_may_change`` lets a later report replace an edge's amount (OpenLineage's
    rule that a facet sent again replaces the earlier one); natively, a different amount is a
    conflict.
    """
    existing = repository.find(session, child.id, parent.id, relation)
    if existing is not None:
        if existing.amount != amount and amount_may_change and amount is not None:
            existing.amount = amount
            session.flush()
            if propagate:
                composition_service.lineage_changed(
                    session,
                    [child.id],
                    cause=f"amount of an edge into {artifact_service.label(child)} changed",
                )
            return existing, False
        if existing.amount != amount and not amount_may_change:
            raise Conflict(
                f"{artifact_service.label(child)} ← {artifact_service.label(parent)}"
                f" ({relation}) is already recorded with amount {existing.amount}, not {amount}.",
                differences={"amount": {"recorded": existing.amount, "posted": amount}},
                existing_id=str(existing.id),
            )
        return existing, False
    cycle = repository.path_between(session, child.id, parent.id)
    if cycle is not None:
        named = artifact_repository.many(session, cycle)
        path = [artifact_service.label(named[node]) for node in cycle]
        raise CycleRefused(
            f"{artifact_service.label(child)} ← {artifact_service.label(parent)} would close a"
            f" cycle: {' → '.join(path)} → {path[0]}.",
            path=path,
        )
    edge = Edge(child_id=child.id, parent_id=parent.id, relation=relation, amount=amount)
    repository.add(session, [edge])
    if propagate:
        composition_service.lineage_changed(
            session,
            [child.id],
            cause=f"edge {artifact_service.label(child)} ← {artifact_service.label(parent)} added",
        )
    return edge, True


def edge_read(edge: Edge) -> EdgeRead:
    return EdgeRead(
        id=edge.id,
        child_id=edge.child_id,
        parent_id=edge.parent_id,
        relation=edge.relation,
        amount=edge.amount,
        created_at=edge.created_at,
    )


def lineage(
    session: Session,
    start_id: uuid.UUID,
    kind: str,
    direction: Literal["upstream", "downstream"],
    depth: int,
    max_nodes: int,
) -> LineageGraph:
    artifact_service.get_or_404(session, start_id, kind)
    reached, edges, truncated = repository.walk(
        session, start_id, upstream=direction == "upstream", depth=depth, max_nodes=max_nodes
    )
    found = artifact_repository.many(session, [node for node, _ in reached])
    nodes = [
        LineageNode(
            id=node,
            kind=found[node].kind,
            namespace=found[node].namespace,
            name=found[node].name,
            version=found[node].version,
            distance=distance,
            composition=artifact_service.composition_read(found[node]),
        )
        for node, distance in reached
    ]
    return LineageGraph(
        root=start_id,
        direction=direction,
        depth=depth,
        truncated=truncated,
        nodes=nodes,
        edges=[edge_read(e) for e in edges],
    )
