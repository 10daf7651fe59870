"""OpenLineage events (spec 2-0-2) mapped to lineage intents, without touching the database.

``map_event`` validates one decoded event and says which artifact versions it names and which
derivations it records. Resolving "the newest version" and writing happen elsewhere; keeping this
step pure lets the HTTP layer report every wrong field at once, and lets batches be validated
before any of them is written.

Validation follows the spec where it matters for lineage and the official clients' leniency
everywhere else: extra keys and unknown facets are accepted and kept; only the fields and facets
this mapping reads are checked.
"""

from __future__ import annotations

import copy
import json
import math
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from app.composition.origin import (
    DIGITAL_SOURCE_TYPES,
    MAX_SYNTHETIC_DEPTH,
    Origin,
    OriginInvalid,
    resolve_origin,
)

Kind = Literal["dataset", "model"]
Relation = Literal["trained_on", "fine_tuned_from", "generated_by", "derived_from", "used"]
EventKind = Literal["run", "dataset", "job"]
Loc = tuple[str | int, ...]

HEADWATER_ORIGIN_FACET = "headwater_origin"
HEADWATER_ORIGIN_SCHEMA_PATH: Path = Path(__file__).with_name("headwater_origin.json")
HEADWATER_ORIGIN_SCHEMA_ID = "/api/v1/spec/facets/1-0-0/HeadwaterOriginDatasetFacet.json"

UNVERSIONED = "unversioned"
"""The version recorded for an unversioned dataset named by an event without a run (a JobEvent
or DatasetEvent) when no version of it exists yet: there is no run id to name it after."""

RUN_STATES = ("START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER")

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


@dataclass(frozen=True, slots=True)
class EdgeIntent:
    child: NodeKey
    parent: NodeKey
    relation: Relation
    amount: float | None


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


@cache
def _load_headwater_origin_schema() -> str:
    return HEADWATER_ORIGIN_SCHEMA_PATH.read_text(encoding="utf-8")


