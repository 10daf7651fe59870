"""/api/v1/{datasets,models}/{id}/provenance: upstream lineage as W3C PROV-JSON."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.artifacts.router import Depth, MaxNodes, version_path
from app.artifacts.schemas import Kind
from app.auth.security import requires
from app.db import SessionDep
from app.errors import PROBLEM_RESPONSES
from app.provenance import service as provenance

router = APIRouter(prefix="/api/v1", responses=PROBLEM_RESPONSES, tags=["provenance"])

_DOCUMENT: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A PROV-JSON document (W3C PROV, JSON serialization)",
        "content": {"application/json": {}},
    }
}


def _provenance_route(kind: Kind, summary: str) -> None:
    def provenance_of(
        session: SessionDep,
        artifact_id: uuid.UUID = version_path(kind),
        depth: Depth = 20,
        max_nodes: MaxNodes = 1000,
    ) -> JSONResponse:
        return JSONResponse(provenance.upstream(session, artifact_id, kind, depth, max_nodes))

    router.add_api_route(
        f"/{kind}s/{{{kind}_id}}/provenance",
        provenance_of,
        methods=["GET"],
        name=f"{kind}_provenance",
        dependencies=[requires("read")],
        summary=summary,
        response_class=JSONResponse,
        responses=_DOCUMENT,
    )


_provenance_route("dataset", "A dataset version's upstream lineage as W3C PROV-JSON")
_provenance_route(
    "model", "A model version's upstream lineage (training data and all) as W3C PROV-JSON"
)
