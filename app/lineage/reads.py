"""Edges and accepted OpenLineage events as the API shows them.

Nothing here writes; the graph walk that composes versions with their edges reads across
domains and lives in ``app.reads``.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.lineage import repository
from app.lineage.models import Edge
from app.lineage.schemas import EdgeRead, StoredEvent
from app.pagination import Page, PageRequest


def edge_read(edge: Edge) -> EdgeRead:
    return EdgeRead.model_validate(edge, from_attributes=True)


def events(session: Session, requested: PageRequest, *, run_id: str | None) -> Page[StoredEvent]:
    """Accepted OpenLineage events as received, newest first."""
    return requested.newest_first(
        "lineage events",
        lambda after, n: repository.events(session, run_id=run_id, after=after, limit=n),
        lambda rows: [StoredEvent.model_validate(row, from_attributes=True) for row in rows],
        lambda e: (e.received_at, e.id),
    )
