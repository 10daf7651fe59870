"""SQL for the propagation engine: load a descendant subgraph, write compositions back in bulk."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from app.artifacts.models import Artifact
from app.composition.models import PropagationJob
from app.composition.origin import Origin
from app.db import equals_any
from app.graph import downstream
from app.metrics import LOCK_WAIT_SECONDS
from app.pagination import newest_first, where_given

# Stored compositions read per statement.
READ_CHUNK = 5_000

# every descendant of the ``:roots`` parameter, the roots included
DOWN_FROM_ROOTS = downstream("CAST(:roots AS uuid[])")


@dataclass(frozen=True, slots=True)
class NodeState:
    id: uuid.UUID
    kind: str
    size: float | None
    origin: Origin | None
    composition: dict[str, Any] | None  # None where the loader leaves it out (see below)
    total_amount: float | None
    weights_assumed: bool
    stale: bool
    # the stored figures of the composition: enough for whoever needs no whole vector
    human_fraction: float
    synthetic_fraction: float
    unknown_fraction: float


@dataclass(frozen=True, slots=True)
class IncomingEdge:
    child_id: uuid.UUID
    parent_id: uuid.UUID
    relation: str
    amount: float | None
    parent: NodeState
    amount_source: str | None = None


_STATE_COLUMNS = """
    a.id, a.kind, a.size, a.origin_human, a.origin_synthetic, a.origin_unknown,
    a.origin_synthetic_depth, a.origin_digital_source_type, {composition}, a.total_amount,
    a.weights_assumed, a.composition_stale, a.human_fraction, a.synthetic_fraction,
    a.unknown_fraction
"""


STATE_WIDTH = 15


def state_columns(composition: str = "a.composition") -> str:
    """The ``artifacts a`` columns a :class:`NodeState` is read from (``STATE_WIDTH`` of them),
    with ``composition`` in the composition's place (``NULL::jsonb`` where it is not needed)."""
    return _STATE_COLUMNS.format(composition=composition)


def node_state(row: Any, offset: int = 0) -> NodeState:
    """The :class:`NodeState` in ``row`` from ``offset``, as ``state_columns`` selected it."""
    (id_, kind, size, human, synthetic, unknown, depth, dst, composition, total, assumed, stale) = (
        row[offset : offset + 12]
    )
    fractions = row[offset + 12 : offset + STATE_WIDTH]
    origin = stored_origin(human, synthetic, unknown, depth, dst)
    return NodeState(id_, kind, size, origin, composition, total, assumed, stale, *fractions)


def stored_origin(
    human: float | None,
    synthetic: float | None,
    unknown: float | None,
    depth: int | None,
    digital_source_type: str | None,
) -> Origin | None:
    """A version's declared origin from its ``origin_*`` columns (None: it declared none)."""
    if human is None or synthetic is None or unknown is None:
        return None
    return Origin(
        human=human,
        synthetic=synthetic,
        unknown=unknown,
        synthetic_depth=depth or 1,
        digital_source_type=digital_source_type,
    )


