"""Why a node is synthetic: which ancestors bring its synthetic mass, and how much of it.

Synthetic mass enters the graph in two places only: where a model generates data (a
``generated_by`` edge) and where a dataset declares a synthetic origin (a root, or the
residual of a dataset larger than its parents). Following the node's mass upstream along the
mixture weights, and crediting each entry point with the synthetic mass that reaches the node
through it, splits the node's synthetic fraction exactly among them.
"""

from __future__ import annotations

import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Mapping, Sequence
from typing import cast

from app.composition.core import Composition, Kind, ParentContribution, Relation, weighting
from app.composition.repository import IncomingEdge, NodeState

# ``weighting`` reads amounts and sizes, never a parent's vector: this stands in for it
_UNREAD = Composition.all_unknown()


def contribution_of(edge: IncomingEdge) -> ParentContribution:
    parent = edge.parent
    return ParentContribution(
        relation=cast(Relation, edge.relation),
        composition=_UNREAD,
        amount=edge.amount,
        parent_size=parent.size if parent.kind == "dataset" else None,
        parent_total_amount=parent.total_amount if parent.kind == "model" else None,
    )


def synthetic_credits(
    target: uuid.UUID,
    nodes: Mapping[uuid.UUID, NodeState],
    incoming: Mapping[uuid.UUID, Sequence[IncomingEdge]],
) -> dict[uuid.UUID, float]:
    """Each entry point's synthetic mass in the target, as a fraction of the target's mass.

    ``nodes`` holds the target and its ancestors up to the nearest generations
    (``reads.load_mass_region``); the credits sum to the target's synthetic fraction.
    """
    return _entry_credits(
        {target: 1.0}, nodes, incoming, figure=lambda n: n.synthetic_fraction, generations=True
    )


def human_credits(
    start: Mapping[uuid.UUID, float],
    nodes: Mapping[uuid.UUID, NodeState],
    incoming: Mapping[uuid.UUID, Sequence[IncomingEdge]],
) -> dict[uuid.UUID, float]:
    """Each entry point's human-made (depth 0) mass in a mixture of ``start`` nodes (node to
    its share of the mixture), as a fraction of the mixture's mass.

    Human mass never crosses a generation (``generated_by`` shifts it to depth 1), so it enters
    only where a dataset declares an origin: at a root, or in the residual of a dataset larger
    than its parents. ``nodes`` holds the start nodes and their ancestors up to the nearest
    generations (``reads.load_mass_ancestors_of``); the credits sum to the mixture's human
    fraction.
    """
    return _entry_credits(
        start, nodes, incoming, figure=lambda n: n.human_fraction, generations=False
    )


def _entry_credits(
    start: Mapping[uuid.UUID, float],
    nodes: Mapping[uuid.UUID, NodeState],
    incoming: Mapping[uuid.UUID, Sequence[IncomingEdge]],
    *,
    figure: Callable[[NodeState | Composition], float],
    generations: bool,
) -> dict[uuid.UUID, float]:
    """Follow the start nodes' mass upstream along the mixture weights, in topological order,
    and credit ``figure`` of it to each place where it enters: a declared origin (a root or a
    residual) and, with ``generations``, a ``generated_by`` edge (all of a generation's known
    mass is synthetic; the entry is the generating model when it feeds a start node directly,
    else the generated dataset)."""
    flow: dict[uuid.UUID, float] = defaultdict(float)
    flow.update(start)
    waiting: dict[uuid.UUID, int] = defaultdict(int)
    for child in nodes:
        for edge in incoming.get(child, ()):
            if edge.relation != "generated_by" and edge.parent_id in nodes:
                waiting[edge.parent_id] += 1

    credits: dict[uuid.UUID, float] = defaultdict(float)
    queue = deque(node for node in start if node in nodes and waiting[node] == 0)
    while queue:
        node_id = queue.popleft()
        node, mass = nodes[node_id], flow[node_id]
        edges = list(incoming.get(node_id, ()))
        weights = weighting(cast(Kind, node.kind), node.size, [contribution_of(e) for e in edges])
        shares, residual = weights.shares()
        if not any(shares) and not residual:
            credits[node_id] += mass * figure(node)
        elif residual and node.origin is not None:
            credits[node_id] += mass * residual * figure(Composition.from_origin(node.origin))
        for edge, share in zip(edges, shares, strict=True):
            if edge.relation == "generated_by":
                if generations:
                    generated = 1.0 - edge.parent.unknown_fraction
                    entry = edge.parent_id if node_id in start else node_id
                    credits[entry] += mass * share * generated
            elif edge.parent_id in nodes:
                flow[edge.parent_id] += mass * share
        for edge in edges:
            if edge.relation != "generated_by" and edge.parent_id in nodes:
                waiting[edge.parent_id] -= 1
                if waiting[edge.parent_id] == 0:
                    queue.append(edge.parent_id)
    return {k: v for k, v in credits.items() if v > 0.0}
