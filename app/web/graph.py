"""Laying out a lineage subgraph as layers by generation: pure functions over plain data.

Every parent sits in a column left of each of its children, the version the page is about in
column 0, its ancestors as close to it as their edges allow on the left, descendants on the
right. Within a column, nodes are ordered by the mean position of their neighbours (the
barycentre heuristic), which removes most crossings in a few sweeps.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from graphlib import TopologicalSorter

NODE_WIDTH = 190
NODE_HEIGHT = 58
COLUMN_GAP = 64
ROW_GAP = 22
MARGIN = 34
HEADER = 30
SWEEPS = 4


@dataclass(frozen=True)
class GraphNode:
    id: uuid.UUID
    kind: str
    namespace: str
    name: str
    version: str
    human_fraction: float
    synthetic_fraction: float
    unknown_fraction: float
    max_depth: int
    hidden_parents: int = 0
    hidden_children: int = 0


@dataclass(frozen=True)
class GraphEdge:
    child: uuid.UUID
    parent: uuid.UUID
    relation: str
    amount: float | None


@dataclass
class PlacedNode:
    node: GraphNode
    layer: int
    x: float = 0.0
    y: float = 0.0


@dataclass(frozen=True)
class PlacedEdge:
    edge: GraphEdge
    path: str


@dataclass(frozen=True)
class Column:
    layer: int
    x: float


@dataclass
class Layout:
    width: float
    height: float
    nodes: list[PlacedNode] = field(default_factory=list)
    edges: list[PlacedEdge] = field(default_factory=list)
    columns: list[Column] = field(default_factory=list)


def layers(
    root: uuid.UUID, ids: Sequence[uuid.UUID], edges: Sequence[GraphEdge]
) -> dict[uuid.UUID, int]:
    """A column for every node, such that each parent's is smaller than each child's."""
    parents: dict[uuid.UUID, set[uuid.UUID]] = {n: set() for n in ids}
    children: dict[uuid.UUID, set[uuid.UUID]] = {n: set() for n in ids}
    for e in edges:
        parents[e.child].add(e.parent)
        children[e.parent].add(e.child)
    order = list(TopologicalSorter(parents).static_order())  # parents before children

    # ancestors: as far right as their children allow, so each sits next to what it feeds
    ancestors = {root}
    layer: dict[uuid.UUID, int] = {root: 0}
    for node in reversed(order):
        if node in ancestors and node != root:
            continue
        if node != root:
            below = [layer[c] for c in children[node] if c in ancestors]
            if not below:
                continue
            layer[node] = min(below) - 1
            ancestors.add(node)
    # the rest: right of their placed parents, else left of their children
    for node in order:
        if node not in layer:
            above = [layer[p] for p in parents[node] if p in layer]
            if above:
                layer[node] = max(above) + 1
    for node in reversed(order):
        if node not in layer:
            below = [layer[c] for c in children[node] if c in layer]
            layer[node] = min(below) - 1 if below else 0
    return layer


def _barycentre(
    column: list[uuid.UUID],
    neighbours: Mapping[uuid.UUID, set[uuid.UUID]],
    rank: dict[uuid.UUID, int],
) -> list[uuid.UUID]:
    def key(node: uuid.UUID) -> float:
        placed = [rank[n] for n in neighbours[node] if n in rank]
        return sum(placed) / len(placed) if placed else rank[node]

    return sorted(column, key=lambda n: (key(n), rank[n]))


def layout(
    root: uuid.UUID,
    nodes: Sequence[GraphNode],
    edges: Sequence[GraphEdge],
    *,
    first_order: Mapping[uuid.UUID, int] | None = None,
) -> Layout:
    """Positions for every node and a path for every edge; ``first_order`` (e.g. distance from
    the root, then name) seeds the order within each column."""
    ids = [n.id for n in nodes]
    known = set(ids)
    edges = [e for e in edges if e.child in known and e.parent in known]
    column_of = layers(root, ids, edges)
    seed = first_order or {n: i for i, n in enumerate(ids)}
    by_layer: dict[int, list[uuid.UUID]] = defaultdict(list)
    for node in sorted(ids, key=lambda n: seed.get(n, 0)):
        by_layer[column_of[node]].append(node)
    parents: dict[uuid.UUID, set[uuid.UUID]] = {n: set() for n in ids}
    children: dict[uuid.UUID, set[uuid.UUID]] = {n: set() for n in ids}
    for e in edges:
        parents[e.child].add(e.parent)
        children[e.parent].add(e.child)

    ordered = sorted(by_layer)
    rank: dict[uuid.UUID, int] = {}
    for key in ordered:
        rank.update({n: i for i, n in enumerate(by_layer[key])})
    for sweep in range(SWEEPS):
        # outward from the root's column, so its neighbours settle around it first
        right = [k for k in ordered if k > 0]
        left = [k for k in reversed(ordered) if k < 0]
        for key in right:
            by_layer[key] = _barycentre(
                by_layer[key], parents if sweep % 2 == 0 else children, rank
            )
            rank.update({n: i for i, n in enumerate(by_layer[key])})
        for key in left:
            by_layer[key] = _barycentre(
                by_layer[key], children if sweep % 2 == 0 else parents, rank
            )
            rank.update({n: i for i, n in enumerate(by_layer[key])})

    tallest = max((len(v) for v in by_layer.values()), default=1)
    height = 2 * MARGIN + HEADER + tallest * (NODE_HEIGHT + ROW_GAP) - ROW_GAP
    first = ordered[0] if ordered else 0
    placed: dict[uuid.UUID, PlacedNode] = {}
    found = {n.id: n for n in nodes}
    columns = []
    for key in ordered:
        x = MARGIN + (key - first) * (NODE_WIDTH + COLUMN_GAP)
        columns.append(Column(key, x))
        column = by_layer[key]
        span = len(column) * (NODE_HEIGHT + ROW_GAP) - ROW_GAP
        top = MARGIN + HEADER + (height - 2 * MARGIN - HEADER - span) / 2
        for i, node in enumerate(column):
            placed[node] = PlacedNode(found[node], key, x, top + i * (NODE_HEIGHT + ROW_GAP))
    width = 2 * MARGIN + len(ordered) * (NODE_WIDTH + COLUMN_GAP) - COLUMN_GAP

    def path(e: GraphEdge) -> str:
        p, c = placed[e.parent], placed[e.child]
        x1, y1 = p.x + NODE_WIDTH, p.y + NODE_HEIGHT / 2
        x2, y2 = c.x, c.y + NODE_HEIGHT / 2
        bend = max((x2 - x1) / 2, 30)
        return (
            f"M{x1:.1f},{y1:.1f} C{x1 + bend:.1f},{y1:.1f}"
            f" {x2 - bend:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"
        )

    return Layout(
        width=width,
        height=height,
        nodes=[placed[n] for key in ordered for n in by_layer[key]],
        edges=[PlacedEdge(e, path(e)) for e in edges],
        columns=columns,
    )
