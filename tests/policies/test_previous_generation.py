"""The previous generation is the nearest earlier version of the model upstream of a training
set (design section 4): the walk in one statement finds what a plain breadth-first search over
the edges finds, near or far (past the levels it walks before asking whether any is there at
all), the newest of several at one level, never the version being judged."""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import Sequence

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.artifacts.models import Artifact
from app.artifacts.service import new_artifact
from app.lineage.models import Edge
from app.policies import repository
from app.policies.repository import SHALLOW_LEVELS


def breadth_first(
    parents: dict[uuid.UUID, list[uuid.UUID]],
    start: Sequence[uuid.UUID],
    versions: set[uuid.UUID],
    order: dict[uuid.UUID, int],
) -> uuid.UUID | None:
    seen = set(start)
    frontier = list(start)
    while frontier:
        frontier = list({p for node in frontier for p in parents.get(node, []) if p not in seen})
        seen.update(frontier)
        found = [node for node in frontier if node in versions]
        if found:
            return max(found, key=lambda node: order[node])
    return None


def add(session: Session, kind: str, namespace: str, name: str) -> uuid.UUID:
    artifact = new_artifact(kind, namespace, name, uuid.uuid4().hex)
    session.add(artifact)
    session.flush()
    return artifact.id


@pytest.mark.parametrize("seed", range(24))
def test_the_walk_finds_what_a_breadth_first_search_finds(session: Session, seed: int) -> None:
    rng = random.Random(seed)
    namespace = f"walk-{uuid.uuid4().hex}"
    layers: list[list[uuid.UUID]] = []
    versions: set[uuid.UUID] = set()
    parents: dict[uuid.UUID, list[uuid.UUID]] = {}
    depth = rng.choice([3, SHALLOW_LEVELS + 3, 14])
    # versions from this level up only: near, past the first levels walked, or none upstream
    first = rng.choice([1, SHALLOW_LEVELS + 1, depth])
    versions.add(add(session, "model", namespace, "lm"))  # a version in no one's ancestry
    for level in range(depth):
        layer = []
        for _ in range(rng.randint(1, 5)):
            is_version = level >= first and rng.random() < 0.25
            kind = "model" if is_version or rng.random() < 0.3 else "dataset"
            node = add(session, kind, namespace, "lm" if is_version else "other")
            if is_version:
                versions.add(node)
            layer.append(node)
        layers.append(layer)
    edges = []
    for upper, lower in itertools.pairwise(layers):
        for child in upper:
            for parent in rng.sample(lower, rng.randint(1, len(lower))):
                edges.append(Edge(child_id=child, parent_id=parent, relation="used"))
                parents.setdefault(child, []).append(parent)
    # and some that skip levels, so a node is reached along paths of several lengths
    for _ in range(depth):
        upper, lower = sorted(rng.sample(range(depth), 2))
        if lower - upper > 1:
            child, parent = rng.choice(layers[upper]), rng.choice(layers[lower])
            if parent not in parents.get(child, []):
                edges.append(Edge(child_id=child, parent_id=parent, relation="used"))
                parents.setdefault(child, []).append(parent)
    session.add_all(edges)
    session.flush()
    created = session.execute(
        select(Artifact.id).where(Artifact.namespace == namespace).order_by(Artifact.created_at)
    ).scalars()
    order = {node: position for position, node in enumerate(created)}

    start = layers[0]
    excluded = rng.choice([None, *sorted(versions)]) if versions else None
    expected = breadth_first(parents, start, versions - {excluded}, order)
    found = repository.previous_generation(session, start, namespace, "lm", excluded)
    assert found == expected
