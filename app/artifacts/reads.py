"""Dataset and model versions as the API shows them."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from typing import Any

from sqlalchemy.orm import Session

from app.artifacts import repository
from app.artifacts.models import Artifact
from app.artifacts.schemas import DatasetRead, Kind, ModelRead
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


@dataclass(frozen=True)
class _Shape:
    """A kind's read schema and the columns it shows by their own names."""

    schema: type[DatasetRead] | type[ModelRead]
    names: tuple[str, ...]
    columns: Callable[[Artifact], tuple[Any, ...]]

    @classmethod
    def of(cls, schema: type[DatasetRead] | type[ModelRead]) -> _Shape:
        names = tuple(name for name in schema.model_fields if name in Artifact.__table__.c)
        return cls(schema, names, attrgetter(*names))


_SHAPES = {"dataset": _Shape.of(DatasetRead), "model": _Shape.of(ModelRead)}


def version_read(
    artifact: Artifact,
    *,
    retraction: Retraction | None = None,
    training_run_id: uuid.UUID | None = None,
) -> DatasetRead | ModelRead:
    """One version, as the schema of its kind shows it: the columns it shares with the schema by
    name, what is read beside them (its retraction, a model's training run), and what is derived
    from them (the summary of the stored composition; the origin, read from the ``origin_*``
    columns when one was declared)."""
    shape = _SHAPES[artifact.kind]
    shown: dict[str, Any] = dict(zip(shape.names, shape.columns(artifact), strict=True))
    shown.update(
        composition=composition_read(artifact),
        retraction=retraction,
        training_run_id=training_run_id,
        origin=None if artifact.origin_human is None else artifact,
        facets=artifact.facets or {},
    )
    return shape.schema.model_validate(shown)


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
