"""One pass of propagation: recompute a set of nodes from their parents, in
topological order, with the pure core, and write the results back in bulk.

The caller holds the nodes locked (``repository.lock_descendants`` or, chunk by chunk,
``repository.lock_nodes``). Parents outside the set are read as stored; a pass keeps in memory
only what a later node still needs: the results its children here have not used yet, and the
stored compositions of outside parents as JSON text until a child parses one.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Container, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from graphlib import TopologicalSorter
from typing import cast

import orjson
from sqlalchemy.orm import Session

from app.composition import repository
from app.composition.core import (
    MASS_RELATIONS,
    Composition,
    Kind,
    NodeComposition,
    Relation,
    compose_streamed,
    packed,
)
from app.composition.writer import CompositionRow, CompositionWriter
from app.db import json_dumps


def stored_row(node_id: uuid.UUID, result: NodeComposition, stale: bool) -> CompositionRow:
    """The stored form of a node's composition (JSON, packed doubles, and the figures lists
    filter on)."""
    c = result.composition
    return CompositionRow(
        id=node_id,
        composition=json_dumps(c.to_json()),
        composition_packed=packed(c),
        total_amount=result.total_amount,
        weights_assumed=result.weights_assumed,
        human_fraction=c.human_fraction,
        synthetic_fraction=c.synthetic_fraction,
        unknown_fraction=c.unknown_fraction,
        stale=stale,
    )


@dataclass(frozen=True, slots=True)
class Written:
    """A composition a job wrote, as it left it (in its stored JSON form, which takes a third of
    the memory of the parsed one): a child in a later chunk may use it as long as the stored row
    still carries the same write time and stale flag."""

    composition: str
    total_amount: float | None
    weights_assumed: bool
    updated_at: datetime
    stale: bool


# A node with more outside parents than this, each needed by it alone, reads their stored
# compositions a page at a time as it is composed, instead of with the others before the pass:
# a training set of 50,000 members would otherwise hold 50,000 stored JSON texts at once.
WIDE_PARENTS = 1_000

# Stored compositions this short (a handful of buckets: all human, all unknown, a declared
# origin) recur across a graph; equal ones parsed in one pass share one object.
SHARED_BELOW = 256


def parsed(stored_json: str, shared: dict[str, Composition]) -> Composition:
    """A stored composition's JSON text as a composition; short ones parsed once per pass."""
    if len(stored_json) > SHARED_BELOW:
        return Composition.from_json(orjson.loads(stored_json))
    found = shared.get(stored_json)
    if found is None:
        found = shared[stored_json] = Composition.from_json(orjson.loads(stored_json))
    return found


@dataclass
class Pass:
    """What recomputing one set of nodes did."""

    nodes: int = 0
    changed: set[uuid.UUID] = field(default_factory=set)
    models: list[uuid.UUID] = field(default_factory=list)
    written: dict[uuid.UUID, Written] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ParentFigures:
    """What weighing one edge needs (a :class:`~app.composition.core.ParentEdge`)."""

    relation: Relation
    amount: float | None
    parent_size: float | None
    parent_total_amount: float | None


class Outside:
    """The stored compositions of the parents outside a pass, as JSON text until a child needs
    one; a parsed one is kept only while more children will need it, and each is dropped after
    its last use. A node with 50,000 parents outside then holds their texts, not 50,000 parsed
    compositions; with more than ``WIDE_PARENTS`` of its own, not even their texts: those
    (paged: their text is None) hold only their totals until the node is composed, and their
    texts are read then, a page at a time (:meth:`page_through`)."""

    def __init__(self) -> None:
        # the JSON text is None for a paged parent
        self.texts: dict[uuid.UUID, tuple[str | None, float | None, bool]] = {}
        self.uses: dict[uuid.UUID, int] = defaultdict(int)
        self.parsed: dict[uuid.UUID, Composition] = {}
        self.shared: dict[str, Composition] = {}

    def total_amount(self, parent_id: uuid.UUID) -> float | None:
        return self.texts[parent_id][1]

    def is_paged(self, parent_id: uuid.UUID) -> bool:
        return self.texts[parent_id][0] is None

    def composition(self, parent_id: uuid.UUID) -> Composition:
        found = self.parsed.get(parent_id)
        if found is None:
            stored = self.texts[parent_id][0]
            assert stored is not None, "a paged parent is read with its child's page"
            found = parsed(stored, self.shared)
            if self.uses[parent_id] > 1:
                self.parsed[parent_id] = found
        return found

    def page_through(
        self, session: Session, into: Sequence[repository.ChunkEdge]
    ) -> Iterator[Composition] | None:
        """The stored compositions of a node's paged parents, in the order of its mass-carrying
        edges, read a page at a time as they are taken; None when it has no paged parent."""
        ids = [
            edge.parent_id
            for edge in into
            if edge.relation in MASS_RELATIONS
            and edge.parent_index is None
            and self.is_paged(edge.parent_id)
        ]
        if not ids:
            return None
        return (parsed(text, self.shared) for text in repository.stored_texts(session, ids))

    def used(self, parent_id: uuid.UUID) -> None:
        self.uses[parent_id] -= 1
        if self.uses[parent_id] == 0:
            del self.uses[parent_id], self.texts[parent_id]
            self.parsed.pop(parent_id, None)


