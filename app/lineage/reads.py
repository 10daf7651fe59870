"""Edges and accepted OpenLineage events as the API shows them.

Nothing here writes; the graph walk that composes versions with their edges reads across
domains and lives in ``app.reads``.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.lineage import repository
from app.lineage.models import Edge
from app.lineage.schemas import EdgeRead, StoredEvent
from app.pagination import Page, decode_cursor, next_cursor


def edge_read(edge: Edge) -> EdgeRead:
    return EdgeRead.model_validate(edge, from_attributes=True)


def events(
    session: Session, *, run_id: str | None, cursor: str | None, limit: int
) -> Page[StoredEvent]:
    """Accepted OpenLineage events as received, newest first, a page after ``cursor``."""
    rows = repository.events(
        session, run_id=run_id, after=decode_cursor("lineage events", cursor), limit=limit + 1
    )
    return Page[StoredEvent](
        items=[StoredEvent.model_validate(row, from_attributes=True) for row in rows[:limit]],
        next_cursor=next_cursor("lineage events", rows, limit, lambda e: (e.received_at, e.id)),
    )
