"""SQL for artifact versions."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ARRAY, ColumnElement, Text, and_, exists, func, literal, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from app.artifacts.models import Artifact
from app.db import equals_any
from app.pagination import newest_first
from app.retractions.models import Retraction


def not_retracted() -> ColumnElement[bool]:
    """A retracted version is never "the newest version": nothing may link to it by default."""
    return ~exists().where(Retraction.artifact_id == Artifact.id)


def is_source() -> ColumnElement[bool]:
    """A dataset version that enters from outside with human data, at a place one can check;
    not a retracted one, which nothing derives from (it may never have existed)."""
    return and_(
        Artifact.kind == "dataset",
        Artifact.origin_human > 0,
        Artifact.uri.is_not(None),
        not_retracted(),
    )


def get(session: Session, artifact_id: uuid.UUID, kind: str | None = None) -> Artifact | None:
    artifact = session.get(Artifact, artifact_id)
    if artifact is None or (kind is not None and artifact.kind != kind):
        return None
    return artifact


def by_natural_key(
    session: Session, kind: str, namespace: str, name: str, version: str
) -> Artifact | None:
    return session.scalars(
        select(Artifact).where(
            Artifact.kind == kind,
            Artifact.namespace == namespace,
            Artifact.name == name,
            Artifact.version == version,
        )
    ).one_or_none()


def newest(
    session: Session,
    kind: str,
    namespace: str,
    name: str,
    *,
    excluding: str | None = None,
    as_of: datetime | None = None,
) -> Artifact | None:
    """The newest version not retracted, other than ``excluding``, recorded by ``as_of``."""
    query = select(Artifact).where(
        Artifact.kind == kind,
        Artifact.namespace == namespace,
        Artifact.name == name,
        not_retracted(),
    )
    if excluding is not None:
        query = query.where(Artifact.version != excluding)
    if as_of is not None:
        query = query.where(Artifact.created_at <= as_of)
    return session.scalars(
        query.order_by(Artifact.created_at.desc(), Artifact.id.desc()).limit(1)
    ).first()


def page(
    session: Session,
    kind: str,
    *,
    namespace: str | None,
    name: str | None,
    version: str | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[Artifact]:
    """Versions matching the parts of the natural key given, newest first, after a position."""
    query = select(Artifact).where(Artifact.kind == kind)
    if namespace is not None:
        query = query.where(Artifact.namespace == namespace)
    if name is not None:
        query = query.where(Artifact.name == name)
    if version is not None:
        query = query.where(Artifact.version == version)
    query = newest_first(query, Artifact.created_at, Artifact.id, after, limit)
    return session.scalars(query).all()


def many(session: Session, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Artifact]:
    if not ids:
        return {}
    rows = session.scalars(select(Artifact).where(equals_any(Artifact.id, ids))).all()
    return {a.id: a for a in rows}


def many_by_natural_key(
    session: Session, kind: str, keys: Sequence[tuple[str, str, str]]
) -> dict[tuple[str, str, str], Artifact]:
    """The versions with these natural keys, in one indexed join (a long IN list of row
    values is planned far worse)."""
    if not keys:
        return {}
    wanted = select(
        func.unnest(literal([k[0] for k in keys], ARRAY(Text))).label("namespace"),
        func.unnest(literal([k[1] for k in keys], ARRAY(Text))).label("name"),
        func.unnest(literal([k[2] for k in keys], ARRAY(Text))).label("version"),
    ).subquery()
    rows = session.scalars(
        select(Artifact)
        .join(
            wanted,
            (Artifact.namespace == wanted.c.namespace)
            & (Artifact.name == wanted.c.name)
            & (Artifact.version == wanted.c.version),
        )
        .where(Artifact.kind == kind)
    ).all()
    return {(a.namespace, a.name, a.version): a for a in rows}


_CREATED = "headwater.created_artifacts"


def created_here(session: Session) -> set[uuid.UUID]:
    """The versions this transaction created. No other writer can see them before commit, so
    nothing can hang below them yet: an edge into one closes no cycle, and their descendants
    need no locks."""
    root = session.get_transaction()
    marked: tuple[object, set[uuid.UUID]] | None = session.info.get(_CREATED)
    if marked is None or marked[0] is not root:
        marked = (root, set())
        session.info[_CREATED] = marked
    return marked[1]


def add(session: Session, artifact: Artifact) -> Artifact:
    session.add(artifact)
    session.flush()
    created_here(session).add(artifact.id)
    return artifact


def add_all(session: Session, artifacts: Sequence[Artifact]) -> None:
    """Insert many versions at once (their ids set), as multi-row INSERTs."""
    session.add_all(artifacts)
    session.flush()
    created_here(session).update(a.id for a in artifacts)


def newest_many(
    session: Session, kind: str, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], Artifact]:
    """The newest version of each (namespace, name), in one query joined on unnested arrays."""
    if not keys:
        return {}
    wanted = select(
        func.unnest(literal([k[0] for k in keys], ARRAY(Text))).label("namespace"),
        func.unnest(literal([k[1] for k in keys], ARRAY(Text))).label("name"),
    ).subquery()
    rows = session.scalars(
        select(Artifact)
        .join(wanted, (Artifact.namespace == wanted.c.namespace) & (Artifact.name == wanted.c.name))
        .where(Artifact.kind == kind, not_retracted())
        .ext(distinct_on(Artifact.namespace, Artifact.name))
        .order_by(Artifact.namespace, Artifact.name, Artifact.created_at.desc(), Artifact.id.desc())
    ).all()
    return {(a.namespace, a.name): a for a in rows}
