"""/api/v1/propagations: corrections being finished in the background."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from app.auth.security import requires
from app.composition import service
from app.db import SessionDep
from app.errors import PROBLEM_RESPONSES
from app.pagination import Page, Paging

router = APIRouter(prefix="/api/v1", tags=["propagations"], responses=PROBLEM_RESPONSES)


class PropagationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    cause: str
    status: Literal["pending", "running", "done", "failed"]
    roots: list[uuid.UUID]
    nodes_total: int
    nodes_done: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


@router.get(
    "/propagations",
    dependencies=[requires("read")],
    response_model=Page[PropagationRead],
    summary="Corrections too large for one request, newest first; their nodes read stale",
)
def list_propagations(
    session: SessionDep,
    paging: Paging,
    status: Annotated[Literal["pending", "done"] | None, Query()] = None,
) -> Page[PropagationRead]:
    return paging.newest_first(
        "propagations",
        lambda after, n: service.propagations(session, status=status, after=after, limit=n),
        lambda rows: [PropagationRead.model_validate(job) for job in rows],
        lambda j: (j.created_at, j.id),
    )


@router.get(
    "/propagations/{job_id}",
    dependencies=[requires("read")],
    response_model=PropagationRead,
    summary="One propagation",
)
def get_propagation(job_id: uuid.UUID, session: SessionDep) -> PropagationRead:
    return PropagationRead.model_validate(service.propagation(session, job_id))
