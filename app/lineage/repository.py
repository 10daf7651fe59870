"""SQL for edges and graph walks."""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, DateTime, Text, func, literal, select, text
from sqlalchemy.dialects.postgresql import JSONB, UUID, insert
from sqlalchemy.orm import Session

from app.artifacts import repository as artifact_repository
from app.artifacts.models import Artifact
from app.db import json_dumps
from app.lineage.models import RECORDED, Alias, Edge, LineageEvent
from app.pagination import newest_first, where_given


def find(session: Session, child_id: uuid.UUID, parent_id: uuid.UUID, relation: str) -> Edge | None:
    return session.scalars(
        select(Edge).where(
            Edge.child_id == child_id, Edge.parent_id == parent_id, Edge.relation == relation
        )
    ).one_or_none()


def remove(session: Session, edge: Edge) -> None:
    session.delete(edge)
    session.flush()


def between(session: Session, pairs: Sequence[tuple[uuid.UUID, uuid.UUID]]) -> list[Edge]:
    """Every edge, of any relation, from each parent to its child in ``pairs``: one query, the
    pairs joined as unnested arrays (a long IN list of row values overflows the parser's
    stack)."""
    if not pairs:
        return []
    unique = list(dict.fromkeys(pairs))
    wanted = select(
        func.unnest(literal([p[0] for p in unique], ARRAY(UUID(as_uuid=True)))).label("child"),
        func.unnest(literal([p[1] for p in unique], ARRAY(UUID(as_uuid=True)))).label("parent"),
    ).subquery()
    return list(
        session.scalars(
            select(Edge)
            .join(wanted, (Edge.child_id == wanted.c.child) & (Edge.parent_id == wanted.c.parent))
            .order_by(Edge.created_at, Edge.id)
        )
    )


@dataclass(frozen=True)
class StoredEvent:
    """An event as stored: the run's earlier events are read back in this shape."""

    received_at: datetime
    payload: dict[str, Any]


def record_event(
    session: Session, values: Mapping[str, Any]
) -> tuple[uuid.UUID | None, list[StoredEvent]]:
    """Store an accepted OpenLineage event: its id, and the events of its run stored before it
    (received first, first); no id when an event with its fingerprint is stored already.

    One statement: the insert's own row is not in the snapshot its query reads. A delivery
    racing another of the same event waits on the fingerprint's unique index until that one's
    transaction ends, then stores it or not."""
    rows = session.execute(
        text(
            """
            WITH stored AS (
                INSERT INTO lineage_events (id, fingerprint, event_kind, event_type, run_id,
                    job_namespace, job_name, event_time, producer, payload)
                VALUES (:id, :fingerprint, :event_kind, :event_type, :run_id, :job_namespace,
                    :job_name, :event_time, :producer, CAST(:payload AS jsonb))
                ON CONFLICT (fingerprint) DO NOTHING
                RETURNING id
            )
            SELECT stored.id, e.received_at, e.payload
            FROM stored LEFT JOIN lineage_events e ON e.run_id = CAST(:run_id AS text)
            ORDER BY e.received_at, e.id
            """
        ).columns(id=UUID(as_uuid=True), received_at=DateTime(timezone=True), payload=JSONB),
        {**values, "id": uuid.uuid4(), "payload": json_dumps(values["payload"])},
    ).all()
    if not rows:
        return None, []
    earlier = [StoredEvent(r.received_at, r.payload) for r in rows if r.received_at is not None]
    return rows[0].id, earlier


