"""SQL for the propagation engine: load a descendant subgraph, write compositions back in bulk."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text, tuple_, update
from sqlalchemy.orm import Session

from app.artifacts.models import Artifact
from app.composition.models import PropagationJob
from app.composition.origin import Origin

WRITE_CHUNK = 5_000


@dataclass(frozen=True, slots=True)
class NodeState:
    id: uuid.UUID
    kind: str
    size: float | None
    origin: Origin | None
    composition: dict[str, Any]
    total_amount: float | None
    weights_assumed: bool
    stale: bool


@dataclass(frozen=True, slots=True)
class IncomingEdge:
    child_id: uuid.UUID
    parent_id: uuid.UUID
    relation: str
    amount: float | None
    parent: NodeState


_STATE_COLUMNS = """
    a.id, a.kind, a.size, a.origin_human, a.origin_synthetic, a.origin_unknown,
    a.origin_synthetic_depth, a.origin_digital_source_type, a.composition, a.total_amount,
    a.weights_assumed, a.composition_stale
"""


def _state(row: Any, offset: int = 0) -> NodeState:
    (id_, kind, size, human, synthetic, unknown, depth, dst, composition, total, assumed, stale) = (
        row[offset : offset + 12]
    )
    origin = (
        None
        if human is None
        else Origin(
            human=human,
            synthetic=synthetic,
            unknown=unknown,
            synthetic_depth=depth or 1,
            digital_source_type=dst,
        )
    )
    return NodeState(id_, kind, size, origin, composition, total, assumed, stale)


def load_descendants(session: Session, roots: Sequence[uuid.UUID]) -> list[NodeState]:
    """The roots and everything downstream of them, in one recursive query."""
    rows = session.execute(
        text(
            f"""
            WITH RECURSIVE down(id) AS (
                SELECT unnest(CAST(:roots AS uuid[]))
                UNION
                SELECT e.child_id FROM edges e JOIN down d ON e.parent_id = d.id
            )
            SELECT {_STATE_COLUMNS} FROM down JOIN artifacts a ON a.id = down.id
            """
        ),
        {"roots": list(roots)},
    )
    return [_state(row) for row in rows]


def load_incoming(session: Session, child_ids: Sequence[uuid.UUID]) -> list[IncomingEdge]:
    """Every edge into the given nodes, with its parent's stored state."""
    rows = session.execute(
        text(
            f"""
            SELECT e.child_id, e.parent_id, e.relation, e.amount, {_STATE_COLUMNS}
            FROM edges e JOIN artifacts a ON a.id = e.parent_id
            WHERE e.child_id = ANY(CAST(:ids AS uuid[]))
            """
        ),
        {"ids": list(child_ids)},
    )
    return [IncomingEdge(row[0], row[1], row[2], row[3], _state(row, 4)) for row in rows]


def write_compositions(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Bulk-update composition columns; each row has id, composition, total_amount,
    weights_assumed, human/synthetic/unknown fractions and stale."""
    statement = text(
        """
        UPDATE artifacts AS a SET
            composition = v.composition,
            total_amount = v.total_amount,
            weights_assumed = v.weights_assumed,
            human_fraction = v.human_fraction,
            synthetic_fraction = v.synthetic_fraction,
            unknown_fraction = v.unknown_fraction,
            composition_stale = v.stale,
            composition_updated_at = clock_timestamp()
        FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS v(
            id uuid, composition jsonb, total_amount double precision, weights_assumed boolean,
            human_fraction double precision, synthetic_fraction double precision,
            unknown_fraction double precision, stale boolean)
        WHERE a.id = v.id
        """
    )
    for start in range(0, len(rows), WRITE_CHUNK):
        chunk = rows[start : start + WRITE_CHUNK]
        session.execute(statement, {"rows": json.dumps(chunk, default=str)})


def mark_stale(session: Session, ids: Sequence[uuid.UUID]) -> None:
    session.execute(
        update(Artifact)
        .where(Artifact.id.in_(ids), Artifact.composition_stale.is_(False))
        .values(composition_stale=True)
        .execution_options(synchronize_session=False)
    )


def enqueue_job(session: Session, roots: Sequence[uuid.UUID], cause: str, total: int) -> uuid.UUID:
    job = PropagationJob(roots=list(roots), cause=cause, nodes_total=total)
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
    query = select(PropagationJob)
    if status is not None:
        query = query.where(PropagationJob.status == status)
    if after is not None:
        query = query.where(tuple_(PropagationJob.created_at, PropagationJob.id) < tuple_(*after))
    order = (PropagationJob.created_at.desc(), PropagationJob.id.desc())
    return session.scalars(query.order_by(*order).limit(limit)).all()


def load_mass_ancestors(session: Session, target: uuid.UUID) -> list[NodeState]:
    """The target and the ancestors its mass reaches without passing through a generation:
    the region whose synthetic mass entered at a generated_by edge or a declared origin."""
    rows = session.execute(
        text(
            f"""
            WITH RECURSIVE up(id) AS (
                SELECT CAST(:target AS uuid)
                UNION
                SELECT e.parent_id FROM edges e JOIN up u ON e.child_id = u.id
                WHERE e.relation IN ('trained_on', 'fine_tuned_from', 'derived_from')
            )
            SELECT {_STATE_COLUMNS} FROM up JOIN artifacts a ON a.id = up.id
            """
        ),
        {"target": target},
    )
    return [_state(row) for row in rows]
