"""OpenLineage ingestion: map an event (``openlineage.map_event``) onto the lineage graph.

Events of one run merge in any order; a redelivered event changes nothing. A facet sent again
replaces the earlier one, so a changed ``headwater_origin`` or row count is a correction that
propagates like any other.

Merging: the edges of a run are those of one event naming every input and every output its
events have named so far, so a START that names the inputs and a COMPLETE that names the outputs
link them whichever arrives first. An unversioned input means the newest version when the run
first named it, however late its other events arrive.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.orm import Session

from app.artifacts import repository as artifact_repository
from app.artifacts import service as artifact_service
from app.artifacts.models import Artifact
from app.auth.core import Principal, require_namespace
from app.composition.service import LineageChange
from app.db import lock_scope
from app.errors import InvalidInput
from app.lineage import openlineage, symlinks
from app.lineage import repository as lineage_repository
from app.lineage import service as lineage_service
from app.lineage.models import LineageEvent
from app.retractions import service as retraction_service


@dataclass
class Ingested:
    status: Literal["accepted", "duplicate"]
    event_id: uuid.UUID | None
    run_id: str | None
    datasets: list[uuid.UUID] = field(default_factory=list)
    models: list[uuid.UUID] = field(default_factory=list)
    edges: int = 0
    change: LineageChange | None = None
    nodes: list[Artifact] = field(default_factory=list)


def fingerprint(payload: Mapping[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def invalid(error: openlineage.EventInvalid) -> InvalidInput:
    errors = [
        {"loc": ".".join(str(p) for p in ("body", *e.loc)), "msg": e.msg, "type": "value_error"}
        for e in error.errors
    ]
    fields = ", ".join(e["loc"] for e in errors)
    return InvalidInput(f"The OpenLineage event is not valid: check {fields}.", errors=errors)


def written_namespaces(payload: Mapping[str, Any], event: openlineage.MappedEvent) -> list[str]:
    """The namespaces an event writes to: each output's, and each dataset's whose origin it
    declares (a ``headwater_origin`` facet on an input corrects that input)."""
    named: list[str] = [str(d["namespace"]) for d in payload.get("outputs") or []]
    named += [node.key.namespace for node in event.nodes if node.origin is not None]
    if event.kind == "dataset":
        named += [node.key.namespace for node in event.nodes]
    return list(dict.fromkeys(named))


# Deeper than any facet the OpenLineage integrations write (column lineage, nested schemas),
# and shallow enough that copying and encoding an event never exhausts Python's stack.
MAX_NESTING = 100


def nesting(value: Any) -> int:
    """How deeply JSON arrays and objects nest in ``value``, counted without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth + 1)
        if deepest > MAX_NESTING:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


def check_storable(payload: Mapping[str, Any]) -> None:
    """Refuse events nested too deeply to handle, and text PostgreSQL cannot store: a NUL
    character, or a lone UTF-16 surrogate (``\\ud800``), which JSON can escape but UTF-8
    cannot encode."""
    if nesting(payload) > MAX_NESTING:
        raise InvalidInput(
            f"The event nests arrays and objects more than {MAX_NESTING} levels deep.",
            errors=[{"loc": "body", "msg": "nested too deeply", "type": "value_error"}],
        )
    if "\\u0000" in json.dumps(payload):
        raise InvalidInput(
            "The event contains a NUL character, which PostgreSQL cannot store; remove it.",
            errors=[{"loc": "body", "msg": "contains \\u0000", "type": "value_error"}],
        )
    try:
        json.dumps(payload, ensure_ascii=False).encode()
    except UnicodeEncodeError as exc:
        raise InvalidInput(
            "The event contains a lone UTF-16 surrogate (such as \\ud800), which is not"
            " Unicode text; send valid UTF-8.",
            errors=[{"loc": "body", "msg": "contains a lone surrogate", "type": "value_error"}],
        ) from exc


