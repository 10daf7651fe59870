"""A deliberately plain second implementation of the composition rule, over a whole graph.

Dense vectors, recursion and ordinary sums: slow, but short enough to check by eye against
design section 2. Tests hold the real engine to it; it shares no code with
``app.composition.core``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.composition.origin import Origin

# Part of the rule: a residual this small relative to the size is rounding, not data.
RESIDUAL_TOLERANCE = 1e-12


@dataclass
class RefNode:
    id: str
    kind: str  # "dataset" | "model"
    size: float | None
    origin: Origin | None


@dataclass
class RefEdge:
    child: str
    parent: str
    relation: str
    amount: float | None


@dataclass
class _Vector:
    """depth[d] is the mass at depth d; every index up to the deepest is present."""

    depth: list[float]
    unknown: float


@dataclass
class _Result:
    vector: _Vector
    total_amount: float | None
    weights_assumed: bool


def _unknown() -> _Vector:
    return _Vector([], 1.0)


def _normalize(vector: _Vector) -> _Vector | None:
    total = sum(vector.depth) + vector.unknown
    if total == 0:
        return None
    return _Vector([m / total for m in vector.depth], vector.unknown / total)


def _from_origin(origin: Origin) -> _Vector:
    depth = [0.0] * (origin.synthetic_depth + 1)
    depth[0] += origin.human
    depth[origin.synthetic_depth] += origin.synthetic
    return _normalize(_Vector(depth, origin.unknown)) or _unknown()


def _shift(vector: _Vector) -> _Vector:
    return _Vector([0.0, *vector.depth], vector.unknown)


def _weighted_sum(parts: list[tuple[float, _Vector]]) -> _Vector:
    deepest = max((len(v.depth) for _, v in parts), default=0)
    depth = [0.0] * deepest
    unknown = 0.0
    for weight, vector in parts:
        for d, mass in enumerate(vector.depth):
            depth[d] += weight * mass
        unknown += weight * vector.unknown
    return _Vector(depth, unknown)


def recompute_all(
    nodes: Sequence[RefNode], edges: Sequence[RefEdge]
) -> dict[str, tuple[dict[int, float], float, float | None, bool]]:
    """id -> (depth buckets, unknown, total_amount, weights_assumed), from scratch."""
    by_id = {node.id: node for node in nodes}
    incoming: dict[str, list[RefEdge]] = {node.id: [] for node in nodes}
    for edge in edges:
        incoming[edge.child].append(edge)
    results: dict[str, _Result] = {}

    def visit(node_id: str) -> _Result:
        if node_id not in results:
            for edge in incoming[node_id]:
                visit(edge.parent)
            results[node_id] = _compute(by_id[node_id], incoming[node_id], by_id, results)
        return results[node_id]

    for node in nodes:
        visit(node.id)
    return {
        node_id: (
            {d: m for d, m in enumerate(r.vector.depth) if m != 0},
            r.vector.unknown,
            r.total_amount,
            r.weights_assumed,
        )
        for node_id, r in results.items()
    }


def _compute(
    node: RefNode,
    incoming: list[RefEdge],
    by_id: dict[str, RefNode],
    results: dict[str, _Result],
) -> _Result:
    if node.kind == "dataset":
        own = _from_origin(node.origin) if node.origin is not None else _unknown()
    else:
        own = _unknown()

    edges = [e for e in incoming if e.relation != "used"]
    if not edges:
        return _Result(own, node.size if node.kind == "dataset" else None, False)

    amounts = [_amount(node, edge, edges, by_id, results) for edge in edges]
    vectors = []
    for edge in edges:
        parent_vector = results[edge.parent].vector
        vectors.append(_shift(parent_vector) if edge.relation == "generated_by" else parent_vector)

    if None in amounts:
        mixed = _normalize(_weighted_sum([(1.0, v) for v in vectors]))
        return _Result(mixed or own, node.size, True)

    weights = [a for a in amounts if a is not None]
    parts = list(zip(weights, vectors, strict=True))
    total = sum(weights)
    total_amount = total
    if node.kind == "dataset" and node.size is not None and node.size > total:
        total_amount = node.size
        if node.size - total > RESIDUAL_TOLERANCE * node.size:
            parts.append((node.size - total, own))
    mixed = _normalize(_weighted_sum(parts))
    return _Result(mixed if mixed is not None else own, total_amount, False)


def _amount(
    node: RefNode,
    edge: RefEdge,
    edges: list[RefEdge],
    by_id: dict[str, RefNode],
    results: dict[str, _Result],
) -> float | None:
    if edge.amount is not None:
        return edge.amount
    parent = by_id[edge.parent]
    if edge.relation in ("derived_from", "trained_on"):
        return parent.size if parent.kind == "dataset" else None
    if edge.relation == "fine_tuned_from":
        return results[parent.id].total_amount if parent.kind == "model" else None
    # generated_by: the child's size, less the generated_by amounts given, shared equally.
    if node.size is None:
        return None
    generators = [e for e in edges if e.relation == "generated_by"]
    given = sum(e.amount for e in generators if e.amount is not None)
    unset = sum(1 for e in generators if e.amount is None)
    return max(node.size - given, 0.0) / unset