def record_events(session: Session, rows: Sequence[Mapping[str, Any]]) -> dict[str, uuid.UUID]:
    """Store many accepted OpenLineage events in one statement, in order: the id of each
    stored, by fingerprint (one stored already, or by a delivery racing this one, is left
    out: it waits on the fingerprint's unique index like ``record_event``)."""
    if not rows:
        return {}
    columns = ("fingerprint", "event_kind", "event_type", "run_id", "job_namespace", "job_name")
    stored = session.execute(
        text(
            """
            INSERT INTO lineage_events (id, fingerprint, event_kind, event_type, run_id,
                job_namespace, job_name, event_time, producer, payload)
            SELECT id, fingerprint, event_kind, event_type, run_id, job_namespace, job_name,
                event_time, producer, payload
            FROM unnest(
                CAST(:id AS uuid[]), CAST(:fingerprint AS text[]), CAST(:event_kind AS text[]),
                CAST(:event_type AS text[]), CAST(:run_id AS text[]),
                CAST(:job_namespace AS text[]), CAST(:job_name AS text[]),
                CAST(:event_time AS timestamptz[]), CAST(:producer AS text[]),
                CAST(:payload AS jsonb[])
            ) WITH ORDINALITY AS given(id, fingerprint, event_kind, event_type, run_id,
                job_namespace, job_name, event_time, producer, payload, position)
            ORDER BY position
            ON CONFLICT (fingerprint) DO NOTHING
            RETURNING id, fingerprint
            """
        ).columns(id=UUID(as_uuid=True)),
        {
            "id": [uuid.uuid4() for _ in rows],
            **{column: [row[column] for row in rows] for column in columns},
            "event_time": [row["event_time"] for row in rows],
            "producer": [row["producer"] for row in rows],
            "payload": [json_dumps(row["payload"]) for row in rows],
        },
    ).all()
    return {r.fingerprint: r.id for r in stored}


def stored_events(
    session: Session, fingerprints: Sequence[str], run_ids: Sequence[str]
) -> tuple[set[str], dict[str, list[StoredEvent]]]:
    """Which of ``fingerprints`` are stored, and the stored events of each run in ``run_ids``
    (received first, first): one query."""
    rows = session.execute(
        text(
            """
            SELECT fingerprint, run_id, received_at, payload FROM lineage_events
            WHERE fingerprint = ANY(CAST(:fingerprints AS text[]))
                OR run_id = ANY(CAST(:run_ids AS text[]))
            ORDER BY received_at, id
            """
        ).columns(received_at=DateTime(timezone=True), payload=JSONB),
        {"fingerprints": list(fingerprints), "run_ids": list(run_ids)},
    ).all()
    wanted = set(fingerprints)
    runs = set(run_ids)
    seen = {r.fingerprint for r in rows if r.fingerprint in wanted}
    earlier: dict[str, list[StoredEvent]] = {}
    for r in rows:
        if r.run_id in runs:
            earlier.setdefault(r.run_id, []).append(StoredEvent(r.received_at, r.payload))
    return seen, earlier


def event_recorded(session: Session, fingerprint: str) -> bool:
    """Whether an OpenLineage event with this fingerprint was already accepted."""
    found = select(LineageEvent.id).where(LineageEvent.fingerprint == fingerprint)
    return session.scalars(found).first() is not None


def linked(session: Session, edges: Sequence[Edge]) -> None:
    """What the versions of this transaction are, now that these edges join them."""
    artifact_repository.gained_children(session, (e.parent_id for e in edges))
    artifact_repository.gained_parents(session, (e.child_id for e in edges))


def add(session: Session, edges: Sequence[Edge]) -> None:
    linked(session, edges)
    session.add_all(edges)
    session.flush()


def replace_amounts(session: Session, changes: Sequence[tuple[Edge, float, str | None]]) -> None:
    """Give recorded edges a new amount, read from the facet field named beside it."""
    if not changes:
        return
    for edge, amount, source in changes:
        edge.amount = amount
        edge.amount_source = source
    session.flush()