def ingest(session: Session, payload: Mapping[str, Any], *, actor: Principal) -> Ingested:
    check_storable(payload)
    try:
        event = openlineage.map_event(payload)
    except openlineage.EventInvalid as exc:
        raise invalid(exc) from exc
    for namespace in written_namespaces(payload, event):
        require_namespace(actor, namespace)
    lineage_service.within_edge_limit(len(event.edges), "edges")
    event_fingerprint = fingerprint(payload)
    # a redelivery waits for the delivery it repeats; the events of one run merge one at a time
    lock_scope(session, "openlineage-event", event_fingerprint)
    if event.run_id is not None:
        lock_scope(session, "openlineage-run", event.run_id)
    if lineage_repository.event_recorded(session, event_fingerprint):
        return Ingested("duplicate", None, event.run_id)

    record = LineageEvent(
        fingerprint=event_fingerprint,
        event_kind=event.kind,
        event_type=event.event_type,
        run_id=event.run_id,
        job_namespace=event.job_namespace,
        job_name=event.job_name,
        event_time=event.event_time,
        producer=event.producer,
        payload=dict(payload),
    )
    session.add(record)
    session.flush()

    cause = f"OpenLineage {event.event_type or event.kind} event" + (
        f" of run {event.run_id}" if event.run_id else ""
    )
    run = RunSoFar.load(session, event, payload, record) if event.run_id is not None else None
    event, run = canonical(session, event, run)
    # a symlink may record what the event writes under another namespace: the token must
    # reach that one too
    for namespace in dict.fromkeys(
        [k.namespace for k in event.outputs]
        + [n.key.namespace for n in event.nodes if n.origin is not None]
    ):
        require_namespace(actor, namespace)
    first_named = run.first_named if run is not None else {}
    touched: list[uuid.UUID] = []
    # whether the graph's shape changed, or only origins and sizes (see training refresh)
    structural = False
    nodes: dict[openlineage.NodeKey, Artifact] = {}
    for intent in event.nodes:
        artifact, change = upsert(session, intent, actor, as_of=first_named.get(intent.key))
        nodes[intent.key] = artifact
        if change is not None:
            touched.append(artifact.id)
            structural |= change == "created"
    ended = event.event_type if event.event_type in openlineage.FAILED_STATES else None
    if run is not None:
        ended = ended or run.failed
    if ended is not None:
        retracted = withhold_failed_outputs(session, event, run, nodes, ended, actor)
        touched += retracted
        structural |= bool(retracted)
    edges = 0
    for edge in run.edges if run is not None else event.edges:
        child = nodes.get(edge.child) or find(session, edge.child, first_named.get(edge.child))
        parent = nodes.get(edge.parent) or find(session, edge.parent, first_named.get(edge.parent))
        if child is None or parent is None or child.id == parent.id:
            continue
        if retraction_service.withheld(
            session, child, parent, edge.relation, edge.amount, edge.amount_source
        ):
            continue
        if edge.relation == "used" and drop_superseded(session, child, parent):
            touched.append(child.id)
            structural = True
        recorded, edge_change = lineage_service.connect(
            session, child, parent, edge.relation, edge.amount, amount_may_change=True
        )
        if edge.amount is not None and recorded.amount_source != edge.amount_source:
            recorded.amount_source = edge.amount_source
        edges += 1
        if edge_change is not None:
            structural |= edge_change.structural
            touched.append(child.id)
    result = Ingested("accepted", record.id, event.run_id, edges=edges)
    if touched:
        result.change = LineageChange.of(touched, cause, structural=structural)
    result.nodes = list(nodes.values())
    for artifact in result.nodes:
        (result.datasets if artifact.kind == "dataset" else result.models).append(artifact.id)
    return result


def canonical(
    session: Session, event: openlineage.MappedEvent, run: RunSoFar | None
) -> tuple[openlineage.MappedEvent, RunSoFar | None]:
    """The event and its run with every symlinked dataset named by its canonical identifier."""
    keys = [n.key for n in event.nodes]
    if run is not None:
        keys += [k for e in run.edges for k in (e.child, e.parent)]
        keys += [*run.outputs, *run.first_named]
    names = symlinks.canonical_keys(session, event.nodes, keys)
    if not names:
        return event, run
    if run is not None:
        run = RunSoFar(
            openlineage.rename_edges(run.edges, names),
            {names.get(k, k): t for k, t in run.first_named.items()},
            list(dict.fromkeys(names.get(k, k) for k in run.outputs)),
            run.failed,
        )
    return openlineage.rename(event, names), run


def withhold_failed_outputs(
    session: Session,
    event: openlineage.MappedEvent,
    run: RunSoFar | None,
    nodes: Mapping[openlineage.NodeKey, Artifact],
    ended: str,
    actor: Principal,
) -> list[uuid.UUID]:
    """Retract every output of a run that ended in FAIL or ABORT, whichever of its events
    arrives first; the nodes to recompute."""
    roots: list[uuid.UUID] = []
    for key in run.outputs if run is not None else event.outputs:
        artifact = nodes.get(key) or find(session, key, None)
        if artifact is None:
            continue
        _, recompute, _ = retraction_service.retract_version(
            session,
            artifact,
            f"run {event.run_id} ended {ended}",
            retracted_by=actor.name,
        )
        roots += recompute
    return roots


