"""/api/v1/gate."""

from __future__ import annotations

from fastapi import APIRouter, Response

from app.auth.security import Gatekeeper
from app.db import SessionDep, writes_nothing
from app.errors import PROBLEM_RESPONSES
from app.http import json_response
from app.policies.schemas import GateRequest, GateResponse
from app.training import gate as service

router = APIRouter(prefix="/api/v1", responses=PROBLEM_RESPONSES)


@router.post(
    "/gate",
    response_model=GateResponse,
    tags=["gate"],
    summary="Judge a proposed training set without writing anything",
    responses={
        404: {"description": "A dataset in the training set (or the policy) is not recorded"}
    },
)
@writes_nothing
def gate(body: GateRequest, session: SessionDep, _: Gatekeeper) -> Response:
    return json_response(service.gate(session, body))
