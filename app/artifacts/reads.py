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
from app.composition.core import Composition
from app.composition.schemas import CompositionRead, composition_summary
from app.errors import NotFound
from app.retractions.models import Retraction

Version = Artifact | Any
"""A version as the ORM loads it, or as the columns of a point read (``repository``: a named
tuple of the columns, as the driver reads them)."""


def composition_read(artifact: Version) -> CompositionRead:
    """The summary of the stored composition (a column only the engine writes, so it is parsed
    without being checked again)."""
    return composition_summary(
        Composition.from_stored(artifact.composition),
        artifact.total_amount,
        weights_assumed=artifact.weights_assumed,
        stale=artifact.composition_stale,
    )


@dataclass(frozen=True)
class _Shape:
    """A kind's read schema and the columns it shows by their own names."""

    schema: type[DatasetRead] | type[ModelRead]
    names: tuple[str, ...]
    columns: Callable[[Version], tuple[Any, ...]]

    @classmethod
    def of(cls, schema: type[DatasetRead] | type[ModelRead]) -> _Shape:
        names = tuple(name for name in schema.model_fields if name in Artifact.__table__.c)
        return cls(schema, names, attrgetter(*names))


_SHAPES = {"dataset": _Shape.of(DatasetRead), "model": _Shape.of(ModelRead)}


def version_read(
    artifact: Version,
    *,
    retraction: Retraction | Mapping[str, Any] | None = None,
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
) -> tuple[Any, dict[str, Any] | None]:
    """A version's columns with its retraction's, if any, in one query; or the 404."""
    found = repository.get_with_retraction(session, artifact_id, kind)
    if found is None:
        raise NotFound(f"No {kind} version has id {artifact_id}.", missing={"id": str(artifact_id)})
    if found.retraction_id is None:
        return found, None
    return found, {c: getattr(found, f"retraction_{c}") for c in repository.RETRACTION_COLUMNS}