def lock_descendants(session: Session, roots: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """Row-lock the roots and every descendant against other writers until this transaction ends,
    and return them.

    A writer that adds an edge (or a node) below one of these nodes first locks its parent
    ``FOR SHARE``, so it waits here and then reads the recomputed value; one that locked its
    parent first is waited for, and its node is found by the next round. The rounds repeat until
    no new descendant appears, so the set returned is every descendant there will be until commit.
    The first round walks and locks; the later ones walk and lock only what is new. Each lock
    is taken in id order, so writers whose subgraphs overlap queue rather than deadlock.
    """
    with LOCK_WAIT_SECONDS.time():
        held = set(
            session.execute(
                text(
                    f"""
                    {DOWN_FROM_ROOTS}
                    SELECT a.id FROM artifacts a
                    WHERE a.id IN (SELECT id FROM down)
                    ORDER BY a.id
                    FOR NO KEY UPDATE
                    """
                ),
                {"roots": list(roots)},
            ).scalars()
        )
    while True:
        new = set(descendant_ids(session, roots)) - held
        if not new:
            return list(held)
        lock_nodes(session, list(new))
        held |= new


def lock_for_reading(session: Session, ids: Sequence[uuid.UUID]) -> None:
    """Lock nodes ``FOR SHARE`` before reading their compositions: a propagation that is changing
    one of them is waited for, and its result is what is read. The parents of new edges are
    locked so: a propagation that starts later then waits for this transaction, and finds the new
    child among the parent's descendants."""
    if not ids:
        return
    with LOCK_WAIT_SECONDS.time():
        session.execute(
            text(
                """
                SELECT 1 FROM artifacts WHERE id = ANY(CAST(:ids AS uuid[]))
                ORDER BY id FOR SHARE
                """
            ),
            {"ids": sorted(set(ids))},
        )


def load_nodes(session: Session, ids: Sequence[uuid.UUID]) -> list[NodeState]:
    """The given nodes, their stored compositions left out (they are about to be recomputed)."""
    rows = session.execute(
        text(
            f"""
            SELECT {state_columns("NULL::jsonb")} FROM artifacts a
            WHERE a.id = ANY(CAST(:ids AS uuid[]))
            """
        ),
        {"ids": list(ids)},
    )
    return [node_state(row) for row in rows]


def load_incoming(
    session: Session,
    child_ids: Sequence[uuid.UUID],
    *,
    outside_only: bool = False,
    compositions: bool = True,
) -> list[IncomingEdge]:
    """Every edge into the given nodes, with its parent's stored state.

    With ``outside_only`` a parent's stored composition comes only when the parent is not
    itself one of the given nodes: a propagation computes those, and loading every stored
    copy of a large subgraph would cost memory for nothing. Without ``compositions`` none
    comes: the weights and the stored figures need no vector.
    """
    composition = "a.composition"
    if not compositions:
        composition = "NULL::jsonb"
    elif outside_only:
        composition = "CASE WHEN inside.id IS NULL THEN a.composition END"
    rows = session.execute(
        text(
            f"""
            WITH given(id) AS (SELECT unnest(CAST(:ids AS uuid[])))
            SELECT e.child_id, e.parent_id, e.relation, e.amount, e.amount_source,
                   {state_columns(composition)}
            FROM given JOIN edges e ON e.child_id = given.id
            JOIN artifacts a ON a.id = e.parent_id
            LEFT JOIN given inside ON inside.id = e.parent_id
            """
        ),
        {"ids": list(child_ids)},
    )
    return [
        IncomingEdge(row[0], row[1], row[2], row[3], node_state(row, 5), row[4]) for row in rows
    ]


@dataclass(frozen=True, slots=True)
class ChunkNode:
    """A node about to be recomputed: what its own composition depends on, and when its stored
    composition was last written (to tell later whether anyone rewrote it since)."""

    id: uuid.UUID
    kind: str
    size: float | None
    origin: Origin | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ChunkEdge:
    """An edge into a node of a chunk, by the child's position in the chunk; ``parent_index`` is
    the parent's position when it is in the chunk too, else None and the parent's stored figures
    come along (its composition is fetched apart, once per parent, only where needed)."""

    child_index: int
    parent_index: int | None
    parent_id: uuid.UUID
    relation: str
    amount: float | None
    parent_kind: str
    parent_size: float | None
    parent_total_amount: float | None
    parent_stale: bool
    parent_updated_at: datetime


_GIVEN = """
    given(id, ix) AS (
        SELECT g.id, g.ix - 1 FROM unnest(CAST(:ids AS uuid[])) WITH ORDINALITY AS g(id, ix)
    )
"""


def load_chunk(
    session: Session, ids: Sequence[uuid.UUID]
) -> tuple[list[ChunkNode | None], list[ChunkEdge]]:
    """The given nodes (None where one no longer exists), in the order given, and every edge
    into them, ordered by child, without any stored composition."""
    nodes: list[ChunkNode | None] = [None] * len(ids)
    rows = session.execute(
        text(
            f"""
            WITH {_GIVEN}
            SELECT g.ix, a.kind, a.size, a.origin_human, a.origin_synthetic, a.origin_unknown,
                   a.origin_synthetic_depth, a.origin_digital_source_type,
                   a.composition_updated_at
            FROM given g JOIN artifacts a ON a.id = g.id
            """
        ),
        {"ids": list(ids)},
    ).all()
    for ix, kind, size, human, synthetic, unknown, depth, dst, updated_at in rows:
        origin = stored_origin(human, synthetic, unknown, depth, dst)
        nodes[ix] = ChunkNode(ids[ix], kind, size, origin, updated_at)
    edges = [
        ChunkEdge(*row)
        for row in session.execute(
            text(
                f"""
                WITH {_GIVEN}
                SELECT c.ix, p.ix, e.parent_id, e.relation, e.amount,
                       a.kind, a.size, a.total_amount, a.composition_stale,
                       a.composition_updated_at
                FROM given c JOIN edges e ON e.child_id = c.id
                JOIN artifacts a ON a.id = e.parent_id
                LEFT JOIN given p ON p.id = e.parent_id
                ORDER BY c.ix
                """
            ),
            {"ids": list(ids)},
        ).all()
    ]
    return nodes, edges


def load_compositions(
    session: Session, ids: Sequence[uuid.UUID], batch: int = READ_CHUNK
) -> Iterator[tuple[uuid.UUID, str, float | None, bool]]:
    """Stored compositions, (id, composition as JSON text, total_amount, weights_assumed), a
    batch of rows at a time: the caller turns each into its own form before the next batch."""
    for start in range(0, len(ids), batch):
        rows = session.execute(
            text(
                """
                SELECT id, composition::text, total_amount, weights_assumed FROM artifacts
                WHERE id = ANY(CAST(:ids AS uuid[]))
                """
            ),
            {"ids": list(ids[start : start + batch])},
        ).all()
        for row in rows:
            yield row[0], row[1], row[2], row[3]


def load_totals(
    session: Session, ids: Sequence[uuid.UUID]
) -> Iterator[tuple[uuid.UUID, float | None, bool]]:
    """(id, total_amount, weights_assumed) of stored versions: a wide node's parents' figures,
    before their compositions are read (:func:`stored_texts`)."""
    if not ids:
        return iter(())
    rows = session.execute(
        text(
            "SELECT id, total_amount, weights_assumed FROM artifacts"
            " WHERE id = ANY(CAST(:ids AS uuid[]))"
        ),
        {"ids": list(ids)},
    )
    return ((row[0], row[1], row[2]) for row in rows.all())


def stored_texts(session: Session, ids: Sequence[uuid.UUID], page: int = 1_000) -> Iterator[str]:
    """The stored compositions of ``ids`` as JSON text, in the order given, read ``page`` at a
    time as they are taken."""
    for start in range(0, len(ids), page):
        wanted = ids[start : start + page]
        rows = session.execute(
            text(
                "SELECT id, composition::text FROM artifacts WHERE id = ANY(CAST(:ids AS uuid[]))"
            ),
            {"ids": list(wanted)},
        )
        found: dict[uuid.UUID, str] = {row[0]: row[1] for row in rows}
        for parent_id in wanted:
            yield found[parent_id]


def descendant_ids(
    session: Session, roots: Sequence[uuid.UUID], *, stale_only: bool = False
) -> list[uuid.UUID]:
    """The roots and everything downstream of them, unlocked (with ``stale_only``, those of them
    that read as stale)."""
    where = "WHERE a.composition_stale" if stale_only else ""
    return list(
        session.execute(
            text(
                f"""
                {DOWN_FROM_ROOTS}
                SELECT down.id FROM down JOIN artifacts a ON a.id = down.id {where}
                """
            ),
            {"roots": list(roots)},
        ).scalars()
    )


def internal_edges(session: Session, ids: Sequence[uuid.UUID]) -> tuple[list[int], list[int]]:
    """The edges among the given nodes, as two parallel lists of positions in ``ids``:
    parents and children."""
    parents: list[int] = []
    children: list[int] = []
    for parent, child in session.execute(
        text(
            f"""
            WITH {_GIVEN}
            SELECT p.ix, c.ix FROM given c JOIN edges e ON e.child_id = c.id
            JOIN given p ON p.id = e.parent_id
            """
        ),
        {"ids": list(ids)},
    ).all():
        parents.append(parent)
        children.append(child)
    return parents, children


def lock_nodes(session: Session, ids: Sequence[uuid.UUID]) -> None:
    """Row-lock the given nodes against other writers, in id order, until this transaction ends."""
    with LOCK_WAIT_SECONDS.time():
        session.execute(
            text(
                """
                SELECT 1 FROM artifacts WHERE id = ANY(CAST(:ids AS uuid[]))
                ORDER BY id FOR NO KEY UPDATE
                """
            ),
            {"ids": sorted(ids)},
        )


def mark_stale(session: Session, ids: Sequence[uuid.UUID]) -> None:
    session.execute(
        update(Artifact)
        .where(equals_any(Artifact.id, ids), Artifact.composition_stale.is_(False))
        .values(composition_stale=True)
        .execution_options(synchronize_session=False)
    )


def enqueue_job(
    session: Session, roots: Sequence[uuid.UUID], cause: str, total: int, structural: bool
) -> uuid.UUID:
    job = PropagationJob(roots=list(roots), cause=cause, nodes_total=total, structural=structural)
    session.add(job)
    session.flush()
    return job.id


def claim_job(session: Session) -> PropagationJob | None:
    """The oldest pending job, row-locked so that one replica runs it."""
    return session.scalars(
        select(PropagationJob)
        .where(PropagationJob.status == "pending")
        .order_by(PropagationJob.created_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()


def get_job(session: Session, job_id: uuid.UUID) -> PropagationJob | None:
    return session.get(PropagationJob, job_id)


def jobs(
    session: Session,
    *,
    status: str | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[PropagationJob]:
    query = where_given(select(PropagationJob), (PropagationJob.status, status))
    query = newest_first(query, PropagationJob.created_at, PropagationJob.id, after, limit)
    return session.scalars(query).all()
