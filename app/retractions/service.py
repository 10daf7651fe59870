"""Retractions: lineage declared wrong leaves the live graph, and stays readable as retracted.

Retracting an edge, or a version with every edge into and out of it, recomputes every
descendant and re-judges every training run downstream with the retraction as the cause. A
retracted model version's own training run is no longer judged (its verdict becomes null): its
training did not produce a model anyone should rely on. Nothing is deleted.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy.orm import Session

from app.artifacts import repository as artifact_repository
from app.artifacts import service as artifact_service
from app.artifacts.models import Artifact
from app.auth.core import Principal, require_namespace
from app.composition import repository as composition_repository
from app.composition.service import LineageChange
from app.db import row_as
from app.errors import NotFound
from app.lineage.models import Edge
from app.pagination import Page, PageRequest
from app.retractions import repository
from app.retractions.models import RetractedEdge, Retraction
from app.retractions.schemas import (
    RetractedEdgeRead,
    RetractedVersion,
    RetractionRead,
)


def retract_version(
    session: Session, artifact: Artifact, reason: str, *, retracted_by: str | None = None
) -> tuple[Retraction, list[uuid.UUID], list[uuid.UUID], bool]:
    """Retract a version: (its retraction, the nodes to recompute, the subgraph locked for
    them, whether it is new).

    The nodes are the version itself (now without parents) and its former children; the
    caller propagates from them and re-judges what they reach (``app.writes``), which withdraws
    a retracted model's verdict (``app.training.service.refresh``). The locked subgraph, the
    version and everything that was below it, is everything below them still."""
    existing = repository.of_versions(session, [artifact.id]).get(artifact.id)
    if existing is not None:
        return existing, [], [], False
    # the version and everything below it, before its edges leave: a writer adding a child
    # meanwhile waits, and one that did is found (see lock_descendants)
    held = composition_repository.lock_descendants(session, [artifact.id])
    retraction = repository.add(
        session, Retraction(artifact_id=artifact.id, reason=reason, retracted_by=retracted_by)
    )
    edges = repository.live_edges_of(session, artifact.id)
    roots = list(dict.fromkeys([artifact.id, *(e.child_id for e in edges)]))
    repository.move(session, retraction.id, edges)
    return retraction, roots, held, True


def retract_edge(
    session: Session, edge: Edge, reason: str, *, retracted_by: str | None = None
) -> tuple[Retraction, LineageChange]:
    """Retract one edge; its child and everything downstream are to be recomputed."""
    child_id = edge.child_id
    held = composition_repository.lock_descendants(session, [child_id])
    retraction = repository.add(session, Retraction(reason=reason, retracted_by=retracted_by))
    repository.move(session, retraction.id, [edge])
    why = f"edge {edge.id} retracted: {reason}"
    return retraction, LineageChange.of([child_id], why, locked=held)


def withheld(
    session: Session,
    child: Artifact,
    parent: Artifact,
    relation: str,
    amount: float | None,
    amount_source: str | None = None,
) -> bool:
    """Whether an edge a pipeline reports must stay out of the live graph: it was retracted,
    or joins a retracted version (then it is kept among that version's retracted edges)."""
    return withheld_many(session, [ReportedEdge(child, parent, relation, amount, amount_source)])[0]


@dataclass(frozen=True)
class ReportedEdge:
    child: Artifact
    parent: Artifact
    relation: str
    amount: float | None
    amount_source: str | None = None


def withheld_many(session: Session, edges: Sequence[ReportedEdge]) -> list[bool]:
    """``withheld`` for each of many edges, in two queries at most: no edge into a version
    this transaction created can have been retracted yet."""
    if not edges:
        return []
    new_here = artifact_repository.created_here(session)
    retracted = repository.retracted_among(
        session,
        [(e.child.id, e.parent.id, e.relation) for e in edges if e.child.id not in new_here],
    )
    versions = repository.of_versions(
        session, list({a.id for e in edges for a in (e.child, e.parent)})
    )
    answers: list[bool] = []
    kept: list[RetractedEdge] = []
    for e in edges:
        if (e.child.id, e.parent.id, e.relation) in retracted:
            answers.append(True)
            continue
        retraction = versions.get(e.child.id) or versions.get(e.parent.id)
        answers.append(retraction is not None)
        if retraction is not None:
            kept.append(
                RetractedEdge(
                    id=uuid.uuid4(),
                    retraction_id=retraction.id,
                    child_id=e.child.id,
                    parent_id=e.parent.id,
                    relation=e.relation,
                    amount=e.amount,
                    amount_source=e.amount_source,
                    created_at=func.clock_timestamp(),
                )
            )
    repository.keep(session, kept)
    return answers


def record_version_retraction(
    session: Session, artifact_id: uuid.UUID, kind: str, reason: str, *, actor: Principal
) -> tuple[tuple[Retraction, bool], LineageChange | None]:
    """A client's retraction of a version in a namespace its token may write."""
    artifact = artifact_service.get_or_404(session, artifact_id, kind)
    require_namespace(actor, artifact.namespace)
    retraction, roots, held, created = retract_version(
        session, artifact, reason, retracted_by=actor.name
    )
    why = f"{artifact_service.label(artifact)} retracted: {reason}"
    return (retraction, created), LineageChange.of(roots, why, locked=held) if roots else None


def record_edge_retraction(
    session: Session, edge_id: uuid.UUID, reason: str, *, actor: Principal
) -> tuple[tuple[Retraction, bool], LineageChange | None]:
    """A client's retraction of an edge into a namespace its token may write (the child's, as
    for recording an edge)."""
    edge = session.get(Edge, edge_id)
    if edge is None:
        kept = session.get(RetractedEdge, edge_id)
        if kept is not None:
            found = repository.get(session, kept.retraction_id)
            assert found is not None
            return (found, False), None
        raise NotFound(f"No edge has id {edge_id}.", missing={"id": str(edge_id)})
    child = artifact_repository.get(session, edge.child_id)
    assert child is not None  # an edge's ends are recorded versions
    require_namespace(actor, child.namespace)
    retraction, change = retract_edge(session, edge, reason, retracted_by=actor.name)
    return (retraction, True), change


def reads(session: Session, retractions: Sequence[Retraction]) -> list[RetractionRead]:
    edges: dict[uuid.UUID, list[RetractedEdgeRead]] = {}
    for edge in repository.edges_of(session, [r.id for r in retractions]):
        edges.setdefault(edge.retraction_id, []).append(RetractedEdgeRead.model_validate(edge))
    versions = artifact_repository.many(
        session, [r.artifact_id for r in retractions if r.artifact_id is not None]
    )
    out: list[RetractionRead] = []
    for r in retractions:
        version = versions.get(r.artifact_id) if r.artifact_id is not None else None
        out.append(
            row_as(
                RetractionRead,
                r,
                version=RetractedVersion.model_validate(version) if version is not None else None,
                edges=edges.get(r.id, []),
            )
        )
    return out


def get(session: Session, retraction_id: uuid.UUID) -> RetractionRead:
    found = repository.get(session, retraction_id)
    if found is None:
        raise NotFound(f"No retraction has id {retraction_id}.", missing={"id": str(retraction_id)})
    return reads(session, [found])[0]


def listing(
    session: Session, requested: PageRequest, *, artifact_id: uuid.UUID | None
) -> Page[RetractionRead]:
    """Retractions, newest first; with ``artifact_id``, those of a version or its edges."""
    return requested.newest_first(
        "retractions",
        lambda after, n: repository.page(session, artifact_id=artifact_id, after=after, limit=n),
        lambda rows: reads(session, rows),
        lambda r: (r.created_at, r.id),
    )
