"""OpenLineage events (spec 2-0-2) mapped to lineage intents, without touching the database.

``map_event`` validates one decoded event and says which artifact versions it names and which
derivations it records. Resolving "the newest version" and writing happen elsewhere; keeping this
step pure lets the HTTP layer report every wrong field at once, and lets batches be validated
before any of them is written.

Validation is the pydantic models of ``app.lineage.events``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from app.composition.core import Relation
from app.composition.origin import Origin
from app.lineage import events
from app.lineage.events import describe
from app.lineage.facets import Dataset, column_lineage_inputs, read_dataset, unit_of
from app.lineage.intents import (
    UNVERSIONED,
    EdgeIntent,
    EventInvalid,
    EventKind,
    FieldError,
    Kind,
    MappedEvent,
    Measure,
    NodeIntent,
    NodeKey,
    Unit,
)

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
    inputs: list[Dataset] = []
    outputs: list[Dataset] = []
    static: Dataset | None = None
    if isinstance(event, events.RunEvent):
        run_id, event_type = event.run.runId, event.eventType
    if isinstance(event, events.JobEvent):
        job_namespace, job_name = event.job.namespace, event.job.name
        inputs = [
            read_dataset(d, raw, d.inputFacets, "inputFacets")
            for d, raw in zip(event.inputs or [], payload.get("inputs") or [], strict=True)
        ]
        outputs = [
            read_dataset(d, raw, d.outputFacets, "outputFacets")
            for d, raw in zip(event.outputs or [], payload.get("outputs") or [], strict=True)
        ]
    if isinstance(event, events.DatasetEvent):
        static = read_dataset(event.dataset, payload["dataset"], None, None)
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
        unit = unit_of([*inputs, *outputs])
        hidden = column_lineage_inputs(inputs, output_keys, outputs)
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


def _merge_nodes(entries: list[tuple[NodeKey, Dataset, bool]], unit: Unit) -> list[NodeIntent]:
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
    output_keys: list[NodeKey], inputs: list[tuple[NodeKey, Dataset]], unit: Unit
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
