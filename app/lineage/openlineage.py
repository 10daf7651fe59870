"""OpenLineage events (spec 2-0-2) mapped to lineage intents, without touching the database.

``map_event`` validates one decoded event and says which artifact versions it names and which
derivations it records. Resolving "the newest version" and writing happen elsewhere; keeping this
step pure lets the HTTP layer report every wrong field at once, and lets batches be validated
before any of them is written.

Validation is the pydantic models of ``app.lineage.events``.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal

from pydantic import ValidationError

from app.composition.core import Relation
from app.composition.origin import Origin
from app.lineage import events
from app.lineage.events import HEADWATER_ORIGIN_SCHEMA_ID as HEADWATER_ORIGIN_SCHEMA_ID
from app.lineage.events import RUN_STATES as RUN_STATES
from app.lineage.events import describe

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

_EVENT_MODELS: Mapping[EventKind, type[events.BaseEvent]] = {
    "run": events.RunEvent,
    "job": events.JobEvent,
    "dataset": events.DatasetEvent,
}

_EVENT_SCHEMA_NAMES: Mapping[str, EventKind] = {
    "RunEvent": "run",
    "DatasetEvent": "dataset",
    "JobEvent": "job",
}


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


# Namespaces that name a store whose files fsspec can read: with them, namespace and name
# combine into the dataset's location (the OpenLineage naming spec: scheme:[//authority]path).
STORAGE_SCHEMES: Final = frozenset(
    {"file", "s3", "s3a", "s3n", "gs", "gcs", "hdfs", "abfs", "abfss", "az", "hf", "http", "https"}
)
SHA256_VERSION: Final = re.compile(r"^sha256:[0-9a-fA-F]{64}$")


def dataset_location(namespace: str, name: str, version: str) -> dict[str, str]:
    """The ``uri`` and ``checksum`` a dataset named in an event carries, where it says them.

    No facet of the OpenLineage spec carries a checksum; a content-addressed version does:
    a ``datasetVersion`` of the form ``sha256:<hex>`` is the data's checksum."""
    found: dict[str, str] = {}
    scheme, separator, _ = namespace.partition("://")
    scheme = (scheme if separator else namespace).lower()
    if scheme in STORAGE_SCHEMES:
        root = namespace if separator else f"{scheme}://"
        found["uri"] = root.rstrip("/") + "/" + name.lstrip("/") if separator else root + name
    if SHA256_VERSION.match(version):
        found["checksum"] = version.lower()
    return found


