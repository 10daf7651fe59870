"""How much of a mixture's human-made data came from sources that were checked, and how much
of that is still verified: the figures the ``sources_preserved`` rule reads."""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.composition import repository as composition_repository
from app.composition.contributors import human_credits
from app.composition.repository import IncomingEdge
from app.sources import repository


@dataclass(frozen=True, slots=True)
class Preservation:
    checked_human_fraction: float
    """The share of the mixture that is human-made data from a source found verified, changed
    or lost."""
    verified_human_fraction: float
    """The part of it whose source was last found verified."""


NOTHING_CHECKED = Preservation(0.0, 0.0)


def preservation(session: Session, shares: Mapping[uuid.UUID, float]) -> Preservation:
    """For a mixture of dataset versions (id to its share of the mixture's mass)."""
    if not shares:
        return NOTHING_CHECKED
    nodes = {n.id: n for n in composition_repository.load_mass_ancestors_of(session, list(shares))}
    statuses = repository.checked_statuses(session, list(nodes))
    if not statuses:
        return NOTHING_CHECKED
    incoming: dict[uuid.UUID, list[IncomingEdge]] = defaultdict(list)
    for edge in composition_repository.load_incoming(session, list(nodes)):
        incoming[edge.child_id].append(edge)
    credits = human_credits(shares, nodes, incoming)
    checked = math.fsum(credits.get(source, 0.0) for source in statuses)
    verified = math.fsum(
        credits.get(source, 0.0) for source, status in statuses.items() if status == "verified"
    )
    return Preservation(checked, min(verified, checked))