@dataclass
class RunSoFar:
    """What the events of one run received so far say together.

    ``edges`` are the edges of one event naming every input and output of the run's events,
    ``outputs`` every output they named; ``first_named`` holds, for each unversioned input,
    when the run first named it; ``failed`` the FAIL or ABORT an earlier event reported.
    """

    edges: list[openlineage.EdgeIntent]
    first_named: dict[openlineage.NodeKey, datetime]
    outputs: list[openlineage.NodeKey] = field(default_factory=list)
    failed: str | None = None

    @classmethod
    def load(
        cls,
        session: Session,
        event: openlineage.MappedEvent,
        payload: Mapping[str, Any],
        record: LineageEvent,
    ) -> RunSoFar:
        assert event.run_id is not None  # only the events of a run have a run so far
        rows = lineage_repository.run_events(session, event.run_id, excluding=record.id)
        earlier: list[tuple[LineageEvent, openlineage.MappedEvent]] = []
        for row in rows:
            try:
                earlier.append((row, openlineage.map_event(row.payload)))
            except openlineage.EventInvalid:
                # accepted under earlier rules; what it recorded then stays recorded
                continue
        if not earlier:
            return cls(list(event.edges), {}, list(event.outputs))
        failed = next(
            (m.event_type for _, m in earlier if m.event_type in openlineage.FAILED_STATES), None
        )
        first_named: dict[openlineage.NodeKey, datetime] = {}
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
        except openlineage.EventInvalid:
            edges, outputs = list(event.edges), list(event.outputs)
        return cls(edges, first_named, outputs, failed)


def resolve(
    session: Session, key: openlineage.NodeKey, as_of: datetime | None
) -> tuple[Artifact | None, str]:
    """The recorded version ``key`` names, if any, and the version to record when none is."""
    if key.version is not None:
        artifact = artifact_repository.by_natural_key(
            session, key.kind, key.namespace, key.name, key.version
        )
        return artifact, key.version
    # the newest version other than one this very run wrote: a run that reads and rewrites the
    # same dataset reads the version before its own
    artifact = artifact_repository.newest(
        session, key.kind, key.namespace, key.name, excluding=key.fallback_version, as_of=as_of
    )
    version = key.fallback_version or openlineage.UNVERSIONED
    if artifact is None:
        artifact = artifact_repository.by_natural_key(
            session, key.kind, key.namespace, key.name, version
        )
    return artifact, version


def find(session: Session, key: openlineage.NodeKey, as_of: datetime | None) -> Artifact | None:
    return resolve(session, key, as_of)[0]


def drop_superseded(session: Session, child: Artifact, parent: Artifact) -> bool:
    """Remove child ← parent as ``derived_from``, now that the run is known to be a generation.

    An earlier event of the run, not yet naming the model, made its dataset input a source of
    the output; with the model named, that input is a prompt, and only ``used``.
    """
    edge = lineage_repository.find(session, child.id, parent.id, "derived_from")
    if edge is None:
        return False
    lineage_repository.remove(session, edge)
    return True


def upsert(
    session: Session,
    intent: openlineage.NodeIntent,
    actor: Principal,
    *,
    as_of: datetime | None = None,
) -> tuple[Artifact, Literal["created", "updated"] | None]:
    """The version an event names, created or updated (None: its own inputs are unchanged).

    ``as_of``: for an unversioned input, the newest version at that moment (when its run first
    named it) rather than now."""
    key = intent.key
    artifact, version = resolve(session, key, as_of)
    origin_columns = (
        artifact_service.origin_columns(intent.origin) if intent.origin is not None else {}
    )
    if artifact is not None and artifact_service.redeclares_original_origin(
        artifact, origin_columns
    ):
        origin_columns = {}
    if artifact is None:
        artifact_service.lock_natural_key(session, key.kind, (key.namespace, key.name, version))
        artifact = artifact_repository.by_natural_key(
            session, key.kind, key.namespace, key.name, version
        )
    if artifact is None:
        values: dict[str, Any] = {"facets": intent.facets, **origin_columns}
        if origin_columns:
            values.update(artifact_service.declared_by(actor))
        if key.kind == "dataset":
            values["size"] = intent.size
            values.update(openlineage.dataset_location(key.namespace, key.name, version))
        artifact = artifact_repository.add(
            session,
            artifact_service.new_artifact(key.kind, key.namespace, key.name, version, **values),
        )
        return artifact, "created"

    changed = False
    if key.kind == "dataset" and intent.size is not None and artifact.size != intent.size:
        artifact.size = intent.size
        changed = True
    if any(getattr(artifact, column) != value for column, value in origin_columns.items()):
        for column, value in {**origin_columns, **artifact_service.declared_by(actor)}.items():
            setattr(artifact, column, value)
        changed = True
    if intent.facets:
        merged = {**(artifact.facets or {}), **intent.facets}
        if merged != artifact.facets:
            artifact.facets = merged
    session.flush()
    return artifact, "updated" if changed else None
