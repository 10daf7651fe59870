"""Reads that cross domains: a version as the API shows it, with its retraction and, for a
model, its training run; its composition with the ancestors that make it synthetic; the lineage
graph around it. Each domain reads its own tables; the composition of their reads happens
here, above all of them (as ``app.writes`` holds the write sequence)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Literal

from sqlalchemy.orm import Session

from app.artifacts import reads as artifact_reads
from app.artifacts import repository as artifact_repository
from app.artifacts import service as artifact_service
from app.artifacts.models import Artifact
from app.artifacts.schemas import DatasetRead, Kind, ModelRead
from app.composition import service as composition_service
from app.composition.core import Composition
from app.composition.reads import Label
from app.composition.schemas import (
    CompositionDetail,
    Contributor,
    WeightRead,
    composition_summary,
)
from app.db import row_as
from app.errors import NotFound
from app.lineage import reads as lineage_reads
from app.lineage import repository as lineage_repository
from app.lineage import symlinks
from app.lineage.schemas import LineageGraph, LineageNode
from app.pagination import Page, PageRequest
from app.retractions import repository as retraction_repository
from app.training import service as training_service


def versions(
    session: Session, kind: Kind, artifacts: Sequence[Artifact]
) -> list[DatasetRead | ModelRead]:
    """The versions, each retracted one with its retraction (one query for all), each model
    with its training run's id (one more)."""
    ids = [a.id for a in artifacts]
    retracted = retraction_repository.of_versions(session, ids)
    runs = training_service.run_ids(session, ids) if kind == "model" else {}
    return [
        artifact_reads.version_read(
            a, retraction=retracted.get(a.id), training_run_id=runs.get(a.id)
        )
        for a in artifacts
    ]


def version(session: Session, kind: Kind, artifact_id: uuid.UUID) -> DatasetRead | ModelRead:
    """One version, or the 404: one query for a dataset, two for a model."""
    artifact, retraction = artifact_reads.version_or_404(session, artifact_id, kind)
    runs = training_service.run_ids(session, [artifact.id]) if kind == "model" else {}
    return artifact_reads.version_read(
        artifact, retraction=retraction, training_run_id=runs.get(artifact.id)
    )


def composition_detail(
    session: Session, artifact_id: uuid.UUID, kind: str, limit: int
) -> CompositionDetail:
    """A version's composition, its contributors (at most ``limit``) and weights; or the 404."""
    explained = composition_service.explain(session, artifact_id, limit)
    if explained is None or explained.node.kind != kind:
        raise NotFound(f"No {kind} version has id {artifact_id}.", missing={"id": str(artifact_id)})
    node = explained.node
    assert node.composition is not None, "the region's node comes with its vector"
    summary = composition_summary(
        Composition.from_json(node.composition),
        node.total_amount,
        weights_assumed=node.weights_assumed,
        stale=node.stale,
    )
    return CompositionDetail(
        **summary.model_dump(),
        weights=[
            WeightRead(
                parent_id=w.parent_id,
                relation=w.relation,
                weight=w.weight,
                source=(w.amount_source or "amount") if w.source == "amount" else w.source,
            )
            for w in explained.weights
        ],
        contributors=[
            contributor(explained.labels[node], share) for node, share in explained.contributors
        ],
    )


def contributor(found: Label, share: float) -> Contributor:
    """An ancestor that brings synthetic mass, and how synthetic the data it brings in is. A
    dataset brings its own mixture; a model contributes as a generator, and what it generates
    is synthetic, however human its own training data (only the part whose origin is unknown
    stays unknown)."""
    entering = 1.0 - found.unknown_fraction if found.kind == "model" else found.synthetic_fraction
    return Contributor.model_validate(
        {**found._asdict(), "synthetic_share": share, "synthetic_fraction": entering}
    )


def lineage(
    session: Session,
    start_id: uuid.UUID,
    kind: str,
    direction: Literal["upstream", "downstream"],
    depth: int,
    max_nodes: int,
) -> LineageGraph:
    """The versions within ``depth`` hops of a version (at most ``max_nodes``, nearest first),
    each with its composition's summary, and the edges among them; or the 404."""
    artifact_service.get_or_404(session, start_id, kind)
    reached, edges, truncated = lineage_repository.walk(
        session, start_id, upstream=direction == "upstream", depth=depth, max_nodes=max_nodes
    )
    found = artifact_repository.many(session, [node for node, _ in reached])
    nodes = [
        row_as(
            LineageNode,
            found[node],
            distance=distance,
            composition=artifact_reads.composition_read(found[node]),
        )
        for node, distance in reached
    ]
    return LineageGraph(
        root=start_id,
        direction=direction,
        depth=depth,
        truncated=truncated,
        nodes=nodes,
        edges=[lineage_reads.edge_read(e) for e in edges],
    )


def listing(
    session: Session,
    kind: Kind,
    requested: PageRequest,
    *,
    namespace: str | None,
    name: str | None,
    version: str | None,
) -> Page[DatasetRead | ModelRead]:
    """Versions of ``kind`` matching the parts of the natural key given, newest first, as
    :func:`versions` shows them; a namespace and name may be any identifier of a symlinked
    version."""
    if namespace is not None and name is not None:
        namespace, name = symlinks.canonical_name(session, kind, namespace, name)
    return requested.newest_first(
        f"{kind}s",
        lambda after, n: artifact_reads.page(
            session, kind, after, n, namespace=namespace, name=name, version=version
        ),
        lambda rows: versions(session, kind, rows),
        lambda artifact: (artifact.created_at, artifact.id),
    )
