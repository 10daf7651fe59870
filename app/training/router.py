"""/api/v1/training-runs."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from app.artifacts.models import Artifact
from app.auth.security import requires
from app.composition.core import Composition
from app.composition.schemas import composition_summary
from app.db import SessionDep
from app.errors import PROBLEM_RESPONSES
from app.pagination import Cursor, Limit, Page, newest_first_page
from app.policies.schemas import PolicyRef
from app.training import service
from app.training.models import TrainingRun
from app.training.schemas import ModelKey, TrainingRunRead, TrainingRunSummary

router = APIRouter(prefix="/api/v1", tags=["training runs"], responses=PROBLEM_RESPONSES)


@router.get(
    "/training-runs",
    dependencies=[requires("read")],
    response_model=Page[TrainingRunSummary],
    summary="Training runs, newest first, filtered by verdict, model, namespace and time",
)
def list_runs(
    session: SessionDep,
    verdict: Annotated[Literal["pass", "warn", "fail"] | None, Query()] = None,
    namespace: Annotated[str | None, Query(max_length=2048, description="Model namespace.")] = None,
    model: Annotated[str | None, Query(max_length=2048, description="Model name.")] = None,
    since: Annotated[datetime | None, Query(description="Judged at or after (ISO 8601).")] = None,
    until: Annotated[datetime | None, Query(description="Judged before (ISO 8601).")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[TrainingRunSummary]:
    def summaries(rows: Sequence[tuple[TrainingRun, Artifact]]) -> list[TrainingRunSummary]:
        waiting = service.rejudging(session, [m.id for _, m in rows])
        return [
            TrainingRunSummary(
                id=run.id,
                model=ModelKey(id=m.id, namespace=m.namespace, name=m.name, version=m.version),
                created_at=run.created_at,
                judged_at=run.judged_at,
                verdict=run.verdict,
                rejudging=m.id in waiting,
                policy=PolicyRef(name=run.policy_name or "", version=run.policy_version or 0),
                composition=composition_summary(
                    Composition.from_json(run.composition),
                    run.total_amount,
                    weights_assumed=run.weights_assumed,
                    stale=m.composition_stale,
                ),
            )
            for run, m in rows
        ]

    return newest_first_page(
        "training runs",
        cursor,
        limit,
        lambda after, n: service.listing(
            session,
            verdict=verdict,
            namespace=namespace,
            model_name=model,
            since=since,
            until=until,
            after=after,
            limit=n,
        ),
        summaries,
        lambda r: (r[0].created_at, r[0].id),
    )


@router.get(
    "/training-runs/{run_id}",
    dependencies=[requires("read")],
    response_model=TrainingRunRead,
    summary="A training run: its training set, composition, verdict, findings and history",
)
def get_run(run_id: uuid.UUID, session: SessionDep) -> TrainingRunRead:
    return service.get(session, run_id)
