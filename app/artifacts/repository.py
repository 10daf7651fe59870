"""SQL for artifact versions."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ARRAY, ColumnElement, Select, Subquery, Text, exists, func, literal, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from app.artifacts.models import Artifact
from app.db import equals_any
from app.pagination import newest_first
from app.retractions.models import Retraction


def not_retracted() -> ColumnElement[bool]:
    """A retracted version is never "the newest version": nothing may link to it by default."""
    return ~exists().where(Retraction.artifact_id == Artifact.id)


def get(session: Session, artifact_id: uuid.UUID, kind: str | None = None) -> Artifact | None:
    artifact = session.get(Artifact, artifact_id)
    if artifact is None or (kind is not None and artifact.kind != kind):
        return None
    return artifact


def get_with_retraction(
    session: Session, artifact_id: uuid.UUID, kind: str
) -> tuple[Artifact, Retraction | None] | None:
    """A version of ``kind`` and the retraction that took it out, if any: one query."""
    row = session.execute(
        select(Artifact, Retraction)
        .outerjoin(Retraction, Retraction.artifact_id == Artifact.id)
        .where(Artifact.id == artifact_id, Artifact.kind == kind)
    ).first()
    return None if row is None else (row[0], row[1])


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


def _unnested(*columns: tuple[str, Sequence[str]]) -> Subquery:
    """Rows of the given text arrays side by side, as a subquery to join on: a long list of
    keys as one array parameter each (a long IN list of row values is planned far worse)."""
    return select(
        *(func.unnest(literal(list(values), ARRAY(Text))).label(name) for name, values in columns)
    ).subquery()


S = TypeVar("S", bound=Select[Any])


def _natural_keys_in(query: S, kind: str, keys: Sequence[tuple[str, str, str]]) -> S:
    """``query`` limited to versions of ``kind`` with these natural keys, in one indexed join."""
    wanted = _unnested(
        ("namespace", [k[0] for k in keys]),
        ("name", [k[1] for k in keys]),
        ("version", [k[2] for k in keys]),
    )
    return query.join(
        wanted,
        (Artifact.namespace == wanted.c.namespace)
        & (Artifact.name == wanted.c.name)
        & (Artifact.version == wanted.c.version),
    ).where(Artifact.kind == kind)


def many_by_natural_key(
    session: Session, kind: str, keys: Sequence[tuple[str, str, str]]
) -> dict[tuple[str, str, str], Artifact]:
    """The versions with these natural keys."""
    if not keys:
        return {}
    rows = session.scalars(_natural_keys_in(select(Artifact), kind, keys)).all()
    return {(a.namespace, a.name, a.version): a for a in rows}


@dataclass(frozen=True, slots=True)
class Mixable:
    """A version as a mixture reads it: its key, size, stored composition and figures, and
    why it was retracted (None while it is live). No ORM object: a training set of 100,000
    is read at once."""

    id: uuid.UUID
    namespace: str
    name: str
    version: str
    size: float | None
    composition: dict[str, Any]
    composition_stale: bool
    human_fraction: float
    synthetic_fraction: float
    retracted: str | None


def _mixable() -> Select[Any]:
    return select(
        Artifact.id,
        Artifact.namespace,
        Artifact.name,
        Artifact.version,
        Artifact.size,
        Artifact.composition,
        Artifact.composition_stale,
        Artifact.human_fraction,
        Artifact.synthetic_fraction,
        Retraction.reason,
    ).outerjoin(Retraction, Retraction.artifact_id == Artifact.id)


def mixable_by_natural_key(
    session: Session, kind: str, keys: Sequence[tuple[str, str, str]]
) -> dict[tuple[str, str, str], Mixable]:
    """``many_by_natural_key``, as :class:`Mixable` versions."""
    if not keys:
        return {}
    rows = session.execute(_natural_keys_in(_mixable(), kind, keys))
    return {(r.namespace, r.name, r.version): Mixable(*r) for r in rows}


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


def newest_mixable(
    session: Session, kind: str, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], Mixable]:
    """The newest live version of each (namespace, name), in one query joined on unnested
    arrays."""
    if not keys:
        return {}
    wanted = _unnested(("namespace", [k[0] for k in keys]), ("name", [k[1] for k in keys]))
    rows = session.execute(
        _mixable()
        .join(wanted, (Artifact.namespace == wanted.c.namespace) & (Artifact.name == wanted.c.name))
        .where(Artifact.kind == kind, Retraction.id.is_(None))  # joined: none retracted it
        .ext(distinct_on(Artifact.namespace, Artifact.name))
        .order_by(Artifact.namespace, Artifact.name, Artifact.created_at.desc(), Artifact.id.desc())
    )
    return {(r.namespace, r.name): Mixable(*r) for r in rows}
