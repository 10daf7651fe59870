"""The graph layout: every parent left of its children, the root in column 0."""

from __future__ import annotations

import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from app.web.graph import GraphEdge, GraphNode, layers, layout


def node(n: uuid.UUID) -> GraphNode:
    return GraphNode(n, "dataset", "ns", str(n)[:8], "1", 1.0, 0.0, 0.0, 0)


@st.composite
def dags(draw: st.DrawFn) -> tuple[list[uuid.UUID], list[GraphEdge]]:
    size = draw(st.integers(1, 25))
    ids = [uuid.UUID(int=i + 1) for i in range(size)]
    edges = []
    for child in range(size):
        for parent in draw(st.sets(st.integers(0, size - 1), max_size=4)):
            if parent < child:  # index order keeps it acyclic
                edges.append(GraphEdge(ids[child], ids[parent], "derived_from", None))
    return ids, edges


@settings(max_examples=200, deadline=None)
@given(dags(), st.data())
def test_every_parent_sits_left_of_its_children(
    dag: tuple[list[uuid.UUID], list[GraphEdge]], data: st.DataObject
) -> None:
    ids, edges = dag
    root = data.draw(st.sampled_from(ids))
    placed = layers(root, ids, edges)
    assert placed[root] == 0
    assert set(placed) == set(ids)
    for e in edges:
        assert placed[e.parent] < placed[e.child]
    result = layout(root, [node(n) for n in ids], edges)
    x = {p.node.id: p.x for p in result.nodes}
    assert all(x[e.parent] < x[e.child] for e in edges)
    assert len(result.edges) == len(edges)
    spots = {(p.x, p.y) for p in result.nodes}
    assert len(spots) == len(ids)  # no two nodes on one spot


def test_ancestors_sit_next_to_what_they_feed() -> None:
    root, parent, grandparent, child = (uuid.UUID(int=i) for i in range(1, 5))
    edges = [
        GraphEdge(root, parent, "generated_by", None),
        GraphEdge(parent, grandparent, "trained_on", None),
        GraphEdge(root, grandparent, "derived_from", None),
        GraphEdge(child, root, "trained_on", None),
    ]
    assert layers(root, [root, parent, grandparent, child], edges) == {
        root: 0,
        parent: -1,
        grandparent: -2,
        child: 1,
    }
