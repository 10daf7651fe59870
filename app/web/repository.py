"""SQL the pages need beyond the API's: text search, neighbour counts, ancestry sizes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from sqlalchemy import ColumnElement, func, or_, select, text
from sqlalchemy.orm import QueryableAttribute, Session

from app.artifacts.models import Artifact
from app.db import equals_any
from app.lineage.models import Edge
from app.pagination import newest_first

Match = Literal["contains", "prefix", "exact"]


def _escaped(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _matches(column: QueryableAttribute[str], value: str, match: Match) -> ColumnElement[bool]:
    if match == "exact":
        return column == value
    pattern = _escaped(value) + "%"
    if match == "contains":
        pattern = "%" + pattern
    return column.ilike(pattern, escape="\\")


def search(
    session: Session,
    *,
    kinds: Sequence[str],
    text_: str | None,
    namespace: str | None,
    match: Match,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[Artifact]:
    """Versions whose name or namespace matches ``text_`` and whose namespace matches
    ``namespace`` (case-insensitive unless exact), newest first, after a position."""
    query = select(Artifact).where(Artifact.kind.in_(kinds))
    if text_:
        query = query.where(
            or_(
                _matches(Artifact.name, text_, match),
                _matches(Artifact.namespace, text_, match),
            )
        )
    if namespace:
        query = query.where(_matches(Artifact.namespace, namespace, match))
    query = newest_first(query, Artifact.created_at, Artifact.id, after, limit)
    return session.scalars(query).all()


def edges_among(session: Session, ids: Sequence[uuid.UUID]) -> Sequence[Edge]:
    """Every edge whose two ends are both in ``ids``."""
    if not ids:
        return []
    return session.scalars(
        select(Edge)
        .where(equals_any(Edge.child_id, ids), equals_any(Edge.parent_id, ids))
        .order_by(Edge.created_at, Edge.id)
    ).all()


def neighbour_counts(
    session: Session, ids: Sequence[uuid.UUID]
) -> tuple[dict[uuid.UUID, int], dict[uuid.UUID, int]]:
    """How many distinct parents and children each node has in the whole graph."""
    if not ids:
        return {}, {}
    parents = session.execute(
        select(Edge.child_id, func.count(func.distinct(Edge.parent_id)))
        .where(equals_any(Edge.child_id, ids))
        .group_by(Edge.child_id)
    ).all()
    children = session.execute(
        select(Edge.parent_id, func.count(func.distinct(Edge.child_id)))
        .where(equals_any(Edge.parent_id, ids))
        .group_by(Edge.parent_id)
    ).all()
    return {n: c for n, c in parents}, {n: c for n, c in children}


def neighbours(
    session: Session, node: uuid.UUID, *, upstream: bool, limit: int
) -> Sequence[uuid.UUID]:
    """Up to ``limit`` distinct parents (or children) of a node, most recently linked first."""
    mine, other = (Edge.child_id, Edge.parent_id) if upstream else (Edge.parent_id, Edge.child_id)
    rows = session.execute(
        select(other, func.max(Edge.created_at).label("linked"))
        .where(mine == node)
        .group_by(other)
        .order_by(text("linked DESC"), other)
        .limit(limit)
    ).all()
    return [row[0] for row in rows]


def reach_size(session: Session, start: uuid.UUID, *, upstream: bool) -> int:
    """How many ancestors (or descendants) a node has, however far."""
    step, back = ("parent_id", "child_id") if upstream else ("child_id", "parent_id")
    count = session.execute(
        text(
            f"""
            WITH RECURSIVE reach(id) AS (
                SELECT CAST(:start AS uuid)
                UNION
                SELECT e.{step} FROM edges e JOIN reach r ON e.{back} = r.id
            )
            SELECT count(*) - 1 FROM reach
            """
        ),
        {"start": start},
    ).scalar_one()
    return int(count)
