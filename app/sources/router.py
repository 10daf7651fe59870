"""/api/v1/sources."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from app.auth.security import Writer, requires
from app.db import SessionDep
from app.errors import PROBLEM_RESPONSES
from app.pagination import Page, Paging
from app.sources import service
from app.sources.models import SourceStatus
from app.sources.schemas import (
    ArchivePut,
    ChecksRecorded,
    ChecksReport,
    SourceRead,
)

router = APIRouter(prefix="/api/v1", tags=["sources"], responses=PROBLEM_RESPONSES)


@router.get(
    "/sources",
    dependencies=[requires("read")],
    response_model=Page[SourceRead],
    summary="Original human sources, newest first, with what was last found at each",
)
def list_sources(
    session: SessionDep,
    paging: Paging,
    status: Annotated[SourceStatus | None, Query()] = None,
    namespace: Annotated[str | None, Query(max_length=2048)] = None,
    runs: Annotated[
        bool,
        Query(description="false: leave `training_runs` empty (a faster list, for checking)."),
    ] = True,
) -> Page[SourceRead]:
    return service.listing(session, paging, status=status, namespace=namespace, with_runs=runs)


@router.get(
    "/sources/{source_id}",
    dependencies=[requires("read")],
    response_model=SourceRead,
    summary="One source",
)
def get_source(source_id: uuid.UUID, session: SessionDep) -> SourceRead:
    return service.get(session, source_id)


@router.post(
    "/sources/checks",
    response_model=ChecksRecorded,
    summary="Record what checking sources found; re-judges training runs downstream of a change",
)
def record_checks(body: ChecksReport, session: SessionDep, principal: Writer) -> ChecksRecorded:
    return service.record_checks(session, body, actor=principal)


@router.put(
    "/sources/{source_id}/archive",
    response_model=SourceRead,
    summary="Name (or forget) a preserved copy of a source, tried when the original is gone",
)
def set_archive(
    source_id: uuid.UUID, body: ArchivePut, session: SessionDep, principal: Writer
) -> SourceRead:
    return service.set_archive(session, source_id, body, actor=principal)
