"""A node's parents' compositions read one at a time: the same exact result as reading them all
at once, without holding them all."""

from __future__ import annotations

import math
import random
import tracemalloc
from collections.abc import Iterator

from hypothesis import given, settings
from hypothesis import strategies as st

from app.composition.core import (
    FEW_PARENTS,
    MASS_RELATIONS,
    PACK_EVERY,
    Composition,
    ParentContribution,
    Relation,
    compose,
    compose_streamed,
    mix,
    weighting,
)
from app.composition.origin import resolve_origin

RELATIONS: list[Relation] = [
    "trained_on",
    "fine_tuned_from",
    "generated_by",
    "derived_from",
    "used",
]


def composition(rng: random.Random, buckets: int) -> Composition:
    masses = [rng.random() + 0.01 for _ in range(buckets)]
    unknown = rng.random()
    total = math.fsum([*masses, unknown])
    return Composition(
        tuple((depth, mass / total) for depth, mass in enumerate(masses)), unknown / total
    )


def parents(seed: int, count: int, buckets: int = 8) -> list[ParentContribution]:
    rng = random.Random(seed)
    return [
        ParentContribution(
            relation=rng.choice(RELATIONS),
            composition=composition(rng, rng.randint(1, buckets)),
            amount=rng.choice([None, rng.uniform(0.0, 1e6), 0.0]),
            parent_size=rng.choice([None, rng.uniform(1.0, 1e6)]),
            parent_total_amount=rng.choice([None, rng.uniform(1.0, 1e6)]),
        )
        for _ in range(count)
    ]


@given(
    seed=st.integers(0, 2**32),
    count=st.integers(0, 12),
    size=st.none() | st.floats(0.0, 1e7),
)
@settings(max_examples=200, deadline=None)
def test_streamed_equals_compose_to_the_last_bit(seed: int, count: int, size: float | None) -> None:
    given_parents = parents(seed, count)
    origin = resolve_origin(human=0.5, unknown=0.5)
    for kind in ("dataset", "model"):
        streamed = compose_streamed(
            kind,
            size,
            origin,
            given_parents,
            (p.composition for p in given_parents if p.relation != "used"),
        )
        assert streamed == compose(kind, size, origin, given_parents)


@given(
    seed=st.integers(0, 2**32),
    count=st.integers(0, 12) | st.integers(FEW_PARENTS - 3, FEW_PARENTS + 3),
    size=st.none() | st.floats(0.0, 1e7),
    declared=st.booleans(),
)
@settings(max_examples=200, deadline=None)
def test_a_node_with_few_parents_mixes_in_one_round_to_the_same_bits(
    seed: int, count: int, size: float | None, declared: bool
) -> None:
    """A node with up to FEW_PARENTS weighted parents is mixed in one round, one with more is
    streamed; either gives what the streamed mix (``mix``) makes of the same weights."""
    given_parents = parents(seed, count)
    origin = resolve_origin(human=0.5, unknown=0.5) if declared else None
    for kind in ("dataset", "model"):
        weights = weighting(kind, size, given_parents)
        parts = [
            (weight, p.composition.shifted() if p.relation == "generated_by" else p.composition)
            for weight, p in zip(weights.parents, given_parents, strict=True)
            if p.relation in MASS_RELATIONS
        ]
        own = Composition.all_unknown()
        if kind == "dataset" and origin is not None:
            own = Composition.from_origin(origin)
        if weights.residual > 0.0:
            parts.append((weights.residual, own))
        streamed = mix(parts)
        assert compose(kind, size, origin, given_parents).composition == (
            own if streamed is None else streamed
        )


def test_a_node_with_more_parents_than_a_pack_sums_every_term_exactly() -> None:
    """Terms packed into arrays on the way are summed as if none had been: the result does not
    depend on the order the parents come in, even past several packings."""
    many = [
        ParentContribution("derived_from", p.composition, p.amount or 1.0, None, None)
        for p in parents(7, 3 * PACK_EVERY + 5)
    ]
    forward = compose("dataset", None, None, many)
    backward = compose("dataset", None, None, many[::-1])
    shuffled = many[:]
    random.Random(3).shuffle(shuffled)
    assert forward == backward == compose("dataset", None, None, shuffled)
    top = max(p.amount or 0.0 for p in many)
    by_depth: dict[int, list[float]] = {}
    for p in many:
        for depth, mass in p.composition.buckets:
            by_depth.setdefault(depth, []).append((p.amount or 0.0) / top * mass)
    unknown = math.fsum((p.amount or 0.0) / top * p.composition.unknown for p in many)
    total = math.fsum([*(math.fsum(terms) for terms in by_depth.values()), unknown])
    assert forward.composition.unknown == unknown / total


def test_fifty_thousand_parents_are_never_held_at_once() -> None:
    """Each parent's composition is made when the mix asks for it and dropped after: memory
    stays far below what 10,000 parsed 50-bucket vectors take (about 50 MB)."""
    count, buckets = 10_000, 50
    rng = random.Random(11)
    edges = [
        ParentContribution("trained_on", Composition.all_unknown(), 1.0 + i % 7, None, None)
        for i in range(count)
    ]
    made = 0

    def fetched() -> Iterator[Composition]:
        nonlocal made
        for _ in range(count):
            made += 1
            yield composition(rng, buckets)

    tracemalloc.start()
    try:
        result = compose_streamed("model", None, None, edges, fetched())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert made == count
    assert result.total_amount == math.fsum(1.0 + i % 7 for i in range(count))
    assert peak < 15 * 2**20
