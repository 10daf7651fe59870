"""The gate mixes its members' packed vectors: the same figures as the composition rule, to the
last bit, and the same as an independent recomputation of the graph with the proposed set as
one more model node, whatever the members: stale, of unknown origin or size, of size zero,
named by an older version whose newest one was retracted, named twice."""

from __future__ import annotations

import random
import struct
import uuid
from collections.abc import Sequence
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.composition.core import (
    Composition,
    ParentContribution,
    compose,
    mix_packed,
    mix_vectors,
)
from app.policies.service import Member, training_set_composition
from tests.composition.reference import RefEdge, RefNode, recompute_all
from tests.graph_check import TOLERANCE, load_graph


def packed(composition: Composition) -> bytes:
    """The packed form as the database writes it: big-endian doubles, the unknown mass first,
    then depth and mass of each bucket."""
    values = [composition.unknown]
    for depth, mass in composition.buckets:
        values += [float(depth), mass]
    return struct.pack(f">{len(values)}d", *values)


class Version:
    """A member as the gate reads it, built from a composition."""

    def __init__(self, composition: Composition, size: float | None) -> None:
        self.id = uuid.uuid4()
        self.namespace = "ns"
        self.name = self.version = str(self.id)
        self.size = size
        self.composition_packed = packed(composition)
        self.composition_stale = False
        self.human_fraction = composition.human_fraction
        self.synthetic_fraction = composition.synthetic_fraction


def normalized(depths: dict[int, float], unknown: float) -> Composition:
    total = sum(depths.values()) + unknown
    return Composition(tuple((d, m / total) for d, m in sorted(depths.items())), unknown / total)


masses = st.floats(min_value=1e-6, max_value=1.0)
compositions = st.builds(
    normalized, st.dictionaries(st.integers(0, 60), masses, max_size=12), masses
)
amounts = st.one_of(st.none(), st.just(0.0), st.floats(min_value=0.0, max_value=1e12))


@given(st.lists(st.tuples(compositions, amounts, amounts), max_size=30))
def test_the_packed_mixture_is_the_composition_rule_to_the_bit(
    members: list[tuple[Composition, float | None, float | None]],
) -> None:
    proposed = [Member(Version(c, size), amount) for c, size, amount in members]
    expected = compose(
        "model",
        None,
        None,
        [ParentContribution("trained_on", c, amount, size, None) for c, size, amount in members],
    )
    assert training_set_composition(proposed) == expected


weights = st.one_of(st.just(0.0), st.floats(min_value=0.0, max_value=1e18))


@given(st.lists(st.tuples(weights, compositions), max_size=60))
def test_mixing_packed_vectors_is_mixing_their_buckets_to_the_bit(
    parts: list[tuple[float, Composition]],
) -> None:
    expected = mix_vectors((weight, c.buckets, c.unknown) for weight, c in parts)
    assert mix_packed([w for w, _ in parts], [packed(c) for _, c in parts]) == expected


def test_mixing_thousands_of_packed_vectors_is_mixing_their_buckets_to_the_bit() -> None:
    rng = random.Random(8)
    parts = [
        (
            rng.choice([0.0, 1.0, rng.uniform(0.0, 1e9)]),
            normalized(
                {rng.randrange(70): rng.random() for _ in range(rng.randrange(40))}, rng.random()
            ),
        )
        for _ in range(5000)
    ]
    expected = mix_vectors((weight, c.buckets, c.unknown) for weight, c in parts)
    assert mix_packed([w for w, _ in parts], [packed(c) for _, c in parts]) == expected


def test_a_vector_that_is_not_packed_is_refused() -> None:
    with pytest.raises(ValueError, match="not a packed composition"):
        mix_packed([1.0], [b"\x00" * 16])


def test_the_database_packs_every_stored_composition(client: TestClient, session: Session) -> None:
    lab = Proposal(client)
    human = lab.dataset("human", 1000.0, {"human": 1.0})
    vendor = lab.dataset("vendor", 500.0, {"synthetic": 1.0, "synthetic_depth": 2})
    lab.dataset("mix", 2000.0, None, parents=[human, vendor])
    rows = session.execute(
        text("SELECT composition, composition_packed FROM artifacts WHERE namespace = :ns"),
        {"ns": lab.namespace},
    ).all()
    assert len(rows) == 3
    for stored, bytes_ in rows:
        assert bytes(bytes_) == packed(Composition.from_json(stored))