def insert_many(session: Session, edges: Sequence[Edge]) -> None:
    """Insert many new edges in one statement of one array per column (see
    ``artifacts.repository.insert_new``); the objects stay outside the session."""
    if not edges:
        return
    linked(session, edges)
    for edge in edges:
        edge.id = edge.id or uuid.uuid4()
    session.execute(
        text(
            """
            INSERT INTO edges (id, child_id, parent_id, relation, amount, amount_source)
            SELECT * FROM unnest(
                CAST(:id AS uuid[]), CAST(:child_id AS uuid[]), CAST(:parent_id AS uuid[]),
                CAST(:relation AS text[]), CAST(:amount AS float8[]),
                CAST(:amount_source AS text[])
            )
            """
        ),
        {
            "id": [e.id for e in edges],
            **{name: [getattr(e, name) for e in edges] for name in RECORDED},
        },
    )


def path_between(session: Session, source: uuid.UUID, target: uuid.UUID) -> list[uuid.UUID] | None:
    """A shortest downstream path source → … → target, or None when target is not downstream.

    One recursive query finds the nodes that are both downstream of source and upstream of
    target; the path is then read off that (small) subgraph in memory.
    """
    if source == target:
        return [source]
    rows = session.execute(
        text(
            """
            WITH RECURSIVE down(id) AS (
                SELECT CAST(:source AS uuid)
                UNION
                SELECT e.child_id FROM edges e JOIN down d ON e.parent_id = d.id
            ), up(id) AS (
                SELECT CAST(:target AS uuid)
                UNION
                SELECT e.parent_id FROM edges e JOIN up u ON e.child_id = u.id
                WHERE EXISTS (SELECT 1 FROM down WHERE down.id = e.parent_id)
            )
            SELECT e.parent_id, e.child_id FROM edges e
            WHERE e.parent_id IN (SELECT id FROM up) AND e.child_id IN (SELECT id FROM up)
            """
        ),
        {"source": source, "target": target},
    ).all()
    children: dict[uuid.UUID, list[uuid.UUID]] = {}
    for parent, child in rows:
        children.setdefault(parent, []).append(child)
    previous: dict[uuid.UUID, uuid.UUID | None] = {source: None}
    queue = deque([source])
    while queue:
        node = queue.popleft()
        if node == target:
            path = [node]
            while (step := previous[path[-1]]) is not None:
                path.append(step)
            return path[::-1]
        for child in children.get(node, []):
            if child not in previous:
                previous[child] = node
                queue.append(child)
    return None


def walk(
    session: Session, start: uuid.UUID, *, upstream: bool, depth: int, max_nodes: int
) -> tuple[list[tuple[uuid.UUID, int]], list[Edge], bool]:
    """Nodes within ``depth`` hops of start (with their distance), nearest first and at most
    ``max_nodes`` of them, the edges among them, and whether nodes were left out — in one
    recursive query."""
    step, back = ("parent_id", "child_id") if upstream else ("child_id", "parent_id")
    rows = session.execute(
        text(
            f"""
            WITH RECURSIVE reach(id, distance) AS (
                SELECT CAST(:start AS uuid), 0
                UNION
                SELECT e.{step}, r.distance + 1
                FROM edges e JOIN reach r ON e.{back} = r.id
                WHERE r.distance < :depth
            ), nodes AS (
                SELECT id, min(distance) AS distance FROM reach GROUP BY id
                ORDER BY min(distance), id LIMIT :max_nodes + 1
            )
            SELECT n.id, n.distance, NULL::uuid, NULL::uuid, NULL::uuid, NULL, NULL::float8,
                NULL::timestamptz
            FROM nodes n
            UNION ALL
            SELECT NULL, NULL, e.id, e.child_id, e.parent_id, e.relation, e.amount, e.created_at
            FROM edges e
            JOIN nodes c ON c.id = e.{back}
            JOIN nodes p ON p.id = e.{step}
            WHERE c.distance < :depth
            """
        ),
        {"start": start, "depth": depth, "max_nodes": max_nodes},
    ).all()
    nodes: list[tuple[uuid.UUID, int]] = []
    edges: list[Edge] = []
    for row in rows:
        if row[0] is not None:
            nodes.append((row[0], row[1]))
        else:
            edges.append(
                Edge(
                    id=row[2],
                    child_id=row[3],
                    parent_id=row[4],
                    relation=row[5],
                    amount=row[6],
                    created_at=row[7],
                )
            )
    nodes.sort(key=lambda n: (n[1], n[0]))
    truncated = len(nodes) > max_nodes
    if truncated:
        nodes = nodes[:max_nodes]
        kept = {node for node, _ in nodes}
        edges = [e for e in edges if e.child_id in kept and e.parent_id in kept]
    return nodes, edges, truncated


