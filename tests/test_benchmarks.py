"""The benchmark's own machinery: the generator, the split of the setup's work, and the
memory-bounded baseline give what the plain ones give."""

from __future__ import annotations

import networkx as nx
import pytest

from benchmarks.baseline import compose_in_order
from benchmarks.generate import generate, recent
from benchmarks.load import family_parts


@pytest.mark.parametrize("sizes", [(0, 0), (3, 0), (0, 5), (3, 5), (2500, 10), (10, 2500)])
def test_recent_is_the_tail_of_both_pools(sizes: tuple[int, int]) -> None:
    first = [object() for _ in range(sizes[0])]
    second = [object() for _ in range(sizes[1])]
    assert recent(first, second, 2000) == (first + second)[-2000:]  # type: ignore[arg-type]


def test_family_parts_keep_each_family_whole_and_in_order() -> None:
    graph = generate(3000, seed=3)
    models = [n for n in graph.nodes if n.kind == "model"]
    parts = family_parts(models, 3)
    assert sorted(i for part in parts for i in part) == sorted(m.id for m in models)
    position = {m.id: i for i, m in enumerate(models)}
    family = {m.id: (m.namespace, m.name) for m in models}
    owner = {}
    for index, part in enumerate(parts):
        assert [position[i] for i in part] == sorted(position[i] for i in part)
        for model_id in part:
            assert owner.setdefault(family[model_id], index) == index
    assert len(parts) == 3


def test_the_bounded_baseline_composes_what_the_plain_one_does() -> None:
    from app.composition.origin import Origin

    source = generate(1500, seed=5)
    graph = nx.DiGraph()
    for n in source.nodes:
        o = n.origin
        origin = (
            None
            if o is None
            else Origin(
                o.human, o.synthetic, o.unknown, o.synthetic_depth or 1, o.digital_source_type
            )
        )
        graph.add_node(n.id, kind=n.kind, size=n.size, origin=origin)
    for e in source.edges:
        if graph.has_edge(e.parent, e.child):
            graph.edges[e.parent, e.child]["rels"].append((e.relation, e.amount))
        else:
            graph.add_edge(e.parent, e.child, rels=[(e.relation, e.amount)])
    order = list(nx.topological_sort(graph))
    every = compose_in_order(graph, order, keep_all=True)
    seen: dict[object, object] = {}
    left = compose_in_order(
        graph, order, keep_all=False, visit=lambda node, result: seen.setdefault(node, result)
    )
    assert seen == every
    assert not left  # nothing is held once every child has used it
