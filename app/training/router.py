"""/api/v1/training-runs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from app.auth.security import requires
from app.db import SessionDep
from app.errors import PROBLEM_RESPONSES
from app.pagination import Page, Paging
from app.training import service
from app.training.schemas import TrainingRunRead, TrainingRunSummary

router = APIRouter(prefix="/api/v1", tags=["training runs"], responses=PROBLEM_RESPONSES)


@router.get(
    "/training-runs",
    dependencies=[requires("read")],
    response_model=Page[TrainingRunSummary],
    summary="Training runs, newest first, filtered by verdict, model, namespace and time",
)
def list_runs(
    session: SessionDep,
    paging: Paging,
    verdict: Annotated[Literal["pass", "warn", "fail"] | None, Query()] = None,
    namespace: Annotated[str | None, Query(max_length=2048, description="Model namespace.")] = None,
    model: Annotated[str | None, Query(max_length=2048, description="Model name.")] = None,
    since: Annotated[datetime | None, Query(description="Judged at or after (ISO 8601).")] = None,
    until: Annotated[datetime | None, Query(description="Judged before (ISO 8601).")] = None,
) -> Page[TrainingRunSummary]:
    return service.listing(
        session,
        paging,
        verdict=verdict,
        namespace=namespace,
        model_name=model,
        since=since,
        until=until,
    )


@router.get(
    "/training-runs/{run_id}",
    dependencies=[requires("read")],
    response_model=TrainingRunRead,
    summary="A training run: its training set, composition, verdict, findings and history",
)
def get_run(run_id: uuid.UUID, session: SessionDep) -> TrainingRunRead:
    return service.get(session, run_id)
