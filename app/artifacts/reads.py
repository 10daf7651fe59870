"""Dataset and model versions as the API shows them."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from app.artifacts import repository
from app.artifacts.models import Artifact
from app.artifacts.schemas import DatasetRead, Kind, ModelRead, OriginRead, RetractionRef
from app.composition import service as composition_service
from app.composition.core import Composition
from app.composition.reads import Label
from app.composition.schemas import (
    CompositionDetail,
    CompositionRead,
    Contributor,
    WeightRead,
    composition_summary,
)
from app.errors import NotFound
from app.retractions import repository as retraction_repository
from app.retractions.models import Retraction


def composition_read(artifact: Artifact) -> CompositionRead:
    return composition_summary(
        Composition.from_json(artifact.composition),
        artifact.total_amount,
        weights_assumed=artifact.weights_assumed,
        stale=artifact.composition_stale,
    )


def origin_read(artifact: Artifact) -> OriginRead | None:
    if artifact.origin_human is None:
        return None
    return OriginRead(
        human=artifact.origin_human,
        synthetic=artifact.origin_synthetic or 0.0,
        unknown=artifact.origin_unknown or 0.0,
        synthetic_depth=artifact.origin_synthetic_depth or 1,
        digitalSourceType=artifact.origin_digital_source_type,
        declared_by=artifact.origin_declared_by,
        declared_at=artifact.origin_declared_at,
    )


def version_read(
    artifact: Artifact,
    *,
    retraction: Retraction | None = None,
    training_run_id: uuid.UUID | None = None,
) -> DatasetRead | ModelRead:
    """One version: the columns every kind shows, the dataset's own, or the model's run."""
    common = {
        "id": artifact.id,
        "kind": artifact.kind,
        "namespace": artifact.namespace,
        "name": artifact.name,
        "version": artifact.version,
        "created_at": artifact.created_at,
        "description": artifact.description,
        "composition": composition_read(artifact),
        "retraction": None
        if retraction is None
        else RetractionRef.model_validate(retraction, from_attributes=True),
    }
    if artifact.kind == "model":
        return ModelRead(**common, training_run_id=training_run_id)
    return DatasetRead(
        **common,
        size=artifact.size,
        uri=artifact.uri,
        checksum=artifact.checksum,
        origin=origin_read(artifact),
        facets=artifact.facets or {},
    )


def dataset_read(artifact: Artifact) -> DatasetRead:
    read = version_read(artifact)
    assert isinstance(read, DatasetRead)
    return read


def model_read(artifact: Artifact, training_run_id: uuid.UUID | None = None) -> ModelRead:
    read = version_read(artifact, training_run_id=training_run_id)
    assert isinstance(read, ModelRead)
    return read


def versions(
    session: Session,
    artifacts: Sequence[Artifact],
    training_runs: Mapping[uuid.UUID, uuid.UUID] | None = None,
) -> list[DatasetRead | ModelRead]:
    """The versions, each retracted one with its retraction (one query for all), each model
    with its training run's id from ``training_runs``."""
    retracted = retraction_repository.of_versions(session, [a.id for a in artifacts])
    runs = training_runs or {}
    return [
        version_read(a, retraction=retracted.get(a.id), training_run_id=runs.get(a.id))
        for a in artifacts
    ]


def page(
    session: Session,
    kind: str,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
    **key: str | None,
) -> Sequence[Artifact]:
    """Versions matching the parts of the natural key given (``namespace``, ``name``,
    ``version``), newest first, after a position."""
    return repository.page(session, kind, after=after, limit=limit, **key)


def version_or_404(
    session: Session, artifact_id: uuid.UUID, kind: Kind
) -> tuple[Artifact, Retraction | None]:
    """A version with its retraction, if any, in one query; or the 404."""
    found = repository.get_with_retraction(session, artifact_id, kind)
    if found is None:
        raise NotFound(f"No {kind} version has id {artifact_id}.", missing={"id": str(artifact_id)})
    return found


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
