"""SQL for policies, self-consuming lineage and human-origin sources."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app.artifacts.models import Artifact
from app.policies.models import Policy

MAX_ANCESTRY = 1000


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
    """The nearest model version named (namespace, name) upstream of the given datasets."""
    row = session.execute(
        text(
            """
            WITH RECURSIVE up(id, distance) AS (
                SELECT unnest(CAST(:start AS uuid[])), 0
                UNION
                SELECT e.parent_id, u.distance + 1
                FROM edges e JOIN up u ON e.child_id = u.id
                WHERE u.distance < :max_distance
            )
            SELECT a.id FROM up JOIN artifacts a ON a.id = up.id
            WHERE a.kind = 'model' AND a.namespace = :namespace AND a.name = :name
              AND a.id IS DISTINCT FROM CAST(:exclude AS uuid)
            GROUP BY a.id, a.created_at
            ORDER BY min(up.distance), a.created_at DESC
            LIMIT 1
            """
        ),
        {
            "start": list(start_ids),
            "namespace": namespace,
            "name": name,
            "exclude": exclude,
            "max_distance": MAX_ANCESTRY,
        },
    ).first()
    return None if row is None else session.get(Artifact, row[0])


def ancestry(session: Session, start: uuid.UUID) -> set[uuid.UUID]:
    """Every ancestor of a node, and the node."""
    rows = session.execute(
        text(
            """
            WITH RECURSIVE up(id) AS (
                SELECT CAST(:start AS uuid)
                UNION
                SELECT e.parent_id FROM edges e JOIN up u ON e.child_id = u.id
            )
            SELECT id FROM up
            """
        ),
        {"start": start},
    ).scalars()
    return set(rows)


def human_sources(session: Session, exclude: Sequence[uuid.UUID], limit: int) -> Sequence[Artifact]:
    """Recorded dataset versions that are entirely human-made, the largest first."""
    query = (
        select(Artifact)
        .where(
            Artifact.kind == "dataset",
            Artifact.human_fraction >= 1.0 - 1e-9,
            Artifact.size > 0,
            Artifact.composition_stale.is_(False),
        )
        .order_by(Artifact.size.desc(), Artifact.created_at.desc())
        .limit(limit)
    )
    if exclude:
        query = query.where(Artifact.id.not_in(exclude))
    return session.scalars(query).all()
