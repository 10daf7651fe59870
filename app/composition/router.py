"""/api/v1/propagations: corrections being finished in the background."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from app.auth.security import requires
from app.composition import service
from app.composition.schemas import PropagationRead
from app.db import SessionDep
from app.errors import PROBLEM_RESPONSES
from app.pagination import Page, Paging

router = APIRouter(prefix="/api/v1", tags=["propagations"], responses=PROBLEM_RESPONSES)


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
    return service.listing(session, paging, status=status)


@router.get(
    "/propagations/{job_id}",
    dependencies=[requires("read")],
    response_model=PropagationRead,
    summary="One propagation",
)
def get_propagation(job_id: uuid.UUID, session: SessionDep) -> PropagationRead:
    return PropagationRead.model_validate(service.propagation(session, job_id))
