"""SQL for explaining a composition: the region a node's mass comes from, read in one statement.

Nothing here writes; the propagation's own loads and writes are in ``repository``.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, cast

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.composition.repository import (  # the state row every loader of the engine reads
    STATE_WIDTH,
    IncomingEdge,
    NodeState,
    node_state,
    state_columns,
)
from app.graph import upstream

MASS_CARRYING = ("trained_on", "fine_tuned_from", "derived_from")


class Label(NamedTuple):
    """What names a version, with the figures a list of them shows."""

    id: uuid.UUID
    kind: Literal["dataset", "model"]
    namespace: str
    name: str
    version: str
    synthetic_fraction: float
    unknown_fraction: float


def _label(state: NodeState, row: Any, offset: int) -> Label:
    namespace, name, version = row[offset : offset + 3]
    # a string: the cast runs once per node of a region, and a subscripted Literal is built anew
    # on every call
    kind = cast('Literal["dataset", "model"]', state.kind)
    return Label(
        state.id, kind, namespace, name, version, state.synthetic_fraction, state.unknown_fraction
    )


@dataclass(frozen=True)
class MassRegion:
    """A node and the ancestors its mass reaches without passing through a generation (the
    region whose synthetic mass entered at a generated_by edge or a declared origin), every
    edge into them with its parent's state, and the natural key of each."""

    target: NodeState  # with its stored composition
    nodes: dict[uuid.UUID, NodeState]
    incoming: dict[uuid.UUID, list[IncomingEdge]]
    labels: dict[uuid.UUID, Label]


_EDGE = f"""
    SELECT e.child_id, e.parent_id, e.relation, e.amount, e.amount_source,
           {state_columns("NULL::jsonb")}, a.namespace, a.name, a.version, e.ctid AS position
"""

# The walk carries the region's edges themselves, each with its parent's row: every join is
# driven by the rows the last step found, so each is an index lookup whatever the planner
# estimates (a walk over node ids joined to the edges afterwards was planned as a hash join
# over a scan of the whole edges table, on every read). UNION keeps one copy of the edges of
# a node reached along several paths, and follows them once.
# built once: text() scans its statement for parameters each time it is made
_MASS_REGION = text(
    f"""
    WITH RECURSIVE region AS (
        {_EDGE}
        FROM edges e JOIN artifacts a ON a.id = e.parent_id
        WHERE e.child_id = CAST(:target AS uuid)
        UNION
        {_EDGE}
        FROM region r JOIN edges e ON e.child_id = r.parent_id
        JOIN artifacts a ON a.id = e.parent_id
        WHERE r.relation IN ({", ".join(f"'{r}'" for r in MASS_CARRYING)})
    )
    SELECT NULL::uuid, NULL::uuid, NULL::text, NULL::float8, NULL::text,
           {state_columns()}, a.namespace, a.name, a.version, NULL::tid AS position
    FROM artifacts a WHERE a.id = CAST(:target AS uuid)
    UNION ALL
    SELECT * FROM region
    -- a node's edges in the order they are stored, as a lookup of one node's finds them
    ORDER BY position
"""
)


def load_mass_region(session: Session, target: uuid.UUID) -> MassRegion | None:
    """The target's :class:`MassRegion` in one statement (None when no such node): the
    figures of each node, not the vectors, which only the target's own comes with."""
    rows = session.execute(_MASS_REGION, {"target": target}).all()
    end = 5 + STATE_WIDTH
    own = [row for row in rows if row[0] is None]  # the target's row: it has no edge
    if not own:
        return None
    found = node_state(own[0], 5)
    labels = {target: _label(found, own[0], end)}
    region = MassRegion(found, {target: found}, defaultdict(list), labels)
    for row in rows:
        if row[0] is None:
            continue
        parent = node_state(row, 5)
        edge = IncomingEdge(row[0], row[1], row[2], row[3], parent, row[4])
        region.incoming[edge.child_id].append(edge)
        region.labels[parent.id] = _label(parent, row, end)
        if edge.relation in MASS_CARRYING:
            region.nodes.setdefault(parent.id, parent)
    return region


_MASS_UPSTREAM = upstream("CAST(:targets AS uuid[])", relations=MASS_CARRYING)


def load_mass_ancestors_of(session: Session, targets: Sequence[uuid.UUID]) -> list[NodeState]:
    """The nodes of the targets' mass regions (:class:`MassRegion`), each node once; the
    stored figures without the vectors (following mass upstream needs no more)."""
    rows = session.execute(
        text(
            f"""
            {_MASS_UPSTREAM}
            SELECT {state_columns("NULL::jsonb")} FROM up JOIN artifacts a ON a.id = up.id
            """
        ),
        {"targets": list(targets)},
    )
    return [node_state(row) for row in rows]