def map_event(payload: Mapping[str, Any]) -> MappedEvent:
    """Map one decoded OpenLineage event to the artifact versions and derivations it records.

    The event's kind comes from its shape: ``run`` makes a RunEvent; ``job`` without ``run`` a
    JobEvent (unless ``schemaURL`` names RunEvent, when the missing ``run`` is reported);
    ``dataset`` a DatasetEvent; with none of them, ``schemaURL`` decides, else RunEvent.

    Versions: the ``version`` facet's ``datasetVersion`` when present. Otherwise a RunEvent's
    output is the version named by the run id, and an input is the newest version, falling back
    to the run id. Without a run (JobEvent, DatasetEvent) every unversioned dataset is the newest
    version, falling back to ``UNVERSIONED``: rejecting such events would drop lineage that the
    official clients send, and a constant fallback keeps redelivery idempotent.

    Edges, per output: a model gets ``trained_on`` from each dataset input and
    ``fine_tuned_from`` from each model input; a dataset gets ``generated_by`` from each model
    input (its dataset inputs then become ``used``), or else ``derived_from`` from each dataset
    input. An input with the output's exact key is skipped. A dataset an output's column
    lineage reads that ``inputs`` leave out is an input of that output only.

    Amounts are in one unit per event: rows when any dataset counts them (an output's
    ``outputStatistics.rowCount`` is its size, an input's ``inputStatistics.rowCount``, else its
    ``dataQualityMetrics.rowCount``, each edge's amount), else bytes (``outputStatistics.size``,
    ``inputStatistics.size``, ``dataQualityMetrics.bytes``). Each says the field it came from.

    With a ``symlinks`` facet a node lists every identifier of its dataset (``identifiers``);
    choosing the canonical one needs the database, and happens in ingestion.

    A facet marked ``_deleted`` is kept in ``facets`` but not interpreted. ``eventTime`` without
    an offset is read as UTC. ``run_id`` is the run id in canonical UUID form.

    Raises ``EventInvalid`` listing every wrong field; nothing else.
    """
    if not isinstance(payload, Mapping):
        raise EventInvalid([FieldError((), f"must be a JSON object, not {describe(payload)}")])
    kind = _event_kind(payload)
    model = _EVENT_MODELS[kind]
    try:
        event = model.model_validate(payload)
    except ValidationError as exc:
        raise EventInvalid(
            [FieldError(tuple(e["loc"]), e["msg"]) for e in exc.errors(include_url=False)]
        ) from exc

    run_id: str | None = None
    event_type: str | None = None
    job_namespace: str | None = None
    job_name: str | None = None
    inputs: list[_Dataset] = []
    outputs: list[_Dataset] = []
    static: _Dataset | None = None
    if isinstance(event, events.RunEvent):
        run_id, event_type = event.run.runId, event.eventType
    if isinstance(event, events.JobEvent):
        job_namespace, job_name = event.job.namespace, event.job.name
        inputs = [
            _dataset(d, raw, d.inputFacets, "inputFacets")
            for d, raw in zip(event.inputs or [], payload.get("inputs") or [], strict=True)
        ]
        outputs = [
            _dataset(d, raw, d.outputFacets, "outputFacets")
            for d, raw in zip(event.outputs or [], payload.get("outputs") or [], strict=True)
        ]
    if isinstance(event, events.DatasetEvent):
        static = _dataset(event.dataset, payload["dataset"], None, None)
    event_time, producer = event.eventTime, event.producer

    fallback = run_id if run_id is not None else UNVERSIONED
    nodes: list[NodeIntent]
    edges: list[EdgeIntent] = []
    output_keys: list[NodeKey] = []
    if static is not None:
        nodes = [
            NodeIntent(
                key=static.key(None, fallback),
                size=None,
                origin=static.origin,
                facets=static.facets,
                identifiers=static.identifiers,
            )
        ]
    else:
        input_keys = [d.key(None, fallback) for d in inputs]
        output_keys = [d.key(run_id, fallback) for d in outputs]
        unit = _unit([*inputs, *outputs])
        hidden = _column_lineage_inputs(inputs, output_keys, outputs)
        hidden_keys = [d.key(None, fallback) for d in hidden]
        nodes = _merge_nodes(
            [(k, d, False) for k, d in zip(input_keys, inputs, strict=True)]
            + [(k, d, False) for k, d in zip(hidden_keys, hidden, strict=True)]
            + [(k, d, True) for k, d in zip(output_keys, outputs, strict=True)],
            unit,
        )
        edges = _edges(output_keys, list(zip(input_keys, inputs, strict=True)), unit)
        has_model_input = any(key.kind == "model" for key in input_keys)
        for key, read in zip(hidden_keys, hidden, strict=True):
            for child, written in zip(output_keys, outputs, strict=True):
                if (read.namespace, read.name) in written.column_inputs and key != child:
                    relation = _relation(child.kind, "dataset", has_model_input)
                    edges.append(
                        EdgeIntent(child=child, parent=key, relation=relation, amount=None)
                    )

    return MappedEvent(
        kind=kind,
        event_type=event_type,
        event_time=event_time,
        run_id=run_id,
        job_namespace=job_namespace,
        job_name=job_name,
        producer=producer,
        nodes=nodes,
        edges=edges,
        outputs=list(dict.fromkeys(output_keys)),
    )


@dataclass(slots=True)
class _Dataset:
    kind: Kind
    namespace: str
    name: str
    version: str | None
    measures: dict[Unit, Measure]
    origin: Origin | None
    facets: dict[str, Any]
    identifiers: tuple[tuple[str, str], ...] = ()
    column_inputs: tuple[tuple[str, str], ...] = ()

    def measure(self, unit: Unit) -> Measure:
        return self.measures.get(unit, (None, None))

    def key(self, default_version: str | None, fallback_version: str | None) -> NodeKey:
        if self.version is not None:
            return NodeKey(self.kind, self.namespace, self.name, self.version, None)
        if default_version is not None:
            return NodeKey(self.kind, self.namespace, self.name, default_version, None)
        return NodeKey(self.kind, self.namespace, self.name, None, fallback_version)


