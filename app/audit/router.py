"""/api/v1/audit: the record of writes (admin)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from app.audit import service
from app.audit.schemas import AuditEntryRead, AuditPage
from app.auth.security import requires
from app.db import SessionDep, writes_first
from app.errors import PROBLEM_RESPONSES
from app.pagination import Page, Paging

router = APIRouter(prefix="/api/v1", tags=["audit"], responses=PROBLEM_RESPONSES)


@router.get(
    "/audit",
    response_model=AuditPage,
    summary="Every accepted write, oldest first, in its hash chain",
    dependencies=[requires("admin")],
)
@writes_first
def list_audit(
    session: SessionDep,
    paging: Paging,
    since: Annotated[datetime | None, Query(description="Recorded at or after (ISO 8601).")] = None,
    actor: Annotated[str | None, Query(max_length=128, description="A token's name.")] = None,
) -> Page[AuditEntryRead]:
    return service.listing(session, paging, since=since, actor=actor)
