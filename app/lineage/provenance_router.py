"""/api/v1/{datasets,models}/{id}/provenance: upstream lineage as W3C PROV-JSON."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.artifacts.router import Depth, MaxNodes
from app.auth.security import requires
from app.db import SessionDep
from app.errors import PROBLEM_RESPONSES
from app.lineage import provenance

router = APIRouter(prefix="/api/v1", responses=PROBLEM_RESPONSES, tags=["provenance"])

_DOCUMENT: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A PROV-JSON document (W3C PROV, JSON serialization)",
        "content": {"application/json": {}},
    }
}


@router.get(
    "/datasets/{dataset_id}/provenance",
    dependencies=[requires("read")],
    summary="A dataset version's upstream lineage as W3C PROV-JSON",
    response_class=JSONResponse,
    responses=_DOCUMENT,
)
def dataset_provenance(
    dataset_id: uuid.UUID, session: SessionDep, depth: Depth = 20, max_nodes: MaxNodes = 1000
) -> JSONResponse:
    return JSONResponse(provenance.upstream(session, dataset_id, "dataset", depth, max_nodes))


@router.get(
    "/models/{model_id}/provenance",
    dependencies=[requires("read")],
    summary="A model version's upstream lineage (training data and all) as W3C PROV-JSON",
    response_class=JSONResponse,
    responses=_DOCUMENT,
)
def model_provenance(
    model_id: uuid.UUID, session: SessionDep, depth: Depth = 20, max_nodes: MaxNodes = 1000
) -> JSONResponse:
    return JSONResponse(provenance.upstream(session, model_id, "model", depth, max_nodes))