def _column_lineage_inputs(
    inputs: Sequence[_Dataset], output_keys: Sequence[NodeKey], outputs: Sequence[_Dataset]
) -> list[_Dataset]:
    """Datasets an output's column lineage reads that the event's ``inputs`` leave out (AWS
    Glue's Spark integration does): they are upstream of that output all the same."""
    named = {(d.namespace, d.name) for d in inputs}
    named |= {(k.namespace, k.name) for k in output_keys}
    hidden = dict.fromkeys(n for d in outputs for n in d.column_inputs if n not in named)
    return [
        _Dataset(
            kind="dataset",
            namespace=ns,
            name=name,
            version=None,
            measures={},
            origin=None,
            facets={},
        )
        for ns, name in hidden
    ]


def _unit(datasets: Sequence[_Dataset]) -> Unit:
    """The unit of one run's amounts: rows when any dataset counts them, else bytes. Mixing
    them would weigh one parent's rows against another's bytes."""
    return "rows" if any("rows" in d.measures for d in datasets) else "bytes"


def _merge_nodes(entries: list[tuple[NodeKey, _Dataset, bool]], unit: Unit) -> list[NodeIntent]:
    # What an output says about a dataset describes what the run wrote, so it outranks what an
    # input says about the same version; among equals the first mention wins.
    ranked = sorted(range(len(entries)), key=lambda i: (not entries[i][2], i))
    size: dict[NodeKey, Measure] = {}
    origin: dict[NodeKey, Origin | None] = {}
    facets: dict[NodeKey, dict[str, Any]] = {}
    identifiers: dict[NodeKey, dict[tuple[str, str], None]] = {}
    for i in ranked:
        key, dataset, is_output = entries[i]
        identifiers.setdefault(key, {}).update(dict.fromkeys(dataset.identifiers))
        if size.get(key, (None, None))[0] is None and is_output:
            size[key] = dataset.measure(unit)
        if origin.get(key) is None:
            origin[key] = dataset.origin
        facets[key] = {**dataset.facets, **facets.get(key, {})}
    order = dict.fromkeys(key for key, _, _ in entries)
    return [
        NodeIntent(
            key=key,
            size=size.get(key, (None, None))[0],
            size_source=size.get(key, (None, None))[1],
            origin=origin[key],
            facets=facets[key],
            identifiers=tuple(identifiers[key]),
        )
        for key in order
    ]


def _edges(
    output_keys: list[NodeKey], inputs: list[tuple[NodeKey, _Dataset]], unit: Unit
) -> list[EdgeIntent]:
    has_model_input = any(key.kind == "model" for key, _ in inputs)
    edges: dict[tuple[NodeKey, NodeKey, Relation], Measure] = {}
    for child in output_keys:
        for parent, dataset in inputs:
            if parent == child:
                continue
            relation = _relation(child.kind, parent.kind, has_model_input)
            slot = (child, parent, relation)
            if edges.get(slot, (None, None))[0] is None:
                edges[slot] = dataset.measure(unit)
    return [
        EdgeIntent(
            child=child, parent=parent, relation=relation, amount=amount, amount_source=source
        )
        for (child, parent, relation), (amount, source) in edges.items()
    ]


def _relation(child: Kind, parent: Kind, has_model_input: bool) -> Relation:
    if child == "model":
        return "fine_tuned_from" if parent == "model" else "trained_on"
    if parent == "model":
        return "generated_by"
    # Data fed to a generator alongside a model is its prompt, not a source of the output's mass.
    return "used" if has_model_input else "derived_from"


def _event_kind(payload: Mapping[str, Any]) -> EventKind:
    named = _schema_event_kind(payload.get("schemaURL"))
    if payload.get("run") is not None:
        return "run"
    if payload.get("job") is not None:
        return "run" if named == "run" else "job"
    if payload.get("dataset") is not None:
        return "dataset"
    return named or "run"


