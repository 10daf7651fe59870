"""The derivations an OpenLineage event (or its run) records: each edge added, its amount
replaced, or left as recorded, set-based, with the locks and cycle checks a lineage write
needs."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from app.artifacts import repository as artifact_repository
from app.artifacts.models import Artifact
from app.composition import repository as composition_repository
from app.lineage import intents, versions
from app.lineage import repository as lineage_repository
from app.lineage import service as lineage_service
from app.lineage.models import Edge
from app.retractions import service as retraction_service


@dataclass
class Linked:
    """What recording an event's edges did: how many it reported (not withheld), the children
    whose inputs changed, and whether an edge was added or removed."""

    count: int = 0
    touched: list[uuid.UUID] = field(default_factory=list)
    structural: bool = False


def connect_all(
    session: Session,
    named: Sequence[intents.EdgeIntent],
    nodes: Mapping[intents.NodeKey, Artifact],
    first_named: Mapping[intents.NodeKey, datetime],
) -> Linked:
    """Record an event's edges (or its run's), set-based (see ``connect_each``)."""
    return connect_each(session, [named], nodes, first_named)[0]


def connect_each(
    session: Session,
    groups: Sequence[Sequence[intents.EdgeIntent]],
    nodes: Mapping[intents.NodeKey, Artifact],
    first_named: Mapping[intents.NodeKey, datetime],
) -> list[Linked]:
    """Record the edges of several events (or runs) at once, set-based: the versions they name
    that the events do not, the retracted ones, the recorded edges and the locks each in one
    round for all of them; what each group did, in the groups' order. Groups are applied in
    order, as events one after the other would be: an edge several groups report is added
    once, with the amount the last of them gave.

    A later report may replace an edge's amount (a facet sent again replaces the earlier one).
    With the model named, a run is known to be a generation: an earlier ``derived_from`` from a
    dataset input, made before the model was named, gives way to ``used`` (a prompt).

    Locks, as ``lineage_service.connect`` takes them: an edge into a version this transaction
    created closes no cycle and needs only its parent locked for reading; an edge into any other
    version locks that version's descendants first, then reads again and checks for a cycle."""
    named = [intent for group in groups for intent in group]
    outside = [k for e in named for k in (e.child, e.parent) if k not in nodes]
    found = {k: a for k, (a, _) in versions.resolve_all(session, outside, first_named).items()}
    reported: list[retraction_service.ReportedEdge] = []
    owners: list[int] = []
    for owner, group in enumerate(groups):
        for intent in group:
            child = nodes.get(intent.child) or found.get(intent.child)
            parent = nodes.get(intent.parent) or found.get(intent.parent)
            if child is None or parent is None or child.id == parent.id:
                continue
            reported.append(
                retraction_service.ReportedEdge(
                    child, parent, intent.relation, intent.amount, intent.amount_source
                )
            )
            owners.append(owner)
    withheld = retraction_service.withheld_many(session, reported)
    kept = [(e, o) for e, o, held in zip(reported, owners, withheld, strict=True) if not held]
    edges = [e for e, _ in kept]
    each = [Linked() for _ in groups]
    for _, owner in kept:
        each[owner].count += 1
    if not edges:
        return each
    pairs = list(dict.fromkeys((e.child.id, e.parent.id) for e in edges))
    new_here = artifact_repository.created_here(session)
    # a version this transaction created has no edges in until it gives it some
    bare = new_here - artifact_repository.fed_here(session)
    # the children's subgraphs are locked before their edges are read, then the parents only
    # for reading: a popular input stays open to every other writer that reads it. An edge
    # that comes with an amount is expected to change, so its child is locked at once and its
    # edges read once; the others' children only when an edge turns out to change, and their
    # edges read again under the lock
    eager = list(dict.fromkeys(e.child.id for e in edges if e.amount is not None))
    eager = [child for child in eager if child not in new_here]
    if eager:
        composition_repository.lock_descendants(session, eager)
    recorded = {
        (e.child_id, e.parent_id, e.relation): e
        for e in lineage_repository.between(session, [p for p in pairs if p[0] not in bare])
    }

    def settled(e: retraction_service.ReportedEdge) -> bool:
        existing = recorded.get((e.child.id, e.parent.id, e.relation))
        return existing is not None and (e.amount is None or existing.amount == e.amount)

    unsettled = [e for e in edges if not settled(e)]
    locked = set(eager) | new_here
    below = list(dict.fromkeys(e.child.id for e in unsettled if e.child.id not in locked))
    if below:
        composition_repository.lock_descendants(session, below)
    composition_repository.lock_for_reading(session, [e.parent.id for e in unsettled])
    if below:
        recorded.update(
            ((e.child_id, e.parent_id, e.relation), e)
            for e in lineage_repository.between(session, [p for p in pairs if p[0] in set(below)])
        )
    # new edges into versions that are still leaves go in together; a version stops being a
    # leaf once one of them hangs below it, so an edge into it is checked for a cycle after
    added: dict[tuple[uuid.UUID, uuid.UUID, str], Edge] = {}
    gained: set[uuid.UUID] = set()
    amounts: list[tuple[Edge, float, str | None]] = []
    checked: list[tuple[retraction_service.ReportedEdge, int]] = []
    for e, owner in kept:
        linked = each[owner]
        slot = (e.child.id, e.parent.id, e.relation)
        if e.relation == "used":
            superseded_slot = (e.child.id, e.parent.id, "derived_from")
            superseded = recorded.pop(superseded_slot, None)
            if superseded is not None:
                if added.pop(superseded_slot, None) is None:
                    lineage_repository.remove(session, superseded)
                linked.touched.append(e.child.id)
                linked.structural = True
        existing = recorded.get(slot)
        if existing is None and (e.child.id not in new_here or e.child.id in gained):
            checked.append((e, owner))
            continue
        if existing is None:
            recorded[slot] = added[slot] = new_edge(e)
            gained.add(e.parent.id)
            linked.touched.append(e.child.id)
            linked.structural = True
            continue
        if e.amount is None:
            continue
        if existing.amount != e.amount:
            linked.touched.append(e.child.id)
        if slot in added:
            # an edge an earlier group added, not inserted yet: it goes in with the later amount
            existing.amount, existing.amount_source = e.amount, e.amount_source
        elif existing.amount != e.amount or existing.amount_source != e.amount_source:
            amounts.append((existing, e.amount, e.amount_source))
    lineage_repository.insert_many(session, list(added.values()))
    lineage_repository.replace_amounts(session, amounts)
    # where several groups report one checked edge, it goes in once with the last amount given
    last = {(e.child.id, e.parent.id, e.relation): e for e, _ in checked if e.amount is not None}
    for e, owner in checked:
        slot = (e.child.id, e.parent.id, e.relation)
        if slot in recorded:
            continue
        lineage_service.refuse_cycle(session, e.child, e.parent)
        recorded[slot] = new_edge(last.get(slot, e))
        lineage_repository.insert_many(session, [recorded[slot]])
        each[owner].touched.append(e.child.id)
        each[owner].structural = True
    return each


def new_edge(e: retraction_service.ReportedEdge) -> Edge:
    return Edge(
        id=uuid.uuid4(),
        child_id=e.child.id,
        parent_id=e.parent.id,
        relation=e.relation,
        amount=e.amount,
        amount_source=e.amount_source if e.amount is not None else None,
    )