class Proposal:
    """Lineage in a namespace of its own, and gates over it."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.namespace = f"gate-{uuid.uuid4().hex}"

    def dataset(
        self,
        name: str,
        size: float | None,
        origin: dict[str, Any] | None,
        *,
        version: str = "1",
        parents: Sequence[dict[str, Any]] = (),
        relation: str = "derived_from",
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"namespace": self.namespace, "name": name, "version": version}
        if size is not None:
            body["size"] = size
        if origin is not None:
            body["origin"] = origin
        if parents:
            body["parents"] = [{"id": p["id"], "relation": relation} for p in parents]
        response = self.client.post("/api/v1/datasets", json=body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def model(self, name: str, training_set: Sequence[dict[str, Any]]) -> dict[str, Any]:
        body = {
            "namespace": self.namespace,
            "name": name,
            "version": "1",
            "training_set": [{"id": d["id"]} for d in training_set],
        }
        response = self.client.post("/api/v1/models", json=body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def gate(self, items: Sequence[tuple[str, str | None, float | None]]) -> dict[str, Any]:
        body = {
            "training_set": [
                {
                    "namespace": self.namespace,
                    "name": name,
                    **({} if version is None else {"version": version}),
                    **({} if amount is None else {"amount": amount}),
                }
                for name, version, amount in items
            ]
        }
        response = self.client.post("/api/v1/gate", json=body)
        assert response.status_code == 200, response.text
        judged: dict[str, Any] = response.json()
        return judged


def reference(
    session: Session, namespace: str, members: Sequence[tuple[str, float | None]]
) -> tuple[dict[int, float], float, float | None, bool]:
    """The proposed set as one more model node, trained on the members (id, amount), computed
    from scratch with the rest of the graph."""
    graph = load_graph(session, [namespace])
    node = "proposed"
    nodes = [*graph.nodes, RefNode(node, "model", None, None)]
    edges = [*graph.edges, *(RefEdge(node, m, "trained_on", amount) for m, amount in members)]
    return recompute_all(nodes, edges)[node]


def assert_matches(judged: dict[str, Any], expected: tuple[Any, ...]) -> None:
    buckets, unknown, total, assumed = expected
    composition = judged["composition"]
    histogram = {int(d): m for d, m in composition["depth_histogram"].items()}
    for depth in set(histogram) | set(buckets):
        assert abs(histogram.get(depth, 0.0) - buckets.get(depth, 0.0)) <= TOLERANCE, depth
    assert abs(composition["unknown_fraction"] - unknown) <= TOLERANCE
    assert composition["weights_assumed"] is assumed
    if total is None:
        assert composition["total_amount"] is None
    else:
        assert abs(composition["total_amount"] - total) <= TOLERANCE * total


def test_gated_mixtures_equal_a_recomputation_whatever_the_members(
    client: TestClient, session: Session
) -> None:
    lab = Proposal(client)
    human = lab.dataset("human", 1000.0, {"human": 1.0})
    vendor = lab.dataset("vendor", 500.0, {"synthetic": 1.0, "synthetic_depth": 2})
    crawl = lab.dataset("crawl", 800.0, {"human": 0.5, "synthetic": 0.2, "unknown": 0.3})
    scrape = lab.dataset("scrape", None, None)  # no origin, no size
    empty = lab.dataset("empty", 0.0, {"human": 1.0})
    mix = lab.dataset("mix", 3000.0, None, parents=[human, vendor, crawl])  # residual unknown
    model = lab.model("lm", [mix, human])
    generated = lab.dataset("generated", 400.0, None, parents=[model], relation="generated_by")
    # the newest version of "crawl" is retracted: an unversioned item means the older one
    newer = lab.dataset("crawl", 900.0, {"human": 1.0}, version="2")
    retracted = client.post(
        f"/api/v1/datasets/{newer['id']}/retraction", json={"reason": "written twice"}
    )
    assert retracted.status_code in (200, 201), retracted.text

    sized = [
        (("human", "1", 300.0), human, 300.0),
        (("vendor", "1", None), vendor, None),
        (("crawl", None, 50.0), crawl, 50.0),
        (("empty", "1", None), empty, None),
        (("mix", "1", 1000.0), mix, 1000.0),
        (("generated", "1", None), generated, None),
        (("human", "1", 0.0), human, 0.0),  # named twice, the second time for nothing
    ]
    judged = lab.gate([item for item, _, _ in sized])
    assert judged["composition"]["stale"] is False
    assert_matches(judged, reference(session, lab.namespace, [(d["id"], a) for _, d, a in sized]))

    # a member of unknown size without an amount: every member weighs the same
    assumed = [*sized, (("scrape", "1", None), scrape, None)]
    judged = lab.gate([item for item, _, _ in assumed])
    assert judged["composition"]["weights_assumed"] is True
    assert_matches(judged, reference(session, lab.namespace, [(d["id"], a) for _, d, a in assumed]))

    # only members that weigh nothing: nothing is known of the set
    judged = lab.gate([("empty", "1", None), ("human", "1", 0.0)])
    assert_matches(
        judged, reference(session, lab.namespace, [(empty["id"], None), (human["id"], 0.0)])
    )
    assert judged["composition"]["unknown_fraction"] == 1.0

    # a member whose composition waits to be recomputed: figures as stored, said to be stale
    session.execute(
        text("UPDATE artifacts SET composition_stale = true WHERE id = :id"), {"id": mix["id"]}
    )
    judged = lab.gate([item for item, _, _ in sized])
    assert judged["composition"]["stale"] is True
    assert_matches(judged, reference(session, lab.namespace, [(d["id"], a) for _, d, a in sized]))


def test_a_name_postgresql_cannot_store_is_refused_as_before(client: TestClient) -> None:
    response = client.post(
        "/api/v1/gate", json={"training_set": [{"namespace": "n\u0000s", "name": "d"}]}
    )
    assert response.status_code == 422, response.text
    assert response.json()["type"].endswith("unstorable-value")
