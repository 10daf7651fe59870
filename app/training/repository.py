"""SQL for training runs and their verdict history."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.artifacts.models import Artifact
from app.db import among
from app.lineage.models import Edge
from app.pagination import newest_first
from app.training.models import TrainingRun, VerdictRecord


def by_models(session: Session, model_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, TrainingRun]:
    rows = session.scalars(select(TrainingRun).where(among(TrainingRun.model_id, model_ids))).all()
    return {run.model_id: run for run in rows}


def training_sets(
    session: Session, model_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[uuid.UUID, float | None]]]:
    """Each model's training set: (dataset id, amount) of its trained_on edges."""
    rows = session.execute(
        select(Edge.child_id, Edge.parent_id, Edge.amount)
        .where(Edge.relation == "trained_on", among(Edge.child_id, model_ids))
        .order_by(Edge.created_at, Edge.id)
    ).all()
    sets: dict[uuid.UUID, list[tuple[uuid.UUID, float | None]]] = {}
    for child, parent, amount in rows:
        sets.setdefault(child, []).append((parent, amount))
    return sets


def page(
    session: Session,
    *,
    verdict: str | None,
    namespace: str | None,
    model_name: str | None,
    since: datetime | None,
    until: datetime | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[tuple[TrainingRun, Artifact]]:
    query = select(TrainingRun, Artifact).join(Artifact, Artifact.id == TrainingRun.model_id)
    if verdict is not None:
        query = query.where(TrainingRun.verdict == verdict)
    if namespace is not None:
        query = query.where(Artifact.namespace == namespace)
    if model_name is not None:
        query = query.where(Artifact.name == model_name)
    if since is not None:
        query = query.where(TrainingRun.judged_at >= since)
    if until is not None:
        query = query.where(TrainingRun.judged_at < until)
    query = newest_first(query, TrainingRun.created_at, TrainingRun.id, after, limit)
    return [(run, model) for run, model in session.execute(query).all()]


def history(session: Session, run_id: uuid.UUID) -> Sequence[VerdictRecord]:
    return session.scalars(
        select(VerdictRecord)
        .where(VerdictRecord.training_run_id == run_id)
        .order_by(VerdictRecord.judged_at, VerdictRecord.id)
    ).all()
