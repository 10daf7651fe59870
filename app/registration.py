"""Recording a dataset or model version, or a corrected origin: the record step of the write
sequence (``app.writes``) for native writes.

Each step is another domain's: the artifacts service plans and stores the version, lineage
stores its edges, the composition repository locks what the new edges hang below (or, for a
corrected origin, everything downstream), and sources names a preserved copy. The result says
what the propagation that follows starts from.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.artifacts import service as artifact_service
from app.artifacts.models import Artifact
from app.artifacts.schemas import DatasetCreate, ModelCreate, OriginIn
from app.artifacts.service import Planned, label
from app.auth.core import Principal
from app.composition import repository as composition_repository
from app.composition.service import LineageChange
from app.lineage import repository as edge_repository
from app.sources import service as source_service


@dataclass(frozen=True)
class Registered:
    """A version recorded (``change`` says what to propagate) or found already recorded."""

    artifact: Artifact
    change: LineageChange | None

    @property
    def is_new(self) -> bool:
        return self.change is not None


def register(session: Session, planned: Planned) -> Registered:
    """Record a version with its parents, or return the identical one already recorded.

    A new version is a leaf: nothing can hang below it yet, so its edges close no cycle."""
    artifact_service.lock_natural_key(session, planned.kind, planned.key)
    existing = artifact_service.recorded(session, planned)
    if existing is not None:
        return Registered(existing, None)
    composition_repository.lock_for_reading(session, [e.parent.id for e in planned.edges])
    artifact = artifact_service.add(session, planned)
    edge_repository.add(session, artifact_service.edges_of(artifact, planned))
    return Registered(artifact, LineageChange.of([artifact.id], f"{label(artifact)} recorded"))


def record_dataset(session: Session, body: DatasetCreate, *, actor: Principal) -> Registered:
    known = artifact_service.look_up(session, body.parents)
    planned = artifact_service.plan_dataset(session, body, actor=actor, known=known)
    registered = register(session, planned)
    if body.archive_uri is not None:
        source_service.name_archive(session, registered.artifact, body.archive_uri, actor=actor)
    return registered


def record_model(session: Session, body: ModelCreate, *, actor: Principal) -> Registered:
    base = [body.base_model] if body.base_model is not None else []
    known = artifact_service.look_up(session, [*body.training_set, *base])
    return register(session, artifact_service.plan_model(session, body, actor=actor, known=known))


def record_origin(
    session: Session,
    dataset_id: uuid.UUID,
    declared: OriginIn,
    reason: str | None,
    *,
    actor: Principal,
) -> Registered:
    """Replace a dataset version's declared origin (the change propagates to every descendant)."""
    artifact, columns = artifact_service.origin_correction(
        session, dataset_id, declared, actor=actor
    )
    if columns is None:
        return Registered(artifact, None)
    # the whole subgraph at once, in order, before the row itself changes (see lock_descendants)
    held = composition_repository.lock_descendants(session, [artifact.id])
    artifact_service.correct_origin(session, artifact, columns)
    why = f"origin of {label(artifact)} corrected" + (f": {reason}" if reason else "")
    change = LineageChange.of([artifact.id], why, structural=False, locked=held)
    return Registered(artifact, change)
