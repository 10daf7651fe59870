"""Propagation through the real write API, held to a from-scratch recomputation.

Random DAGs over all five relations are written over HTTP: nodes in a random topological
order, then edges added upstream after the fact, then origin corrections in a random order.
After every write, every stored composition and every training run's must equal what
``tests.composition.reference`` computes from scratch, to 1e-9: computed once from the graph as
stored, and once from the graph as the test meant to write it, so that a write the service
recorded wrongly cannot hide behind a recomputation of its own mistake.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import uuid
from dataclasses import dataclass
from typing import Any
from unittest import mock

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from app.composition import passes
from app.composition.origin import IPTC_PREFIX, Origin
from tests import graph_check
from tests.composition.reference import RefEdge, RefNode, recompute_all

# Each example is a whole scenario of HTTP writes; more would not fit the module's time budget.
EXAMPLES = 60

MASS_RELATION = {
    ("dataset", "dataset"): "derived_from",
    ("dataset", "model"): "generated_by",
    ("model", "dataset"): "trained_on",
    ("model", "model"): "fine_tuned_from",
}


@dataclass(frozen=True)
class OriginSpec:
    """A declaration as sent, and the origin it must mean."""

    human: int
    synthetic: int
    unknown: int
    depth: int
    source_type: str | None = None
    omit_unknown: bool = False

    def body(self) -> dict[str, Any]:
        if self.source_type is not None:
            return {
                "digitalSourceType": IPTC_PREFIX + self.source_type,
                "synthetic_depth": self.depth,
            }
        total = self.human + self.synthetic + self.unknown
        body: dict[str, Any] = {
            "human": self.human / total,
            "synthetic": self.synthetic / total,
            "synthetic_depth": self.depth,
        }
        if not self.omit_unknown:
            body["unknown"] = self.unknown / total
        return body

    def origin(self) -> Origin:
        if self.source_type == "digitalCapture":
            return Origin(1.0, 0.0, 0.0, self.depth)
        if self.source_type == "trainedAlgorithmicMedia":
            return Origin(0.0, 1.0, 0.0, self.depth)
        total = self.human + self.synthetic + self.unknown
        return Origin(self.human / total, self.synthetic / total, self.unknown / total, self.depth)


@dataclass(frozen=True)
class NodeSpec:
    kind: str
    size: float | None
    origin: OriginSpec | None


@dataclass(frozen=True)
class EdgeSpec:
    child: int
    parent: int
    relation: str
    amount: float | None
    later: bool


@dataclass(frozen=True)
class Scenario:
    nodes: list[NodeSpec]
    edges: list[EdgeSpec]
    write_order: list[int]
    later_order: list[int]
    cycles: list[tuple[int, int, str]]
    corrections: list[tuple[int, OriginSpec]]


fraction_origins = st.builds(
    OriginSpec,
    human=st.integers(0, 4),
    synthetic=st.integers(0, 4),
    unknown=st.integers(0, 4),
    depth=st.integers(1, 3),
    omit_unknown=st.booleans(),
).map(lambda o: o if o.human + o.synthetic + o.unknown else dataclasses.replace(o, unknown=1))
typed_origins = st.builds(
    OriginSpec,
    human=st.just(0),
    synthetic=st.just(0),
    unknown=st.just(0),
    depth=st.integers(1, 3),
    source_type=st.sampled_from(["digitalCapture", "trainedAlgorithmicMedia"]),
)
origins = st.one_of(fraction_origins, typed_origins)
sizes = st.one_of(
    st.none(),
    st.sampled_from([0.0, 1.0, 100.0, 1000.0]),
    st.floats(0.5, 1e6, allow_nan=False, allow_infinity=False),
)
amounts = st.one_of(
    st.none(),
    st.sampled_from([0.0, 1.0, 50.0, 500.0]),
    st.floats(0.01, 1e5, allow_nan=False, allow_infinity=False),
)


def descendants(n: int, edges: list[EdgeSpec]) -> dict[int, set[int]]:
    below: dict[int, set[int]] = {i: set() for i in range(n)}
    for node in reversed(range(n)):
        for edge in edges:
            if edge.parent == node:
                below[node] |= {edge.child} | below[edge.child]
    return below


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    n = draw(st.integers(2, 12))
    kinds = [draw(st.sampled_from(["dataset", "model"])) for _ in range(n)]
    nodes = [
        NodeSpec(kind, draw(sizes), draw(st.none() | origins))
        if kind == "dataset"
        else NodeSpec(kind, None, None)
        for kind in kinds
    ]
    edges: list[EdgeSpec] = []
    for child in range(1, n):
        has_base = False
        for parent in draw(st.lists(st.integers(0, child - 1), unique=True, max_size=4)):
            mass = MASS_RELATION[(kinds[child], kinds[parent])]
            relation = draw(st.sampled_from([mass, mass, mass, "used"]))
            later = draw(st.booleans())
            # a model's body names its training set and one base model, nothing else
            if kinds[child] == "model" and relation == "used":
                later = True
            if relation == "fine_tuned_from" and not later:
                later = has_base
                has_base = True
            edges.append(EdgeSpec(child, parent, relation, draw(amounts), later))

    needs = {i: {e.parent for e in edges if e.child == i and not e.later} for i in range(n)}
    order: list[int] = []
    while len(order) < n:
        ready = [i for i in range(n) if i not in order and needs[i] <= set(order)]
        order.append(draw(st.sampled_from(ready)))

    later_order = draw(st.permutations([i for i, e in enumerate(edges) if e.later]))
    below = descendants(n, edges)
    closing = [(a, b) for a in range(n) for b in sorted(below[a])]
    cycles = [
        (a, b, draw(st.sampled_from(["used", MASS_RELATION[(kinds[a], kinds[b])]])))
        for a, b in (draw(st.lists(st.sampled_from(closing), max_size=2)) if closing else [])
    ]
    datasets = [i for i, kind in enumerate(kinds) if kind == "dataset"]
    corrections = (
        draw(st.lists(st.tuples(st.sampled_from(datasets), origins), max_size=5))
        if datasets
        else []
    )
    return Scenario(nodes, edges, order, later_order, cycles, corrections)


class Writer:
    """One scenario written over HTTP into a namespace of its own, and what it should give."""

    def __init__(self, client: TestClient, session: Session, scenario: Scenario) -> None:
        self.client = client
        self.session = session
        self.scenario = scenario
        self.namespace = f"prop-{uuid.uuid4().hex}"
        self.ids: dict[int, str] = {}
        self.written: list[EdgeSpec] = []
        self.origins = {i: node.origin for i, node in enumerate(scenario.nodes)}

    def node(self, index: int) -> None:
        spec = self.scenario.nodes[index]
        initial = [e for e in self.scenario.edges if e.child == index and not e.later]
        body: dict[str, Any] = {"namespace": self.namespace, "name": f"n{index}", "version": "1"}
        if spec.kind == "dataset":
            if spec.size is not None:
                body["size"] = spec.size
            if spec.origin is not None:
                body["origin"] = spec.origin.body()
            body["parents"] = [self.parent(e) for e in initial]
            response = self.client.post("/api/v1/datasets", json=body)
        else:
            training_set = [self.reference(e) for e in initial if e.relation == "trained_on"]
            if training_set:  # an empty one is refused; omitted, the data is not known
                body["training_set"] = training_set
            base = [self.reference(e) for e in initial if e.relation == "fine_tuned_from"]
            if base:
                body["base_model"] = base[0]
            response = self.client.post("/api/v1/models", json=body)
        assert response.status_code == 201, response.text
        self.ids[index] = response.json()["id"]
        self.written += initial

    def reference(self, edge: EdgeSpec) -> dict[str, Any]:
        ref: dict[str, Any] = {"id": self.ids[edge.parent]}
        if edge.amount is not None:
            ref["amount"] = edge.amount
        return ref

    def parent(self, edge: EdgeSpec) -> dict[str, Any]:
        ref = {**self.reference(edge), "relation": edge.relation}
        if edge.relation == "used":
            ref["kind"] = self.scenario.nodes[edge.parent].kind
        return ref

    def edge(self, edge: EdgeSpec) -> None:
        body: dict[str, Any] = {
            "child": {"id": self.ids[edge.child]},
            "parent": {"id": self.ids[edge.parent]},
            "relation": edge.relation,
        }
        if edge.amount is not None:
            body["amount"] = edge.amount
        response = self.client.post("/api/v1/edges", json=body)
        assert response.status_code == 201, response.text
        self.written.append(edge)

    def refuse(self, child: int, parent: int, relation: str) -> None:
        response = self.client.post(
            "/api/v1/edges",
            json={
                "child": {"id": self.ids[child]},
                "parent": {"id": self.ids[parent]},
                "relation": relation,
            },
        )
        assert response.status_code == 409, response.text
        assert response.json()["type"].endswith("/cycle"), response.json()

    def correct(self, index: int, origin: OriginSpec) -> None:
        response = self.client.put(
            f"/api/v1/datasets/{self.ids[index]}/origin",
            json={**origin.body(), "reason": "re-audited"},
        )
        assert response.status_code == 200, response.text
        self.origins[index] = origin

    def intended(self) -> tuple[list[RefNode], list[RefEdge]]:
        nodes = []
        for index, node_id in self.ids.items():
            spec = self.scenario.nodes[index]
            declared = self.origins[index]
            origin = None if declared is None else declared.origin()
            nodes.append(RefNode(node_id, spec.kind, spec.size, origin))
        edges = [
            RefEdge(self.ids[e.child], self.ids[e.parent], e.relation, e.amount)
            for e in self.written
        ]
        return nodes, edges

    def check(self) -> graph_check.Graph:
        """Stored equals from-scratch, from the stored graph and from the intended one."""
        graph = graph_check.check_graph(self.session, [self.namespace])
        nodes, edges = self.intended()
        assert {n.id for n in graph.nodes} == {n.id for n in nodes}
        stored_edges = {(e.child, e.parent, e.relation, e.amount) for e in graph.edges}
        assert stored_edges == {(e.child, e.parent, e.relation, e.amount) for e in edges}
        for node in graph.nodes:
            spec = next(n for n in nodes if n.id == node.id)
            assert (node.kind, node.size) == (spec.kind, spec.size)
        lines = graph_check.mismatches(graph, recompute_all(nodes, edges))
        assert not lines, "\n".join(lines)
        return graph


def assert_figures(
    figures: dict[str, Any], expected: tuple[dict[int, float], float, float | None, bool]
) -> None:
    """The public composition object: consistent in itself and with the expected vector."""
    buckets, unknown, total, assumed = expected
    tol = graph_check.TOLERANCE
    synthetic = math.fsum(m for d, m in buckets.items() if d >= 1)
    load = math.fsum(d * m for d, m in buckets.items())
    assert figures["human_fraction"] == pytest.approx(buckets.get(0, 0.0), abs=tol)
    assert figures["synthetic_fraction"] == pytest.approx(synthetic, abs=tol)
    assert figures["unknown_fraction"] == pytest.approx(unknown, abs=tol)
    assert math.fsum(
        [figures["human_fraction"], figures["synthetic_fraction"], figures["unknown_fraction"]]
    ) == pytest.approx(1.0, abs=tol)
    histogram = {int(d): m for d, m in figures["depth_histogram"].items()}
    assert all(m > 0 for m in histogram.values())
    for depth in set(histogram) | set(buckets):
        assert histogram.get(depth, 0.0) == pytest.approx(buckets.get(depth, 0.0), abs=tol)
    assert math.fsum(histogram.values()) == pytest.approx(
        figures["human_fraction"] + figures["synthetic_fraction"], abs=tol
    )
    deep = [d for d, m in histogram.items() if m > 1e-12]
    assert figures["max_depth"] == max(deep, default=0)
    assert figures["depth_load"] == pytest.approx(load, abs=tol)
    mean = load / synthetic if synthetic > 0 else 0.0
    assert figures["mean_synthetic_depth"] == pytest.approx(mean, rel=1e-6, abs=tol)
    if total is None:
        assert figures["total_amount"] is None
    else:
        assert figures["total_amount"] == pytest.approx(total, rel=tol, abs=tol)
    assert figures["weights_assumed"] is assumed
    assert figures["stale"] is False


@pytest.mark.parametrize(
    "wide_parents",
    # as served; and every outside parent that one node alone needs read in pages as that
    # node is composed (a training set of thousands of members, in small)
    [passes.WIDE_PARENTS, 0],
    ids=["as-served", "parents-paged"],
)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios())
def test_every_stored_composition_equals_a_from_scratch_recomputation(
    client: TestClient, session: Session, scenario: Scenario, wide_parents: int
) -> None:
    with mock.patch.object(passes, "WIDE_PARENTS", wide_parents):
        every_stored_composition_equals_a_from_scratch_recomputation(client, session, scenario)


def every_stored_composition_equals_a_from_scratch_recomputation(
    client: TestClient, session: Session, scenario: Scenario
) -> None:
    writer = Writer(client, session, scenario)
    for index in scenario.write_order:
        writer.node(index)
        writer.check()
    for position in scenario.later_order:
        writer.edge(scenario.edges[position])
        writer.check()
    for child, parent, relation in scenario.cycles:
        writer.refuse(child, parent, relation)
    writer.check()
    for index, origin in scenario.corrections:
        writer.correct(index, origin)
        writer.check()
    assert not graph_check.verdict_mismatches(session, [writer.namespace])

    graph = writer.check()
    nodes, edges = graph_check.training_set_graph(graph)
    expected = recompute_all(nodes, edges)
    for index, node_id in writer.ids.items():
        kind = scenario.nodes[index].kind
        read = client.get(f"/api/v1/{kind}s/{node_id}").json()
        assert_figures(read["composition"], expected[node_id])
        detail = client.get(f"/api/v1/{kind}s/{node_id}/composition").json()
        assert_figures(detail, expected[node_id])
        if kind == "model" and read["training_run_id"] is not None:
            run = client.get(f"/api/v1/training-runs/{read['training_run_id']}").json()
            assert_figures(run["composition"], expected[f"run:{read['training_run_id']}"])


def test_corrections_in_any_order_end_where_a_from_scratch_computation_ends(
    client: TestClient, session: Session
) -> None:
    """One correction per root, in every order: every order ends in the same stored state,
    and that state is the from-scratch computation over the corrected declarations."""
    corrections = [
        {"human": 0.25, "synthetic": 0.75, "synthetic_depth": 2},
        {"synthetic": 0.5, "unknown": 0.5},
        {"human": 0.5},
    ]
    ends: list[dict[str, tuple[dict[int, float], float, float | None]]] = []
    for order in itertools.permutations(range(len(corrections))):
        namespace = f"order-{uuid.uuid4().hex}"

        def post(path: str, body: dict[str, Any], namespace: str = namespace) -> str:
            response = client.post(path, json={"namespace": namespace, "version": "1", **body})
            assert response.status_code == 201, response.text
            identifier: str = response.json()["id"]
            return identifier

        roots = [
            post("/api/v1/datasets", {"name": f"root{i}", "size": size, "origin": {"human": 1}})
            for i, size in enumerate((300, 100, 50))
        ]
        mix = post(
            "/api/v1/datasets",
            {
                "name": "mix",
                "size": 600,
                "origin": {"human": 1},
                "parents": [{"id": r, "relation": "derived_from"} for r in roots[:2]],
            },
        )
        lm = post("/api/v1/models", {"name": "lm", "training_set": [{"id": mix}]})
        out = post(
            "/api/v1/datasets",
            {
                "name": "out",
                "parents": [
                    {"id": lm, "relation": "generated_by"},
                    {"id": roots[2], "relation": "used"},
                ],
            },
        )
        post(
            "/api/v1/models",
            {"name": "lm", "version": "2", "training_set": [{"id": out}, {"id": roots[2]}]},
        )
        for position in order:
            response = client.put(
                f"/api/v1/datasets/{roots[position]}/origin", json=corrections[position]
            )
            assert response.status_code == 200, response.text
        graph = graph_check.check_graph(session, [namespace])
        ends.append(
            {
                graph.label(node.id).split("/", 1)[1]: (
                    dict(graph.stored[node.id].composition.buckets),
                    graph.stored[node.id].composition.unknown,
                    graph.stored[node.id].total_amount,
                )
                for node in graph.nodes
            }
        )
    first = ends[0]
    for end in ends[1:]:
        assert end.keys() == first.keys()
        for name, (buckets, unknown, total) in end.items():
            want_buckets, want_unknown, want_total = first[name]
            assert set(buckets) == set(want_buckets), name
            for depth, mass in buckets.items():
                assert mass == pytest.approx(want_buckets[depth], abs=graph_check.TOLERANCE)
            assert unknown == pytest.approx(want_unknown, abs=graph_check.TOLERANCE)
            assert total == pytest.approx(want_total)
    # hand-computed: root0 is 1/4 human, 3/4 at depth 2; root1 half depth 1, half unknown
    assert first["mix@1"][0] == pytest.approx({0: 75 / 600 + 200 / 600, 1: 50 / 600, 2: 225 / 600})
    assert first["mix@1"][1] == pytest.approx(50 / 600)


def test_the_composition_endpoint_agrees_with_the_stored_composition(
    client: TestClient, session: Session
) -> None:
    namespace = f"endpoint-{uuid.uuid4().hex}"

    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = client.post(path, json={"namespace": namespace, "version": "1", **body})
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    human = post("/api/v1/datasets", {"name": "human", "size": 600, "origin": {"human": 1}})
    lm = post("/api/v1/models", {"name": "lm", "training_set": [{"id": human["id"]}]})
    synthetic = post(
        "/api/v1/datasets",
        {
            "name": "synthetic",
            "size": 400,
            "parents": [{"id": lm["id"], "relation": "generated_by"}],
        },
    )
    mixed = post(
        "/api/v1/datasets",
        {
            "name": "mixed",
            "size": 1200,
            "parents": [
                {"id": human["id"], "relation": "derived_from"},
                {"id": synthetic["id"], "relation": "derived_from"},
            ],
        },
    )
    graph = graph_check.check_graph(session, [namespace])
    nodes, edges = graph_check.training_set_graph(graph)
    expected = recompute_all(nodes, edges)
    for item in (human, synthetic, mixed):
        response = client.get(f"/api/v1/datasets/{item['id']}/composition")
        assert response.status_code == 200, response.text
        detail = response.json()
        assert_figures(detail, expected[item["id"]])
        read = client.get(f"/api/v1/datasets/{item['id']}").json()["composition"]
        assert {k: detail[k] for k in read} == read
        assert isinstance(detail["contributors"], list)
    response = client.get(f"/api/v1/models/{lm['id']}/composition")
    assert response.status_code == 200, response.text
    assert_figures(response.json(), expected[lm["id"]])
    # the mixture's only synthetic mass comes through `synthetic`, whose generator saw none
    detail = client.get(f"/api/v1/datasets/{mixed['id']}/composition").json()
    assert detail["synthetic_fraction"] == pytest.approx(1 / 3)
    assert detail["contributors"], detail
    assert sum(c["synthetic_share"] for c in detail["contributors"]) <= 1 + 1e-9
