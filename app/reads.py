"""Reads that cross domains: a version as the API shows it, with its retraction and, for a
model, its training run. Artifacts sit below training, so the composition happens here, above
both (as ``app.writes`` holds the write sequence)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.orm import Session

from app.artifacts import reads as artifact_reads
from app.artifacts.models import Artifact
from app.artifacts.schemas import DatasetRead, Kind, ModelRead
from app.training import service as training_service


def versions(
    session: Session, kind: Kind, artifacts: Sequence[Artifact]
) -> list[DatasetRead | ModelRead]:
    runs = training_service.run_ids(session, [a.id for a in artifacts]) if kind == "model" else {}
    return artifact_reads.versions(session, artifacts, runs)


def version(session: Session, kind: Kind, artifact_id: uuid.UUID) -> DatasetRead | ModelRead:
    """One version, or the 404: one query for a dataset, two for a model."""
    artifact, retraction = artifact_reads.version_or_404(session, artifact_id, kind)
    runs = training_service.run_ids(session, [artifact.id]) if kind == "model" else {}
    return artifact_reads.version_read(
        artifact, retraction=retraction, training_run_id=runs.get(artifact.id)
    )
