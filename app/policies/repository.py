"""SQL for policies, self-consuming lineage and human-origin sources."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import exists, func, select, text
from sqlalchemy.orm import Session

from app.artifacts.models import Artifact
from app.artifacts.repository import is_source
from app.db import equals_any
from app.graph import upstream
from app.policies.models import Policy
from app.sources.models import CHECKED_STATUSES, SourceState

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
) -> uuid.UUID | None:
    """The nearest model version named (namespace, name) upstream of the given datasets.

    A breadth-first walk in one statement, stopping at the first level that holds such a
    version: in a self-consuming loop that is a level or two up. When the first few levels
    find none, one recursive query over the whole ancestry (each node once) says whether any
    is there at all before the walk goes further.
    """
    asked = {"start": list(start_ids), "namespace": namespace, "name": name, "exclude": exclude}
    nearest, exhausted = _walk_to_version(session, asked, SHALLOW_LEVELS)
    if nearest is not None or exhausted:
        return nearest
    if not _any_version_among_ancestors(session, asked):
        return None
    nearest, _ = _walk_to_version(session, asked, MAX_ANCESTRY)
    return nearest


_VERSIONS = """
    SELECT v.id FROM artifacts v
    WHERE v.kind = 'model' AND v.namespace = :namespace AND v.name = :name
      AND v.id IS DISTINCT FROM CAST(:exclude AS uuid)
"""


def _walk_to_version(
    session: Session, asked: dict[str, Any], levels: int
) -> tuple[uuid.UUID | None, bool]:
    """The newest version found at the first level (at most ``levels`` up) that holds one, and
    whether the walk ran out of ancestors before its bound. Each level is one row: the parents
    of the level below not seen before, so every ancestor is expanded once."""
    row = session.execute(
        text(
            f"""
            WITH RECURSIVE versions AS MATERIALIZED (
                SELECT array_agg(v.id) AS ids FROM ({_VERSIONS}) v
            ), walk(level, frontier, seen) AS (
                SELECT 0, CAST(:start AS uuid[]), CAST(:start AS uuid[])
                FROM versions WHERE versions.ids IS NOT NULL
                UNION ALL
                SELECT w.level + 1, parents.ids, w.seen || parents.ids
                FROM walk w CROSS JOIN versions
                CROSS JOIN LATERAL (
                    SELECT array_agg(DISTINCT e.parent_id) AS ids FROM edges e
                    WHERE e.child_id = ANY(w.frontier) AND e.parent_id <> ALL(w.seen)
                ) parents
                WHERE parents.ids IS NOT NULL AND w.level < :levels
                  AND NOT (w.frontier && versions.ids)
            )
            SELECT w.level, (
                SELECT a.id FROM artifacts a
                WHERE a.id = ANY(w.frontier) AND a.id = ANY(versions.ids)
                ORDER BY a.created_at DESC, a.id DESC
                LIMIT 1
            )
            FROM walk w CROSS JOIN versions
            ORDER BY w.level DESC
            LIMIT 1
            """
        ),
        {**asked, "levels": levels},
    ).first()
    if row is None:  # no other version of the model: nothing to walk to
        return None, True
    level, found = row
    return found, found is None and level < levels


def _any_version_among_ancestors(session: Session, asked: dict[str, Any]) -> bool:
    return bool(
        session.execute(
            text(
                f"""
                {upstream("CAST(:start AS uuid[])")}
                SELECT EXISTS (SELECT FROM up JOIN ({_VERSIONS}) v ON v.id = up.id)
                """
            ),
            asked,
        ).scalar_one()
    )


def carried_over(session: Session, previous: uuid.UUID) -> set[uuid.UUID]:
    """The data the previous generation trained on: its training set and the datasets those
    derive from, up to (not through) the models that generated any of them."""
    walk = upstream(
        "ARRAY[CAST(:start AS uuid)]",
        through="child.kind = 'dataset' OR u.id = CAST(:start AS uuid)",
    )
    rows = session.execute(
        text(f"{walk} SELECT id FROM up"),
        {"start": previous},
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
            Artifact.human_source,
            Artifact.size > 0,
            Artifact.composition_stale.is_(False),
            ~gone,
        )
        .order_by(Artifact.size.desc(), Artifact.created_at.desc(), Artifact.id.desc())
        .limit(limit)
    )
    if exclude:
        query = query.where(~equals_any(Artifact.id, exclude))
    return [HumanSource._make(row) for row in session.execute(query)]


def any_checked(session: Session) -> bool:
    """Whether any source has been found verified, changed or lost: until one has, no training
    set has checked human data and the judgement needs no walk upstream."""
    return bool(session.scalar(select(exists().where(SourceState.status.in_(CHECKED_STATUSES)))))


def checked_statuses(session: Session, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The status of each given source that was checked (verified, changed or lost)."""
    rows = session.execute(
        select(SourceState.artifact_id, SourceState.status)
        .join(Artifact, Artifact.id == SourceState.artifact_id)
        .where(
            equals_any(SourceState.artifact_id, ids),
            SourceState.status.in_(CHECKED_STATUSES),
            is_source(),
        )
    ).all()
    return {artifact_id: status for artifact_id, status in rows}
