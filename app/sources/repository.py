"""SQL for original human sources and what was last found at them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.artifacts.models import Artifact
from app.artifacts.repository import is_source
from app.db import equals_any
from app.pagination import newest_first, where_given
from app.sources.models import SourceState
from app.training.models import TrainingRun

# The relations human mass travels along: a generation turns it into depth-1 data.
HUMAN_MASS_RELATIONS = "('trained_on', 'fine_tuned_from', 'derived_from')"


def status_column() -> ColumnElement[str]:
    """A source never checked has no state row and counts as unchecked."""
    return func.coalesce(SourceState.status, "unchecked")


def page(
    session: Session,
    *,
    status: str | None,
    namespace: str | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[tuple[Artifact, SourceState | None]]:
    """Sources, newest first, with their last state."""
    query = where_given(
        select(Artifact, SourceState)
        .outerjoin(SourceState, SourceState.artifact_id == Artifact.id)
        .where(is_source()),
        (status_column(), status),
        (Artifact.namespace, namespace),
    )
    query = newest_first(query, Artifact.created_at, Artifact.id, after, limit)
    return [(artifact, state) for artifact, state in session.execute(query).all()]


def sources(
    session: Session, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[Artifact, SourceState | None]]:
    """The given ids that are sources, with their state; others are left out."""
    rows = session.execute(
        select(Artifact, SourceState)
        .outerjoin(SourceState, SourceState.artifact_id == Artifact.id)
        .where(is_source(), equals_any(Artifact.id, ids))
    ).all()
    return {artifact.id: (artifact, state) for artifact, state in rows}


def states_for_update(session: Session, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, SourceState]:
    """The state row of each given source, created (unchecked) where there is none yet, and
    locked until the transaction ends, so that two reports about one source queue up."""
    if ids:
        session.execute(
            insert(SourceState)
            .values([{"artifact_id": i, "status": "unchecked"} for i in ids])
            .on_conflict_do_nothing(index_elements=["artifact_id"])
        )
    rows = session.scalars(
        select(SourceState)
        .where(equals_any(SourceState.artifact_id, ids))
        .order_by(SourceState.artifact_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    return {state.artifact_id: state for state in rows}


def downstream_models(
    session: Session, source_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    """For each source, the model versions its human data reaches (not through a generation)."""
    rows = session.execute(
        text(
            f"""
            WITH RECURSIVE down(source, id) AS (
                SELECT s, s FROM unnest(CAST(:ids AS uuid[])) AS s
                UNION
                SELECT d.source, e.child_id FROM edges e JOIN down d ON e.parent_id = d.id
                WHERE e.relation IN {HUMAN_MASS_RELATIONS}
            )
            SELECT d.source, d.id FROM down d JOIN artifacts a ON a.id = d.id
            WHERE a.kind = 'model'
            """
        ),
        {"ids": list(source_ids)},
    ).all()
    found: dict[uuid.UUID, list[uuid.UUID]] = {}
    for source, model in rows:
        found.setdefault(source, []).append(model)
    return found


def dependent_runs(
    session: Session, source_ids: Sequence[uuid.UUID], per_source: int
) -> dict[uuid.UUID, list[tuple[TrainingRun, Artifact]]]:
    """For each source, the training runs whose training data its human data reaches, newest
    first, at most ``per_source`` of them."""
    downstream = downstream_models(session, source_ids)
    model_ids = list({m for models in downstream.values() for m in models})
    if not model_ids:
        return {}
    rows = session.execute(
        select(TrainingRun, Artifact)
        .join(Artifact, Artifact.id == TrainingRun.model_id)
        .where(equals_any(TrainingRun.model_id, model_ids))
        .order_by(TrainingRun.created_at.desc(), TrainingRun.id.desc())
    ).all()
    rank = {run.model_id: position for position, (run, _) in enumerate(rows)}
    by_model = {run.model_id: (run, model) for run, model in rows}
    result: dict[uuid.UUID, list[tuple[TrainingRun, Artifact]]] = {}
    for source, models in downstream.items():
        reached = sorted((m for m in models if m in by_model), key=rank.__getitem__)
        result[source] = [by_model[m] for m in reached[:per_source]]
    return result
