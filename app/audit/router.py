"""/api/v1/audit: the record of writes (admin)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import orjson
from fastapi import APIRouter, Query

from app.audit import repository, service
from app.audit.schemas import AuditEntryRead, AuditPage
from app.auth.security import requires
from app.db import SessionDep
from app.errors import PROBLEM_RESPONSES, InvalidInput
from app.pagination import Cursor, Limit, Page, page

router = APIRouter(prefix="/api/v1", tags=["audit"], responses=PROBLEM_RESPONSES)


def after(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    if not cursor.isdigit():
        raise InvalidInput(
            "The cursor is not one this service issued; pass the `next_cursor` of a previous page.",
            errors=[{"loc": "query.cursor", "msg": "invalid cursor", "type": "value_error"}],
        )
    return int(cursor)


@router.get(
    "/audit",
    response_model=AuditPage,
    summary="Every accepted write, oldest first, in its hash chain",
    dependencies=[requires("admin")],
)
def list_audit(
    session: SessionDep,
    since: Annotated[datetime | None, Query(description="Recorded at or after (ISO 8601).")] = None,
    actor: Annotated[str | None, Query(max_length=128, description="A token's name.")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[AuditEntryRead]:
    # writes acknowledged a moment ago are listed too, not only those the sealer reached
    service.seal(session)
    start = after(cursor)
    return page(
        lambda n: repository.page(session, after=start, since=since, actor=actor, limit=n),
        limit,
        lambda rows: [
            AuditEntryRead(
                sequence=row.sequence or 0,
                recorded_at=row.recorded_at,
                actor=row.actor,
                operation=row.operation,
                content=orjson.loads(row.content),
                content_hash=row.content_hash,
                previous_hash=row.previous_hash or "",
                hash=row.hash or "",
            )
            for row in rows
        ],
        lambda row: str(row.sequence),
    )