def headwater_origin_schema() -> dict[str, Any]:
    """The JSON Schema of the ``headwater_origin`` dataset facet, as the service serves it."""
    schema: dict[str, Any] = json.loads(_load_headwater_origin_schema())
    return schema


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
    input. An input with the output's exact key is skipped. Each edge's amount is the input's
    ``inputStatistics.rowCount``.

    A facet marked ``_deleted`` is kept in ``facets`` but not interpreted. ``eventTime`` without
    an offset is read as UTC. ``run_id`` is the run id in canonical UUID form.

    Raises ``EventInvalid`` listing every wrong field; nothing else.
    """
    if not isinstance(payload, Mapping):
        raise EventInvalid([FieldError((), f"must be a JSON object, not {_describe(payload)}")])
    errors: list[FieldError] = []
    kind = _event_kind(payload)

    event_time = _event_time(errors, payload)
    producer = _uri(errors, payload, "producer", ("producer",))
    _uri(errors, payload, "schemaURL", ("schemaURL",))

    run_id: str | None = None
    event_type: str | None = None
    job_namespace: str | None = None
    job_name: str | None = None
    inputs: list[_Dataset] = []
    outputs: list[_Dataset] = []
    static: _Dataset | None = None

    if kind == "run":
        run = _object(errors, payload, "run", ("run",), required=True)
        if run is not None:
            run_id = _run_id(errors, run, ("run", "runId"))
        event_type = _event_type(errors, payload)
    if kind in ("run", "job"):
        job = _object(errors, payload, "job", ("job",), required=True)
        if job is not None:
            job_namespace = _identifier(errors, job, "namespace", ("job", "namespace"))
            job_name = _identifier(errors, job, "name", ("job", "name"))
        inputs = _datasets(errors, payload, "inputs", "inputFacets")
        outputs = _datasets(errors, payload, "outputs", "outputFacets")
    else:
        dataset = _object(errors, payload, "dataset", ("dataset",), required=True)
        if dataset is not None:
            static = _dataset(errors, dataset, ("dataset",), None)

    if errors or event_time is None or producer is None:
        raise EventInvalid(errors)

    fallback = run_id if run_id is not None else UNVERSIONED
    nodes: list[NodeIntent]
    edges: list[EdgeIntent] = []
    if static is not None:
        nodes = [
            NodeIntent(
                key=static.key(None, fallback),
                size=None,
                origin=static.origin,
                facets=static.facets,
            )
        ]
    else:
        input_keys = [d.key(None, fallback) for d in inputs]
        output_keys = [d.key(run_id, fallback) for d in outputs]
        nodes = _merge_nodes(
            [(k, d, False) for k, d in zip(input_keys, inputs, strict=True)]
            + [(k, d, True) for k, d in zip(output_keys, outputs, strict=True)]
        )
        edges = _edges(output_keys, list(zip(input_keys, inputs, strict=True)))

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
    )


@dataclass(slots=True)
class _Dataset:
    kind: Kind
    namespace: str
    name: str
    version: str | None
    statistic: float | None
    origin: Origin | None
    facets: dict[str, Any]

    def key(self, default_version: str | None, fallback_version: str | None) -> NodeKey:
        if self.version is not None:
            return NodeKey(self.kind, self.namespace, self.name, self.version, None)
        if default_version is not None:
            return NodeKey(self.kind, self.namespace, self.name, default_version, None)
        return NodeKey(self.kind, self.namespace, self.name, None, fallback_version)


def _merge_nodes(entries: list[tuple[NodeKey, _Dataset, bool]]) -> list[NodeIntent]:
    # What an output says about a dataset describes what the run wrote, so it outranks what an
    # input says about the same version; among equals the first mention wins.
    ranked = sorted(range(len(entries)), key=lambda i: (not entries[i][2], i))
    size: dict[NodeKey, float | None] = {}
    origin: dict[NodeKey, Origin | None] = {}
    facets: dict[NodeKey, dict[str, Any]] = {}
    for i in ranked:
        key, dataset, is_output = entries[i]
        if size.get(key) is None and is_output:
            size[key] = dataset.statistic
        if origin.get(key) is None:
            origin[key] = dataset.origin
        facets[key] = {**dataset.facets, **facets.get(key, {})}
    order = dict.fromkeys(key for key, _, _ in entries)
    return [
        NodeIntent(key=key, size=size.get(key), origin=origin[key], facets=facets[key])
        for key in order
    ]


def _edges(output_keys: list[NodeKey], inputs: list[tuple[NodeKey, _Dataset]]) -> list[EdgeIntent]:
    has_model_input = any(key.kind == "model" for key, _ in inputs)
    edges: dict[tuple[NodeKey, NodeKey, Relation], float | None] = {}
    for child in output_keys:
        for parent, dataset in inputs:
            if parent == child:
                continue
            relation = _relation(child.kind, parent.kind, has_model_input)
            slot = (child, parent, relation)
            if edges.get(slot) is None:
                edges[slot] = dataset.statistic
    return [
        EdgeIntent(child=child, parent=parent, relation=relation, amount=amount)
        for (child, parent, relation), amount in edges.items()
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


def _describe(value: Any) -> str:
    """How an unwanted JSON value is named in a message: literals as written, others by type."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        shown = repr(value)
        return shown if len(shown) <= 24 else "a number too large"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "an array"
    return type(value).__name__


