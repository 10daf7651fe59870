"""/api/v1/policies."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from app.auth.security import PolicyAuthor, requires
from app.db import SessionDep
from app.errors import PROBLEM_RESPONSES
from app.http import created
from app.pagination import Page, Paging
from app.policies import service
from app.policies.schemas import PolicyPut, PolicyRead

router = APIRouter(prefix="/api/v1", responses=PROBLEM_RESPONSES)

Name = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.\-]+$")]


@router.get(
    "/policies",
    dependencies=[requires("read")],
    response_model=Page[PolicyRead],
    summary="Policies (latest versions)",
)
def list_policies(session: SessionDep, paging: Paging) -> Page[PolicyRead]:
    return service.listing(session, paging)


@router.get(
    "/policies/{name}",
    dependencies=[requires("read")],
    response_model=PolicyRead,
    summary="A policy's latest version",
)
def get_policy(
    name: Name,
    session: SessionDep,
    version: Annotated[int | None, Query(ge=1, description="A specific version.")] = None,
) -> PolicyRead:
    return PolicyRead.model_validate(service.version(session, name, version))


@router.put(
    "/policies/{name}",
    response_model=PolicyRead,
    summary="Create a policy, or a new version of it (verdicts name the version that judged them)",
    responses={201: {"description": "A new version was created"}},
)
def put_policy(
    name: Name, body: PolicyPut, session: SessionDep, response: Response, principal: PolicyAuthor
) -> PolicyRead:
    policy, is_new = service.put(session, name, body, actor=principal.name)
    created(response, is_new)
    return PolicyRead.model_validate(policy)
