"""The shapes an OpenLineage event maps to: the artifact versions it names and the derivations
it records, as plain data (see ``app.lineage.openlineage.map_event``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from app.composition.core import Relation
from app.composition.origin import Origin

Kind = Literal["dataset", "model"]
EventKind = Literal["run", "dataset", "job"]
Loc = tuple[str | int, ...]
Unit = Literal["rows", "bytes"]
Measure = tuple[float | None, str | None]
"""An amount and the facet field it was read from (``outputStatistics.rowCount``)."""

HEADWATER_ORIGIN_FACET = "headwater_origin"

UNVERSIONED = "unversioned"
"""The version recorded for an unversioned dataset named by an event without a run (a JobEvent
or DatasetEvent) when no version of it exists yet: there is no run id to name it after."""

FAILED_STATES = ("FAIL", "ABORT")
"""A run that ends in one of these wrote nothing anyone should build on: its outputs are
recorded as retracted versions."""


@dataclass(frozen=True, slots=True)
class NodeKey:
    """The natural key of an artifact version named by an event.

    ``version`` None means "the newest version recorded when the event arrives"; if none is
    recorded yet, the consumer records ``fallback_version``. For an input read by the run that
    also writes the same unversioned dataset, the fallback equals the output's version, so the
    consumer must drop an edge whose parent resolves to its own child.
    """

    kind: Kind
    namespace: str
    name: str
    version: str | None
    fallback_version: str | None


@dataclass(frozen=True, slots=True)
class NodeIntent:
    """An artifact version as the event describes it: ``size`` from an output's
    ``outputStatistics.rowCount``, ``origin`` from the ``headwater_origin`` facet, and every
    dataset facet as received."""

    key: NodeKey
    size: float | None
    origin: Origin | None
    facets: dict[str, Any]
    size_source: str | None = field(default=None, compare=False)
    identifiers: tuple[tuple[str, str], ...] = ()
    """With a ``symlinks`` facet, every (namespace, name) of the dataset, the one to record it
    under first: a ``TABLE`` symlink (a table's logical name outlives its location), else the
    identifier the event used. Empty without symlinks."""


@dataclass(frozen=True, slots=True)
class EdgeIntent:
    child: NodeKey
    parent: NodeKey
    relation: Relation
    amount: float | None
    amount_source: str | None = field(default=None, compare=False)
    """The facet field the amount was read from, e.g. ``inputStatistics.rowCount``."""


@dataclass(frozen=True, slots=True)
class MappedEvent:
    """What one event records. ``nodes`` lists each key once, inputs before outputs, so that a
    consumer resolving them in order finds an input's newest version before this event's own
    outputs are recorded."""

    kind: EventKind
    event_type: str | None
    event_time: datetime
    run_id: str | None
    job_namespace: str | None
    job_name: str | None
    producer: str
    nodes: list[NodeIntent]
    edges: list[EdgeIntent]
    outputs: list[NodeKey] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class FieldError:
    loc: Loc
    msg: str


class EventInvalid(ValueError):
    """The event breaks the spec or the ``headwater_origin`` facet; ``errors`` names every
    offending field by its JSON path."""

    errors: list[FieldError]

    def __init__(self, errors: Sequence[FieldError]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(f"{_render_loc(e.loc)}: {e.msg}" for e in self.errors))


def _render_loc(loc: Loc) -> str:
    return "/".join(str(part) for part in loc) or "(event)"


def rename(event: MappedEvent, names: Mapping[NodeKey, NodeKey]) -> MappedEvent:
    """The event with each key in ``names`` replaced (a symlinked dataset's canonical
    identifier); nodes that become one are merged, the first mention first."""
    if not names:
        return event

    def key(k: NodeKey) -> NodeKey:
        return names.get(k, k)

    nodes: dict[NodeKey, NodeIntent] = {}
    for node in event.nodes:
        renamed = key(node.key)
        seen = nodes.get(renamed)
        if seen is None:
            nodes[renamed] = dataclasses.replace(node, key=renamed)
            continue
        nodes[renamed] = dataclasses.replace(
            seen,
            size=seen.size if seen.size is not None else node.size,
            origin=seen.origin or node.origin,
            facets={**node.facets, **seen.facets},
            identifiers=tuple(dict.fromkeys([*seen.identifiers, *node.identifiers])),
        )
    return dataclasses.replace(
        event,
        nodes=list(nodes.values()),
        edges=rename_edges(event.edges, names),
        outputs=list(dict.fromkeys(key(k) for k in event.outputs)),
    )


def rename_edges(edges: Sequence[EdgeIntent], names: Mapping[NodeKey, NodeKey]) -> list[EdgeIntent]:
    renamed: dict[tuple[NodeKey, NodeKey, Relation], EdgeIntent] = {}
    for edge in edges:
        child, parent = names.get(edge.child, edge.child), names.get(edge.parent, edge.parent)
        slot = (child, parent, edge.relation)
        if child != parent and (slot not in renamed or renamed[slot].amount is None):
            renamed[slot] = dataclasses.replace(edge, child=child, parent=parent)
    return list(renamed.values())
