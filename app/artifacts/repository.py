"""SQL for artifact versions."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    DateTime,
    Integer,
    Select,
    Subquery,
    Text,
    and_,
    bindparam,
    exists,
    func,
    literal,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.orm import Session, aliased, defer

from app.artifacts.models import Artifact
from app.db import DriverRead, equals_any, json_dumps
from app.lineage.models import Edge
from app.pagination import newest_first, where_given
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


# The columns of a version that its read shows or derives from, and its retraction's beside
# them: selected as plain columns by a statement built once, since a point read spent more
# building the statement and two ORM entities than PostgreSQL spent finding the row; run by the
# driver (``DriverRead``), since SQLAlchemy's execution of it cost more again.
_NOT_READ = frozenset(
    {
        "composition_packed",
        "declared_origin",
        "human_fraction",
        "synthetic_fraction",
        "unknown_fraction",
        "composition_updated_at",
        "natural_key_hash",
        "human_source",
    }
)
RETRACTION_COLUMNS = ("id", "reason", "retracted_by", "created_at")
_ARTIFACTS, _RETRACTIONS = Artifact.__table__, Retraction.__table__
_WITH_RETRACTION = DriverRead(
    select(
        *(c for c in _ARTIFACTS.c if c.name not in _NOT_READ),
        *(_RETRACTIONS.c[c].label(f"retraction_{c}") for c in RETRACTION_COLUMNS),
    )
    .select_from(_ARTIFACTS.outerjoin(_RETRACTIONS, _RETRACTIONS.c.artifact_id == _ARTIFACTS.c.id))
    .where(_ARTIFACTS.c.id == bindparam("artifact_id"), _ARTIFACTS.c.kind == bindparam("kind"))
)


def get_with_retraction(session: Session, artifact_id: uuid.UUID, kind: str) -> Any:
    """A version of ``kind`` with the columns of the retraction that took it out (``retraction_``
    and the column's name; None when it was not retracted): one query, one row of plain values
    (a named tuple; None when there is no such version)."""
    return _WITH_RETRACTION.first(session, {"artifact_id": artifact_id, "kind": kind})


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
    query = where_given(
        select(Artifact).where(Artifact.kind == kind),
        (Artifact.namespace, namespace),
        (Artifact.name, name),
        (Artifact.version, version),
    )
    query = newest_first(query, Artifact.created_at, Artifact.id, after, limit)
    return session.scalars(query).all()


def many(
    session: Session, ids: Sequence[uuid.UUID], *, compositions: bool = True
) -> dict[uuid.UUID, Artifact]:
    """The versions with these ids; without ``compositions``, their stored composition (both
    forms) and facets (the long JSON of a row) are read only if asked for: a write that names
    its parents needs their keys, and propagation reads compositions itself."""
    if not ids:
        return {}
    query = select(Artifact).where(equals_any(Artifact.id, ids))
    if not compositions:
        query = query.options(
            defer(Artifact.composition),
            defer(Artifact.composition_packed),
            defer(Artifact.facets),
        )
    rows = session.scalars(query).all()
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


_CREATED = "headwater.created_artifacts"
_FED = "headwater.fed_artifacts"


def _this_transaction(session: Session, name: str) -> set[uuid.UUID]:
    """A set of ids kept for the session's current (outermost) transaction."""
    root = session.get_transaction()
    marked: tuple[object, set[uuid.UUID]] | None = session.info.get(name)
    if marked is None or marked[0] is not root:
        marked = (root, set())
        session.info[name] = marked
    return marked[1]


def created_here(session: Session) -> set[uuid.UUID]:
    """The versions this transaction created. No other writer can see them before commit, so
    nothing can hang below them yet: an edge into one closes no cycle, and their descendants
    need no locks."""
    return _this_transaction(session, _CREATED)


def gained_children(session: Session, parent_ids: Iterable[uuid.UUID]) -> None:
    """Versions of this transaction that now have children are leaves no longer: an edge
    into one of them may close a cycle through what hangs below it."""
    created_here(session).difference_update(parent_ids)


def derivations(session: Session, child_id: uuid.UUID) -> dict[tuple[uuid.UUID, str], float | None]:
    """A version's recorded parents: (parent, relation) to the edge's amount."""
    rows = session.execute(
        select(Edge.parent_id, Edge.relation, Edge.amount).where(Edge.child_id == child_id)
    )
    return {(parent, relation): amount for parent, relation, amount in rows}


def fed_here(session: Session) -> set[uuid.UUID]:
    """The versions this transaction gave parents. One it created and did not give any has
    no edges in: there is nothing recorded to look up."""
    return _this_transaction(session, _FED)


def gained_parents(session: Session, child_ids: Iterable[uuid.UUID]) -> None:
    fed_here(session).update(child_ids)


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


NaturalKey = tuple[str, str, str, str]
"""kind, namespace, name, version"""


def by_natural_keys(session: Session, keys: Sequence[NaturalKey]) -> dict[NaturalKey, Artifact]:
    """The versions with these natural keys, of either kind, in one indexed join; their stored
    composition (the longest column) is read only if asked for: a write that names versions
    needs their keys, origins and facets, and propagation reads compositions itself."""
    unique = list(dict.fromkeys(keys))
    if not unique:
        return {}
    wanted = _unnested(
        *(
            (column, [k[i] for k in unique])
            for i, column in enumerate(("kind", "namespace", "name", "version"))
        )
    )
    rows = session.scalars(
        select(Artifact)
        .options(defer(Artifact.composition))
        .join(
            wanted,
            (Artifact.kind == wanted.c.kind)
            & (Artifact.namespace == wanted.c.namespace)
            & (Artifact.name == wanted.c.name)
            & (Artifact.version == wanted.c.version),
        )
    ).all()
    return {(a.kind, a.namespace, a.name, a.version): a for a in rows}


NewestWanted = tuple[str, str, str, str | None, datetime | None]
"""kind, namespace, name, a version to pass over, the moment to look from (see ``newest``)"""


def newest_each(session: Session, wanted: Sequence[NewestWanted]) -> dict[NewestWanted, Artifact]:
    """``newest`` for many names at once: one query, a lateral lookup per name (compositions
    deferred, as ``by_natural_keys``)."""
    unique = list(dict.fromkeys(wanted))
    if not unique:
        return {}
    asked = select(
        func.unnest(literal(list(range(len(unique))), ARRAY(Integer))).label("i"),
        *(
            func.unnest(literal([w[i] for w in unique], ARRAY(Text))).label(column)
            for i, column in enumerate(("kind", "namespace", "name", "excluding"))
        ),
        func.unnest(literal([w[4] for w in unique], ARRAY(DateTime(timezone=True)))).label("as_of"),
    ).subquery()
    candidate = aliased(Artifact)
    newest_one = (
        select(candidate.id)
        .where(
            candidate.kind == asked.c.kind,
            candidate.namespace == asked.c.namespace,
            candidate.name == asked.c.name,
            ~exists().where(Retraction.artifact_id == candidate.id),
            or_(asked.c.excluding.is_(None), candidate.version != asked.c.excluding),
            or_(asked.c.as_of.is_(None), candidate.created_at <= asked.c.as_of),
        )
        .order_by(candidate.created_at.desc(), candidate.id.desc())
        .limit(1)
        .lateral()
    )
    rows = session.execute(
        select(Artifact, asked.c.i)
        .options(defer(Artifact.composition))
        .select_from(asked)
        .join(newest_one, true())
        .join(Artifact, Artifact.id == newest_one.c.id)
    ).all()
    return {unique[i]: artifact for artifact, i in rows}


# (column, the element type its values travel as, the SQL that makes the stored value of it)
_BULK_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("id", "uuid", "id"),
    ("kind", "text", "kind"),
    ("namespace", "text", "namespace"),
    ("name", "text", "name"),
    ("version", "text", "version"),
    ("size", "float8", "size"),
    ("uri", "text", "uri"),
    ("checksum", "text", "checksum"),
    ("description", "text", "description"),
    ("facets", "text", "CAST(facets AS jsonb)"),
    ("origin_human", "float8", "origin_human"),
    ("origin_synthetic", "float8", "origin_synthetic"),
    ("origin_unknown", "float8", "origin_unknown"),
    ("origin_synthetic_depth", "int", "origin_synthetic_depth"),
    ("origin_digital_source_type", "text", "origin_digital_source_type"),
    ("declared_origin", "text", "CAST(declared_origin AS jsonb)"),
    ("origin_declared_by", "text", "origin_declared_by"),
    ("origin_declared_at", "timestamptz", "origin_declared_at"),
    ("composition", "text", "CAST(composition AS jsonb)"),
    ("composition_packed", "bytea", "composition_packed"),
    ("total_amount", "float8", "total_amount"),
    ("weights_assumed", "bool", "weights_assumed"),
    ("human_fraction", "float8", "human_fraction"),
    ("synthetic_fraction", "float8", "synthetic_fraction"),
    ("unknown_fraction", "float8", "unknown_fraction"),
    ("composition_stale", "bool", "composition_stale"),
)
_JSON_COLUMNS = frozenset({"facets", "declared_origin", "composition"})


def _bulk_value(artifact: Artifact, column: str) -> Any:
    value = getattr(artifact, column)
    if column == "facets":
        return json_dumps(value or {})
    if column in _JSON_COLUMNS:
        return None if value is None else json_dumps(value)
    if column in ("weights_assumed", "composition_stale"):
        return bool(value)
    return value


def insert_new(session: Session, artifacts: Sequence[Artifact]) -> None:
    """Insert many new versions (their ids set) in one statement of one array per column: the
    statement's text stays short however many rows it carries. The objects stay outside the
    session; what the write goes on to read (ids, keys) they hold already."""
    if not artifacts:
        return
    names = ", ".join(column for column, _, _ in _BULK_COLUMNS)
    arrays = ", ".join(f"CAST(:{column} AS {kind}[])" for column, kind, _ in _BULK_COLUMNS)
    stored = ", ".join(sql for _, _, sql in _BULK_COLUMNS)
    session.execute(
        text(
            f"INSERT INTO artifacts ({names})"
            f" SELECT {stored} FROM unnest({arrays}) AS given({names})"
        ),
        {column: [_bulk_value(a, column) for a in artifacts] for column, _, _ in _BULK_COLUMNS},
    )
    created_here(session).update(a.id for a in artifacts)