def _is_number(value: Any) -> bool:
    """A finite JSON number; integers too large for a float count as infinite."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _not_a_number(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "must be a finite number"
    return f"must be a number, not {_describe(value)}"


def _object(
    errors: list[FieldError],
    container: Mapping[str, Any],
    key: str,
    loc: Loc,
    *,
    required: bool = False,
) -> Mapping[str, Any] | None:
    value = container.get(key)
    if value is None:
        if required:
            errors.append(FieldError(loc, "field required"))
        return None
    if not isinstance(value, Mapping):
        errors.append(FieldError(loc, f"must be an object, not {_describe(value)}"))
        return None
    return value


def _string(
    errors: list[FieldError], container: Mapping[str, Any], key: str, loc: Loc
) -> str | None:
    if key not in container:
        errors.append(FieldError(loc, "field required"))
        return None
    value = container[key]
    if not isinstance(value, str):
        errors.append(FieldError(loc, f"must be a string, not {_describe(value)}"))
        return None
    return value


def _identifier(
    errors: list[FieldError], container: Mapping[str, Any], key: str, loc: Loc
) -> str | None:
    value = _string(errors, container, key, loc)
    if value is not None and not value.strip():
        # An empty namespace or name cannot tell one artifact or job from another.
        errors.append(FieldError(loc, "must not be empty"))
        return None
    return value


def _uri(errors: list[FieldError], container: Mapping[str, Any], key: str, loc: Loc) -> str | None:
    value = _identifier(errors, container, key, loc)
    if value is None:
        return None
    try:
        urlsplit(value)
    except ValueError as exc:
        errors.append(FieldError(loc, f"must be a URI: {exc}"))
        return None
    return value


def _event_time(errors: list[FieldError], payload: Mapping[str, Any]) -> datetime | None:
    loc: Loc = ("eventTime",)
    value = _string(errors, payload, "eventTime", loc)
    if value is None:
        return None
    text = value.strip().upper()
    parsed: datetime | None = None
    if "T" in text or (len(text) > 10 and text[10] == " "):
        try:
            parsed = datetime.fromisoformat(text)
        except (ValueError, OverflowError):
            parsed = None
    if parsed is None:
        errors.append(FieldError(loc, "must be an ISO 8601 date-time, e.g. 2024-05-01T12:00:00Z"))
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _run_id(errors: list[FieldError], run: Mapping[str, Any], loc: Loc) -> str | None:
    value = _string(errors, run, "runId", loc)
    if value is None:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        errors.append(FieldError(loc, "must be a UUID"))
        return None


def _event_type(errors: list[FieldError], payload: Mapping[str, Any]) -> str | None:
    value = payload.get("eventType")
    if value is None:
        return None
    if isinstance(value, str) and value.upper() in RUN_STATES:
        return value.upper()
    errors.append(FieldError(("eventType",), f"must be one of {', '.join(RUN_STATES)}"))
    return None


def _datasets(
    errors: list[FieldError], payload: Mapping[str, Any], key: str, role_facets: str
) -> list[_Dataset]:
    value = payload.get(key)
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        errors.append(FieldError((key,), f"must be an array, not {_describe(value)}"))
        return []
    datasets: list[_Dataset] = []
    for index, item in enumerate(value):
        loc: Loc = (key, index)
        if not isinstance(item, Mapping):
            errors.append(FieldError(loc, f"must be an object, not {_describe(item)}"))
            continue
        dataset = _dataset(errors, item, loc, role_facets)
        if dataset is not None:
            datasets.append(dataset)
    return datasets


def _dataset(
    errors: list[FieldError], item: Mapping[str, Any], loc: Loc, role_facets: str | None
) -> _Dataset | None:
    before = len(errors)
    namespace = _identifier(errors, item, "namespace", (*loc, "namespace"))
    name = _identifier(errors, item, "name", (*loc, "name"))
    facets = _object(errors, item, "facets", (*loc, "facets")) or {}
    facets_loc: Loc = (*loc, "facets")

    kind: Kind = "dataset"
    dataset_type = _facet(errors, facets, "datasetType", facets_loc)
    if dataset_type is not None:
        type_loc: Loc = (*facets_loc, "datasetType", "datasetType")
        declared = _string(errors, dataset_type, "datasetType", type_loc)
        if declared is not None and declared.strip().upper() == "MODEL":
            kind = "model"

    version: str | None = None
    version_facet = _facet(errors, facets, "version", facets_loc)
    if version_facet is not None:
        version_loc: Loc = (*facets_loc, "version", "datasetVersion")
        version = _identifier(errors, version_facet, "datasetVersion", version_loc)

    origin: Origin | None = None
    origin_facet = _facet(errors, facets, HEADWATER_ORIGIN_FACET, facets_loc)
    if origin_facet is not None:
        origin = _origin(errors, origin_facet, (*facets_loc, HEADWATER_ORIGIN_FACET))

    statistic: float | None = None
    if role_facets is not None:
        role_loc: Loc = (*loc, role_facets)
        role = _object(errors, item, role_facets, role_loc) or {}
        name_of_statistics = (
            "inputStatistics" if role_facets == "inputFacets" else "outputStatistics"
        )
        statistics = _facet(errors, role, name_of_statistics, role_loc)
        if statistics is not None:
            statistic = _row_count(errors, statistics, (*role_loc, name_of_statistics, "rowCount"))

    if len(errors) > before or namespace is None or name is None:
        return None
    return _Dataset(
        kind=kind,
        namespace=namespace,
        name=name,
        version=version,
        statistic=statistic,
        origin=origin,
        facets=copy.deepcopy(dict(facets)),
    )


def _facet(
    errors: list[FieldError], facets: Mapping[str, Any], key: str, loc: Loc
) -> Mapping[str, Any] | None:
    facet = _object(errors, facets, key, (*loc, key))
    if facet is None or facet.get("_deleted") is True:
        return None
    return facet


def _row_count(errors: list[FieldError], facet: Mapping[str, Any], loc: Loc) -> float | None:
    value = facet.get("rowCount")
    if value is None:
        return None
    if not _is_number(value):
        errors.append(FieldError(loc, _not_a_number(value)))
        return None
    if value < 0:
        errors.append(FieldError(loc, "must not be negative"))
        return None
    return float(value)


_ORIGIN_FRACTIONS = ("human", "synthetic", "unknown")


def _origin(errors: list[FieldError], facet: Mapping[str, Any], loc: Loc) -> Origin | None:
    """The declared origin. What the facet's JSON Schema says of one field is reported at that
    field; what depends on several fields at once is ``resolve_origin``'s to judge, and is
    reported at the facet."""
    before = len(errors)
    fractions: dict[str, float] = {}
    for key in _ORIGIN_FRACTIONS:
        value = facet.get(key)
        if value is None:
            continue
        if not _is_number(value):
            errors.append(FieldError((*loc, key), _not_a_number(value)))
        elif not 0 <= value <= 1:
            errors.append(FieldError((*loc, key), f"must be between 0 and 1, not {value!r}"))
        else:
            fractions[key] = float(value)

    depth: int | None = None
    raw_depth = facet.get("synthetic_depth")
    if raw_depth is not None:
        depth_loc: Loc = (*loc, "synthetic_depth")
        # JSON Schema's "integer" includes numbers like 2.0; so does this facet's schema.
        whole = isinstance(raw_depth, int) or (_is_number(raw_depth) and raw_depth % 1 == 0)
        if isinstance(raw_depth, bool) or not whole:
            errors.append(FieldError(depth_loc, f"must be an integer, not {_describe(raw_depth)}"))
        elif not 1 <= raw_depth <= MAX_SYNTHETIC_DEPTH:
            errors.append(
                FieldError(
                    depth_loc,
                    f"must be between 1 and {MAX_SYNTHETIC_DEPTH}, not {_describe(raw_depth)}",
                )
            )
        else:
            depth = int(raw_depth)

    source_type: str | None = None
    raw_source_type = facet.get("digitalSourceType")
    if raw_source_type is not None:
        source_loc: Loc = (*loc, "digitalSourceType")
        if not isinstance(raw_source_type, str):
            errors.append(
                FieldError(source_loc, f"must be a string, not {_describe(raw_source_type)}")
            )
        elif raw_source_type not in DIGITAL_SOURCE_TYPES:
            try:
                resolve_origin(digital_source_type=raw_source_type)
            except OriginInvalid as exc:
                # resolve_origin's message suggests the term that was probably meant.
                errors.append(FieldError(source_loc, str(exc)))
            else:
                source_type = raw_source_type
        else:
            source_type = raw_source_type

    if len(errors) > before:
        return None
    try:
        return resolve_origin(
            human=fractions.get("human"),
            synthetic=fractions.get("synthetic"),
            unknown=fractions.get("unknown"),
            synthetic_depth=depth,
            digital_source_type=source_type,
        )
    except OriginInvalid as exc:
        errors.append(FieldError(loc, str(exc)))
        return None