def _schema_event_kind(schema_url: Any) -> EventKind | None:
    if not isinstance(schema_url, str):
        return None
    fragment = schema_url.rpartition("#")[2]
    return _EVENT_SCHEMA_NAMES.get(fragment.rpartition("/")[2])


def _dataset(
    dataset: events.StaticDataset,
    raw: Mapping[str, Any],
    role: events.Facets | None,
    role_facets: str | None,
) -> _Dataset:
    facets = dataset.facets or events.DatasetFacets()
    declared = facets.datasetType.datasetType if facets.datasetType is not None else None
    measures: dict[Unit, Measure] = {}
    if role is not None and role_facets is not None:
        for facet_name, field_name, unit in _MEASURES[role_facets]:
            facet = getattr(role, facet_name, None)
            value = getattr(facet, field_name, None) if facet is not None else None
            if value is not None and unit not in measures:
                measures[unit] = (value, f"{facet_name}.{field_name}")
    raw_facets = raw.get("facets") or {}
    return _Dataset(
        kind="model" if declared is not None and declared.strip().upper() == "MODEL" else "dataset",
        namespace=dataset.namespace,
        name=dataset.name,
        version=facets.version.datasetVersion if facets.version is not None else None,
        measures=measures,
        origin=facets.headwater_origin.origin if facets.headwater_origin is not None else None,
        facets=copy.deepcopy(dict(raw_facets)),
        identifiers=_identifiers(facets.symlinks, (dataset.namespace, dataset.name)),
        column_inputs=_column_inputs(facets.columnLineage),
    )


def _column_inputs(facet: Mapping[str, Any] | None) -> tuple[tuple[str, str], ...]:
    """The datasets the ``columnLineage`` facet says the dataset's columns come from (each
    field's ``inputFields``, and the dataset-level ``dataset`` list). Entries without a
    namespace and a name are skipped: the facet is descriptive, and a malformed entry must not
    cost the event its lineage."""
    if facet is None:
        return ()
    entries: list[Any] = []
    fields = facet.get("fields")
    if isinstance(fields, Mapping):
        for spec in fields.values():
            if isinstance(spec, Mapping) and isinstance(spec.get("inputFields"), list | tuple):
                entries += spec["inputFields"]
    if isinstance(facet.get("dataset"), list | tuple):
        entries += facet["dataset"]
    found: dict[tuple[str, str], None] = {}
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        named = (entry.get("namespace"), entry.get("name"))
        if all(isinstance(part, str) and part.strip() for part in named):
            found[(str(named[0]), str(named[1]))] = None
    return tuple(found)


def _identifiers(
    facet: events.SymlinksFacet | None, own: tuple[str, str]
) -> tuple[tuple[str, str], ...]:
    """Every identifier of a dataset with a ``symlinks`` facet, the one to record it under first
    (see ``NodeIntent.identifiers``). A symlink without a namespace or a name is skipped: it
    names nothing on its own."""
    if facet is None or not facet.identifiers:
        return ()
    tables: list[tuple[str, str]] = []
    others: list[tuple[str, str]] = []
    for link in facet.identifiers:
        if link.namespace is None or link.name is None or (link.namespace, link.name) == own:
            continue
        is_table = isinstance(link.type, str) and link.type.upper() == "TABLE"
        (tables if is_table else others).append((link.namespace, link.name))
    if not tables and not others:
        return ()
    return tuple(dict.fromkeys([*tables, own, *others]))


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


_MEASURES: Mapping[str, Sequence[tuple[str, str, Unit]]] = {
    "inputFacets": (
        ("inputStatistics", "rowCount", "rows"),
        ("dataQualityMetrics", "rowCount", "rows"),
        ("inputStatistics", "size", "bytes"),
        ("dataQualityMetrics", "bytes", "bytes"),
    ),
    "outputFacets": (
        ("outputStatistics", "rowCount", "rows"),
        ("outputStatistics", "size", "bytes"),
    ),
}
