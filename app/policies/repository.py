"""SQL for policies, self-consuming lineage and human-origin sources."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import NamedTuple

from sqlalchemy import exists, func, select, text
from sqlalchemy.orm import Session

from app.artifacts.models import HUMAN_SOURCE_MIN, Artifact
from app.db import equals_any
from app.lineage.models import Edge
from app.policies.models import Policy
from app.sources.models import SourceState

MAX_ANCESTRY = 1000
SHALLOW_LEVELS = 4


def latest(session: Session, name: str) -> Policy | None:
    return session.scalars(
        select(Policy).where(Policy.name == name).order_by(Policy.version.desc()).limit(1)
    ).first()


def version(session: Session, name: str, number: int) -> Policy | None:
    return session.scalars(
        select(Policy).where(Policy.name == name, Policy.version == number)
    ).one_or_none()


def versions(session: Session, name: str) -> Sequence[Policy]:
    return session.scalars(
        select(Policy).where(Policy.name == name).order_by(Policy.version.desc())
    ).all()


def names(session: Session, after: str | None, limit: int) -> Sequence[Policy]:
    """The latest version of each policy, by name."""
    newest = (
        select(Policy.name, func.max(Policy.version).label("version"))
        .group_by(Policy.name)
        .subquery()
    )
    query = select(Policy).join(
        newest, (Policy.name == newest.c.name) & (Policy.version == newest.c.version)
    )
    if after is not None:
        query = query.where(Policy.name > after)
    return session.scalars(query.order_by(Policy.name).limit(limit)).all()


def add(session: Session, policy: Policy) -> Policy:
    session.add(policy)
    session.flush()
    return policy


def previous_generation(
    session: Session,
    start_ids: Sequence[uuid.UUID],
    namespace: str,
    name: str,
    exclude: uuid.UUID | None,
) -> Artifact | None:
    """The nearest model version named (namespace, name) upstream of the given datasets.

    A breadth-first walk, one query per level, stopping at the first level that holds such a
    version: in a self-consuming loop that is a level or two up. When a few levels find none,
    one recursive query over the whole ancestry (each node once) says whether any is there at
    all before the walk goes on.
    """
    query = select(Artifact.id).where(
        Artifact.kind == "model", Artifact.namespace == namespace, Artifact.name == name
    )
    if exclude is not None:
        query = query.where(Artifact.id != exclude)
    versions = set(session.scalars(query).all())
    if not versions:
        return None
    seen = set(start_ids)
    frontier = list(seen)
    for level in range(MAX_ANCESTRY):
        if not frontier:
            return None
        if level == SHALLOW_LEVELS and not versions & ancestors(session, frontier):
            return None
        parents = session.scalars(
            select(Edge.parent_id).where(equals_any(Edge.child_id, frontier)).distinct()
        ).all()
        frontier = [p for p in parents if p not in seen]
        seen.update(frontier)
        found = [p for p in frontier if p in versions]
        if found:
            return session.scalars(
                select(Artifact)
                .where(equals_any(Artifact.id, found))
                .order_by(Artifact.created_at.desc(), Artifact.id.desc())
                .limit(1)
            ).first()
    return None


def ancestors(session: Session, start_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Every ancestor of the given nodes, in one recursive query."""
    rows = session.execute(
        text(
            """
            WITH RECURSIVE up(id) AS (
                SELECT unnest(CAST(:start AS uuid[]))
                UNION
                SELECT e.parent_id FROM edges e JOIN up u ON e.child_id = u.id
            )
            SELECT id FROM up
            """
        ),
        {"start": list(start_ids)},
    ).scalars()
    return set(rows)


def carried_over(session: Session, previous: Artifact) -> set[uuid.UUID]:
    """The data the previous generation trained on: its training set and the datasets those
    derive from, up to (not through) the models that generated any of them."""
    rows = session.execute(
        text(
            """
            WITH RECURSIVE up(id) AS (
                SELECT CAST(:start AS uuid)
                UNION
                SELECT e.parent_id FROM edges e
                JOIN up u ON e.child_id = u.id
                JOIN artifacts child ON child.id = u.id
                WHERE child.kind = 'dataset' OR u.id = CAST(:start AS uuid)
            )
            SELECT id FROM up
            """
        ),
        {"start": previous.id},
    ).scalars()
    return set(rows)


class HumanSource(NamedTuple):
    """A dataset version a remediation may name: all human-made, its source not lost."""

    id: uuid.UUID
    namespace: str
    name: str
    version: str
    size: float | None


def human_sources(session: Session, exclude: Sequence[uuid.UUID], limit: int) -> list[HumanSource]:
    """Recorded dataset versions that are entirely human-made, the largest first; never one
    whose original source was last found lost or changed, since it cannot be trained on again."""
    gone = exists().where(
        SourceState.artifact_id == Artifact.id, SourceState.status.in_(("lost", "changed"))
    )
    query = (
        select(Artifact.id, Artifact.namespace, Artifact.name, Artifact.version, Artifact.size)
        .where(
            Artifact.kind == "dataset",
            Artifact.human_fraction >= HUMAN_SOURCE_MIN,
            Artifact.size > 0,
            Artifact.composition_stale.is_(False),
            ~gone,
        )
        .order_by(Artifact.size.desc(), Artifact.created_at.desc())
        .limit(limit)
    )
    if exclude:
        query = query.where(~equals_any(Artifact.id, exclude))
    return [HumanSource._make(row) for row in session.execute(query)]
