"""SQL for retractions: moving edges out of the live graph and reading them back."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import ARRAY, Text, delete, func, literal, or_, select, tuple_
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.orm import QueryableAttribute, Session

from app.db import equals_any
from app.lineage.models import Edge
from app.pagination import newest_first
from app.retractions.models import RetractedEdge, Retraction


def add(session: Session, retraction: Retraction) -> Retraction:
    session.add(retraction)
    session.flush()
    return retraction


def get(session: Session, retraction_id: uuid.UUID) -> Retraction | None:
    return session.get(Retraction, retraction_id)


def of_versions(session: Session, artifact_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Retraction]:
    if not artifact_ids:
        return {}
    retracted = cast(QueryableAttribute[uuid.UUID], Retraction.artifact_id)
    rows = session.scalars(select(Retraction).where(equals_any(retracted, artifact_ids)))
    return {r.artifact_id: r for r in rows if r.artifact_id is not None}


def live_edges_of(session: Session, artifact_id: uuid.UUID) -> Sequence[Edge]:
    """Every live edge into or out of a version."""
    return session.scalars(
        select(Edge)
        .where(or_(Edge.child_id == artifact_id, Edge.parent_id == artifact_id))
        .order_by(Edge.created_at, Edge.id)
    ).all()


def move(session: Session, retraction_id: uuid.UUID, edges: Sequence[Edge]) -> None:
    """Take edges out of the live graph, keeping each as it was recorded."""
    if not edges:
        return
    keep(
        session,
        [
            RetractedEdge(
                id=e.id, retraction_id=retraction_id, created_at=e.created_at, **e.recorded()
            )
            for e in edges
        ],
    )
    session.execute(delete(Edge).where(equals_any(Edge.id, [e.id for e in edges])))
    session.expire_all()


def keep(session: Session, edges: Sequence[RetractedEdge]) -> None:
    """Record edges as retracted; one already recorded so stays as it was."""
    if not edges:
        return
    session.execute(
        insert(RetractedEdge)
        .values(
            [
                {
                    "id": e.id or uuid.uuid4(),
                    "retraction_id": e.retraction_id,
                    "created_at": e.created_at,
                    **e.recorded(),
                }
                for e in edges
            ]
        )
        .on_conflict_do_nothing(index_elements=["child_id", "parent_id", "relation"])
    )


def is_retracted(
    session: Session, child_id: uuid.UUID, parent_id: uuid.UUID, relation: str
) -> bool:
    return (
        session.scalars(
            select(RetractedEdge.id).where(
                tuple_(RetractedEdge.child_id, RetractedEdge.parent_id, RetractedEdge.relation)
                == tuple_(child_id, parent_id, relation)
            )
        ).first()
        is not None
    )


EdgeKey = tuple[uuid.UUID, uuid.UUID, str]
"""child_id, parent_id, relation"""


def retracted_among(session: Session, keys: Sequence[EdgeKey]) -> set[EdgeKey]:
    """Which of these edges were retracted, in one query (the keys joined as unnested arrays:
    a long IN list of row values overflows the parser's stack)."""
    if not keys:
        return set()
    unique = list(dict.fromkeys(keys))
    ids = ARRAY(UUID(as_uuid=True))
    wanted = select(
        func.unnest(literal([k[0] for k in unique], ids)).label("child"),
        func.unnest(literal([k[1] for k in unique], ids)).label("parent"),
        func.unnest(literal([k[2] for k in unique], ARRAY(Text))).label("relation"),
    ).subquery()
    rows = session.execute(
        select(RetractedEdge.child_id, RetractedEdge.parent_id, RetractedEdge.relation).join(
            wanted,
            (RetractedEdge.child_id == wanted.c.child)
            & (RetractedEdge.parent_id == wanted.c.parent)
            & (RetractedEdge.relation == wanted.c.relation),
        )
    ).all()
    return {(r[0], r[1], r[2]) for r in rows}


def edges_of(session: Session, retraction_ids: Sequence[uuid.UUID]) -> list[RetractedEdge]:
    if not retraction_ids:
        return []
    return list(
        session.scalars(
            select(RetractedEdge)
            .where(equals_any(RetractedEdge.retraction_id, retraction_ids))
            .order_by(RetractedEdge.created_at, RetractedEdge.id)
        )
    )


def page(
    session: Session,
    *,
    artifact_id: uuid.UUID | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[Retraction]:
    """Retractions newest first; with ``artifact_id``, those of the version or of its edges."""
    query = select(Retraction)
    if artifact_id is not None:
        touching = select(RetractedEdge.retraction_id).where(
            or_(RetractedEdge.child_id == artifact_id, RetractedEdge.parent_id == artifact_id)
        )
        query = query.where(or_(Retraction.artifact_id == artifact_id, Retraction.id.in_(touching)))
    query = newest_first(query, Retraction.created_at, Retraction.id, after, limit)
    return session.scalars(query).all()
