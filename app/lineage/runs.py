"""The events of one OpenLineage run, merged: what they say together, whichever order they
arrive in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.lineage import intents, openlineage
from app.lineage import repository as lineage_repository


@dataclass
class RunSoFar:
    """What the events of one run received so far say together.

    ``edges`` are the edges of one event naming every input and output of the run's events,
    ``outputs`` every output they named; ``first_named`` holds, for each unversioned input,
    when the run first named it; ``failed`` the FAIL or ABORT an earlier event reported.
    """

    edges: list[intents.EdgeIntent]
    first_named: dict[intents.NodeKey, datetime]
    outputs: list[intents.NodeKey] = field(default_factory=list)
    failed: str | None = None

    @classmethod
    def of(
        cls,
        event: intents.MappedEvent,
        payload: Mapping[str, Any],
        stored: Sequence[lineage_repository.StoredEvent],
    ) -> RunSoFar:
        """The run of ``event`` with the events of it ``stored`` before."""
        earlier: list[tuple[lineage_repository.StoredEvent, intents.MappedEvent]] = []
        for row in stored:
            try:
                earlier.append((row, openlineage.map_event(row.payload)))
            except intents.EventInvalid:
                # accepted under earlier rules; what it recorded then stays recorded
                continue
        if not earlier:
            return cls(list(event.edges), {}, list(event.outputs))
        failed = next(
            (m.event_type for _, m in earlier if m.event_type in intents.FAILED_STATES), None
        )
        first_named: dict[intents.NodeKey, datetime] = {}
        for row, mapped in earlier:
            for node in mapped.nodes:
                if node.key.version is None:
                    first_named.setdefault(node.key, row.received_at)
        # newest first: where events disagree on an amount, the one received last is a
        # correction of the others
        payloads: Sequence[Mapping[str, Any]] = [
            payload,
            *(row.payload for row, _ in reversed(earlier)),
        ]
        merged = {
            **payload,
            "inputs": [d for p in payloads for d in p.get("inputs") or []],
            "outputs": [d for p in payloads for d in p.get("outputs") or []],
        }
        try:
            whole = openlineage.map_event(merged)
            edges, outputs = whole.edges, whole.outputs
        except intents.EventInvalid:
            edges, outputs = list(event.edges), list(event.outputs)
        return cls(edges, first_named, outputs, failed)