def events(
    session: Session,
    *,
    run_id: str | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[LineageEvent]:
    query = where_given(select(LineageEvent), (LineageEvent.run_id, run_id))
    query = newest_first(query, LineageEvent.received_at, LineageEvent.id, after, limit)
    return session.scalars(query).all()


# --- aliases: other identifiers of the same dataset (the symlinks facet) -------------------------

Name = tuple[str, str]


def _wanted(names: Sequence[Name]) -> Any:
    """The names as a table joined on unnested arrays: a long IN list of row values is planned
    far worse, and too many of them overflow the parser's stack."""
    unique = list(dict.fromkeys(names))
    return select(
        func.unnest(literal([n[0] for n in unique], ARRAY(Text))).label("namespace"),
        func.unnest(literal([n[1] for n in unique], ARRAY(Text))).label("name"),
    ).subquery()


def canonical_names(session: Session, kind: str, names: Sequence[Name]) -> dict[Name, Name]:
    """For each name that is an alias, the identifier its versions are recorded under."""
    found = canonical_names_each(session, [(kind, *name) for name in names])
    return {(k[1], k[2]): canonical for k, canonical in found.items()}


KindName = tuple[str, str, str]
"""kind, namespace, name"""


def canonical_names_each(session: Session, named: Sequence[KindName]) -> dict[KindName, Name]:
    """``canonical_names`` for names of either kind, in one query."""
    if not named:
        return {}
    unique = list(dict.fromkeys(named))
    wanted = select(
        *(
            func.unnest(literal([n[i] for n in unique], ARRAY(Text))).label(column)
            for i, column in enumerate(("kind", "namespace", "name"))
        )
    ).subquery()
    rows = session.execute(
        select(
            Alias.kind, Alias.namespace, Alias.name, Alias.canonical_namespace, Alias.canonical_name
        ).join(
            wanted,
            (Alias.kind == wanted.c.kind)
            & (Alias.namespace == wanted.c.namespace)
            & (Alias.name == wanted.c.name),
        )
    ).all()
    return {(r[0], r[1], r[2]): (r[3], r[4]) for r in rows}


def recorded_names(session: Session, kind: str, names: Sequence[Name]) -> set[Name]:
    """The names some version is recorded under."""
    if not names:
        return set()
    wanted = _wanted(names)
    rows = session.execute(
        select(Artifact.namespace, Artifact.name)
        .join(wanted, (Artifact.namespace == wanted.c.namespace) & (Artifact.name == wanted.c.name))
        .where(Artifact.kind == kind)
        .distinct()
    ).all()
    return {(r[0], r[1]) for r in rows}


def add_aliases(session: Session, kind: str, aliases: Mapping[Name, Name]) -> None:
    """Record aliases; a name already an alias keeps the identifier it leads to."""
    if not aliases:
        return
    session.execute(
        insert(Alias)
        .values(
            [
                {
                    "kind": kind,
                    "namespace": alias[0],
                    "name": alias[1],
                    "canonical_namespace": canonical[0],
                    "canonical_name": canonical[1],
                }
                for alias, canonical in aliases.items()
            ]
        )
        .on_conflict_do_nothing()
    )


def aliases_of(session: Session, kind: str, canonical: Name) -> list[Name]:
    rows = session.execute(
        select(Alias.namespace, Alias.name)
        .where(
            Alias.kind == kind,
            Alias.canonical_namespace == canonical[0],
            Alias.canonical_name == canonical[1],
        )
        .order_by(Alias.namespace, Alias.name)
    ).all()
    return [(r[0], r[1]) for r in rows]
