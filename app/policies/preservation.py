"""How much of a mixture's human-made data came from sources that were checked, and how much
of that is still verified: the figures the ``sources_preserved`` rule reads."""

from __future__ import annotations

import math
import uuid
from collections import defaultdict, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.composition import reads as composition_reads
from app.composition import repository as composition_repository
from app.composition.contributors import human_credits
from app.composition.repository import IncomingEdge, NodeState
from app.policies import repository


@dataclass(frozen=True, slots=True)
class Preservation:
    checked_human_fraction: float
    """The share of the mixture that is human-made data from a source found verified, changed
    or lost."""
    verified_human_fraction: float
    """The part of it whose source was last found verified."""


NOTHING_CHECKED = Preservation(0.0, 0.0)


@dataclass(frozen=True)
class Region:
    """Some dataset versions and every ancestor their human mass comes from, loaded at once so
    that many training sets over them (a batch of re-judged runs) share three queries."""

    starts: frozenset[uuid.UUID]
    nodes: Mapping[uuid.UUID, NodeState]
    incoming: Mapping[uuid.UUID, Sequence[IncomingEdge]]
    statuses: Mapping[uuid.UUID, str]
    """The checked sources among the nodes."""

    def covers(self, ids: Sequence[uuid.UUID]) -> bool:
        return self.starts.issuperset(ids)


def load_region(session: Session, starts: Sequence[uuid.UUID]) -> Region:
    nodes = {n.id: n for n in composition_reads.load_mass_ancestors_of(session, starts)}
    statuses = repository.checked_statuses(session, list(nodes)) if nodes else {}
    incoming: dict[uuid.UUID, list[IncomingEdge]] = defaultdict(list)
    if statuses:
        for edge in composition_repository.load_incoming(session, list(nodes)):
            incoming[edge.child_id].append(edge)
    return Region(frozenset(starts), nodes, incoming, statuses)


def preservation(region: Region, shares: Mapping[uuid.UUID, float]) -> Preservation:
    """For a mixture of dataset versions in the region (id to its share of the mixture's
    mass)."""
    if not region.statuses or not shares:
        return NOTHING_CHECKED
    # only the part of the region this mixture's mass reaches
    reached = {start for start in shares if start in region.nodes}
    queue = deque(reached)
    while queue:
        for edge in region.incoming.get(queue.popleft(), ()):
            parent = edge.parent_id
            if edge.relation != "generated_by" and parent in region.nodes and parent not in reached:
                reached.add(parent)
                queue.append(parent)
    checked_sources = [source for source in region.statuses if source in reached]
    if not checked_sources:
        return NOTHING_CHECKED
    nodes = {node: region.nodes[node] for node in reached}
    credits = human_credits(shares, nodes, region.incoming)
    checked = math.fsum(credits.get(source, 0.0) for source in checked_sources)
    verified = math.fsum(
        credits.get(source, 0.0)
        for source in checked_sources
        if region.statuses[source] == "verified"
    )
    return Preservation(checked, min(verified, checked))
