"""/api/v1/retractions, and the retraction of an edge or a version."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from app import writes
from app.artifacts.schemas import Kind
from app.auth.security import Writer, requires
from app.db import SessionDep
from app.errors import PROBLEM_RESPONSES
from app.http import created
from app.pagination import Page, Paging
from app.retractions import service
from app.retractions.schemas import RetractionCreate, RetractionRead

router = APIRouter(prefix="/api/v1", responses=PROBLEM_RESPONSES, tags=["retractions"])

_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"description": "Already retracted: the earlier retraction"},
    201: {"description": "Retracted; descendants recomputed, training runs re-judged"},
}


@router.post(
    "/edges/{edge_id}/retraction",
    response_model=RetractionRead,
    status_code=201,
    responses=_ANSWERS,
    summary="Retract an edge that was never true; it stays readable as retracted",
)
def retract_edge(
    edge_id: uuid.UUID,
    body: RetractionCreate,
    session: SessionDep,
    response: Response,
    principal: Writer,
) -> RetractionRead:
    found = writes.retract_edge(session, edge_id, body.reason, actor=principal)
    created(response, found[1])
    return service.reads(session, [found[0]])[0]


def _retract_version_route(kind: Kind, summary: str) -> None:
    def retract_version(
        artifact_id: uuid.UUID,
        body: RetractionCreate,
        session: SessionDep,
        response: Response,
        principal: Writer,
    ) -> RetractionRead:
        found = writes.retract_version(session, artifact_id, kind, body.reason, actor=principal)
        created(response, found[1])
        return service.reads(session, [found[0]])[0]

    router.add_api_route(
        f"/{kind}s/{{artifact_id}}/retraction",
        retract_version,
        methods=["POST"],
        name=f"retract_{kind}",
        response_model=RetractionRead,
        status_code=201,
        responses=_ANSWERS,
        summary=summary,
    )


_retract_version_route("dataset", "Retract a dataset version with every edge into and out of it")
_retract_version_route("model", "Retract a model version; its training run is no longer judged")


@router.get(
    "/retractions",
    dependencies=[requires("read")],
    response_model=Page[RetractionRead],
    summary="Retractions, newest first; with artifact_id, those of a version or its edges",
)
def list_retractions(
    session: SessionDep,
    paging: Paging,
    artifact_id: Annotated[uuid.UUID | None, Query()] = None,
) -> Page[RetractionRead]:
    return service.listing(session, paging, artifact_id=artifact_id)


@router.get(
    "/retractions/{retraction_id}",
    dependencies=[requires("read")],
    response_model=RetractionRead,
    summary="One retraction: why, by whom, and what it took out of the live graph",
)
def get_retraction(retraction_id: uuid.UUID, session: SessionDep) -> RetractionRead:
    return service.get(session, retraction_id)