def recompute(
    session: Session,
    ids: Sequence[uuid.UUID],
    *,
    known: dict[uuid.UUID, Written] | None = None,
    keep: Container[uuid.UUID] = (),
) -> Pass:
    """Recompute the given nodes (locked by the caller) from their parents, in topological order.

    A parent outside ``ids`` is read as stored, unless ``known`` holds what this job wrote for it
    and nobody has rewritten it since. The results for the nodes in ``keep`` are returned (for
    later passes of the same job); the others are dropped once their last child here used them.
    """
    nodes, edges = repository.load_chunk(session, ids)
    edges_into: list[list[repository.ChunkEdge]] = [[] for _ in ids]
    uses_left = [0] * len(ids)
    outside = Outside()
    missing: set[uuid.UUID] = set()
    graph: TopologicalSorter[int] = TopologicalSorter()
    for ix in range(len(ids)):
        graph.add(ix)
    for edge in edges:
        edges_into[edge.child_index].append(edge)
        if edge.parent_index is not None:
            uses_left[edge.parent_index] += 1
            graph.add(edge.child_index, edge.parent_index)
            continue
        outside.uses[edge.parent_id] += 1
        if edge.parent_id in outside.texts or edge.parent_id in missing:
            continue
        hit = known.get(edge.parent_id) if known is not None else None
        if (
            hit is not None
            and hit.updated_at == edge.parent_updated_at
            and hit.stale == edge.parent_stale
        ):
            outside.texts[edge.parent_id] = (
                hit.composition,
                hit.total_amount,
                hit.weights_assumed,
            )
        else:
            missing.add(edge.parent_id)
    # outside parents that a wide node alone needs are read when it is composed
    missing_into: dict[int, list[uuid.UUID]] = defaultdict(list)
    for edge in edges:
        parent_id = edge.parent_id
        if edge.parent_index is None and parent_id in missing and outside.uses[parent_id] == 1:
            missing_into[edge.child_index].append(parent_id)
    paged_ids = {p for own in missing_into.values() if len(own) > WIDE_PARENTS for p in own}
    for parent_id, total, assumed in repository.load_totals(session, list(paged_ids)):
        outside.texts[parent_id] = (None, total, assumed)
    for parent_id, composition, total, assumed in repository.load_compositions(
        session, list(missing - paged_ids)
    ):
        outside.texts[parent_id] = (composition, total, assumed)
    del missing, missing_into, paged_ids, edges

    done = Pass()
    fresh: dict[int, tuple[NodeComposition, bool]] = {}
    # what a later pass may need of the nodes in ``keep``: their JSON, total, weights_assumed, stale
    kept: dict[int, tuple[str, float | None, bool, bool]] = {}

    def compositions(
        into: list[repository.ChunkEdge], paged: Iterator[Composition] | None
    ) -> Iterator[Composition]:
        for edge in into:
            if edge.relation not in MASS_RELATIONS:
                continue
            if edge.parent_index is not None:
                yield fresh[edge.parent_index][0].composition
            elif paged is not None and outside.is_paged(edge.parent_id):
                yield next(paged)
            else:
                yield outside.composition(edge.parent_id)

    with CompositionWriter(session) as writer:
        for ix in graph.static_order():
            node = nodes[ix]
            into = edges_into[ix]
            edges_into[ix] = []
            if node is None:  # gone since it was found
                continue
            figures: list[ParentFigures] = []
            node_stale = False
            for edge in into:
                if edge.parent_index is not None:
                    parent, parent_stale = fresh[edge.parent_index]
                    total = parent.total_amount
                else:
                    total, parent_stale = outside.total_amount(edge.parent_id), edge.parent_stale
                node_stale |= parent_stale
                is_dataset = edge.parent_kind == "dataset"
                figures.append(
                    ParentFigures(
                        relation=cast(Relation, edge.relation),
                        amount=edge.amount,
                        parent_size=edge.parent_size if is_dataset else None,
                        parent_total_amount=None if is_dataset else total,
                    )
                )
            paged = outside.page_through(session, into)
            if paged is not None:
                # its pages are read on the session, which a batch in flight may be using
                writer.wait()
            computed = compose_streamed(
                cast(Kind, node.kind), node.size, node.origin, figures, compositions(into, paged)
            )
            for edge in into:
                if edge.parent_index is None:
                    outside.used(edge.parent_id)
                    continue
                uses_left[edge.parent_index] -= 1
                if uses_left[edge.parent_index] == 0:
                    del fresh[edge.parent_index]
            if uses_left[ix]:
                fresh[ix] = (computed, node_stale)
            row = stored_row(node.id, computed, node_stale)
            if node.id in keep:
                kept[ix] = (row.composition, row.total_amount, row.weights_assumed, node_stale)
            writer.add(row)
            done.nodes += 1
            if node.kind == "model":
                done.models.append(node.id)
    done.changed = set(writer.changed)
    for ix, (composition, total, assumed, stale) in kept.items():
        node = nodes[ix]
        assert node is not None
        updated_at = writer.changed.get(node.id, node.updated_at)
        done.written[node.id] = Written(composition, total, assumed, updated_at, stale)
    return done
