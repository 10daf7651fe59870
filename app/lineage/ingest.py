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
from app.composition import repository as composition_repository
from app.composition.service import LineageChange
from app.db import lock_scope, lock_scopes
from app.errors import InvalidInput
from app.lineage import openlineage, symlinks
from app.lineage import repository as lineage_repository
from app.lineage import service as lineage_service
from app.lineage.models import Edge
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
    # the events of one run merge one at a time; a redelivery waits on the stored event's
    # fingerprint for the delivery it repeats (``record_event``)
    if event.run_id is not None:
        lock_scope(session, "openlineage-run", event.run_id)
    event_id, earlier = lineage_repository.record_event(
        session,
        {
            "fingerprint": fingerprint(payload),
            "event_kind": event.kind,
            "event_type": event.event_type,
            "run_id": event.run_id,
            "job_namespace": event.job_namespace,
            "job_name": event.job_name,
            "event_time": event.event_time,
            "producer": event.producer,
            "payload": dict(payload),
        },
    )
    if event_id is None:
        return Ingested("duplicate", None, event.run_id)

    cause = f"OpenLineage {event.event_type or event.kind} event" + (
        f" of run {event.run_id}" if event.run_id else ""
    )
    run = RunSoFar.of(event, payload, earlier) if event.run_id is not None else None
    event, run = canonical(session, event, run)
    # a symlink may record what the event writes under another namespace: the token must
    # reach that one too
    for namespace in dict.fromkeys(
        [k.namespace for k in event.outputs]
        + [n.key.namespace for n in event.nodes if n.origin is not None]
    ):
        require_namespace(actor, namespace)
    first_named = run.first_named if run is not None else {}
    nodes, touched, structural = upsert_all(session, event.nodes, actor, first_named)
    ended = event.event_type if event.event_type in openlineage.FAILED_STATES else None
    if run is not None:
        ended = ended or run.failed
    if ended is not None:
        retracted = withhold_failed_outputs(session, event, run, nodes, ended, actor)
        touched += retracted
        structural |= bool(retracted)
    linked = connect_all(session, run.edges if run is not None else event.edges, nodes, first_named)
    touched += linked.touched
    structural |= linked.structural
    result = Ingested("accepted", event_id, event.run_id, edges=linked.count)
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
    def of(
        cls,
        event: openlineage.MappedEvent,
        payload: Mapping[str, Any],
        stored: Sequence[lineage_repository.StoredEvent],
    ) -> RunSoFar:
        """The run of ``event`` with the events of it ``stored`` before."""
        earlier: list[tuple[lineage_repository.StoredEvent, openlineage.MappedEvent]] = []
        for row in stored:
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


def resolve_all(
    session: Session,
    keys: Sequence[openlineage.NodeKey],
    first_named: Mapping[openlineage.NodeKey, datetime],
) -> dict[openlineage.NodeKey, tuple[Artifact | None, str]]:
    """For each key, the recorded version it names, if any, and the version to record when none
    is: one query for natural keys and one for newest versions.

    An unversioned key names the newest version other than one this very run wrote (a run that
    reads and rewrites the same dataset reads the version before its own), as it was when the
    run first named it (``first_named``); without one, the version named by its fallback."""
    keys = list(dict.fromkeys(keys))
    natural: dict[openlineage.NodeKey, artifact_repository.NaturalKey] = {}
    newest: dict[openlineage.NodeKey, artifact_repository.NewestWanted] = {}
    for key in keys:
        version = key.version or key.fallback_version or openlineage.UNVERSIONED
        natural[key] = (key.kind, key.namespace, key.name, version)
        if key.version is None:
            wanted = (key.kind, key.namespace, key.name, key.fallback_version, first_named.get(key))
            newest[key] = wanted
    by_key = artifact_repository.by_natural_keys(session, list(natural.values()))
    newest_found = artifact_repository.newest_each(session, list(newest.values()))
    resolved: dict[openlineage.NodeKey, tuple[Artifact | None, str]] = {}
    for key in keys:
        found = newest_found.get(newest[key]) if key in newest else None
        resolved[key] = (found or by_key.get(natural[key]), natural[key][3])
    return resolved


def upsert_all(
    session: Session,
    intents: Sequence[openlineage.NodeIntent],
    actor: Principal,
    first_named: Mapping[openlineage.NodeKey, datetime],
) -> tuple[dict[openlineage.NodeKey, Artifact], list[uuid.UUID], bool]:
    """The versions an event names, created or updated, in the event's order; the ids of those
    created or changed (their inputs changed), and whether any was created.

    Names are resolved in one round, the new versions' natural keys locked in one statement
    and the new versions inserted together. For an unversioned input with no ``first_named``
    moment, a version this event created earlier in its order is the newest."""
    resolved = resolve_all(session, [i.key for i in intents], first_named)
    missing = {
        (key.kind, key.namespace, key.name, version)
        for key, (artifact, version) in resolved.items()
        if artifact is None
    }
    by_key: dict[artifact_repository.NaturalKey, Artifact] = {}
    if missing:
        lock_scopes(session, [("artifact", *natural) for natural in sorted(missing)])
        by_key = artifact_repository.by_natural_keys(session, sorted(missing))
    nodes: dict[openlineage.NodeKey, Artifact] = {}
    created: list[Artifact] = []
    newest_created: dict[tuple[str, str, str], Artifact] = {}
    touched: list[uuid.UUID] = []
    for intent in intents:
        key = intent.key
        artifact, version = resolved[key]
        natural = (key.kind, key.namespace, key.name, version)
        made_here = newest_created.get((key.kind, key.namespace, key.name))
        if (
            key.version is None
            and key not in first_named
            and made_here is not None
            and made_here.version != key.fallback_version
        ):
            artifact = made_here
        artifact = artifact or by_key.get(natural)
        origin_columns = (
            artifact_service.origin_columns(intent.origin) if intent.origin is not None else {}
        )
        if artifact is not None and artifact_service.redeclares_original_origin(
            artifact, origin_columns
        ):
            origin_columns = {}
        if artifact is None:
            artifact = new_version(intent, version, origin_columns, actor)
            created.append(artifact)
            by_key[natural] = newest_created[(key.kind, key.namespace, key.name)] = artifact
            touched.append(artifact.id)
        elif update_version(artifact, intent, origin_columns, actor):
            touched.append(artifact.id)
        nodes[key] = artifact
    artifact_repository.add_all(session, created)
    return nodes, touched, bool(created)


def new_version(
    intent: openlineage.NodeIntent,
    version: str,
    origin_columns: Mapping[str, Any],
    actor: Principal,
) -> Artifact:
    key = intent.key
    values: dict[str, Any] = {"facets": intent.facets, **origin_columns}
    if origin_columns:
        values.update(artifact_service.declared_by(actor))
    if key.kind == "dataset":
        values["size"] = intent.size
        values.update(openlineage.dataset_location(key.namespace, key.name, version))
    artifact = artifact_service.new_artifact(key.kind, key.namespace, key.name, version, **values)
    artifact.id = uuid.uuid4()
    return artifact


def update_version(
    artifact: Artifact,
    intent: openlineage.NodeIntent,
    origin_columns: Mapping[str, Any],
    actor: Principal,
) -> bool:
    """Apply what an event says about a recorded version; whether its inputs changed (a size or
    an origin: facets are kept, but change no composition)."""
    changed = False
    if intent.key.kind == "dataset" and intent.size is not None and artifact.size != intent.size:
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
    return changed


@dataclass
class Linked:
    """What recording an event's edges did: how many it reported (not withheld), the children
    whose inputs changed, and whether an edge was added or removed."""

    count: int = 0
    touched: list[uuid.UUID] = field(default_factory=list)
    structural: bool = False


def connect_all(
    session: Session,
    intents: Sequence[openlineage.EdgeIntent],
    nodes: Mapping[openlineage.NodeKey, Artifact],
    first_named: Mapping[openlineage.NodeKey, datetime],
) -> Linked:
    """Record an event's edges (or its run's), set-based: the versions they name that the event
    does not, the retracted ones, the recorded edges and the locks each in one round.

    A later report may replace an edge's amount (a facet sent again replaces the earlier one).
    With the model named, a run is known to be a generation: an earlier ``derived_from`` from a
    dataset input, made before the model was named, gives way to ``used`` (a prompt).

    Locks, as ``lineage_service.connect`` takes them: an edge into a version this transaction
    created closes no cycle and needs only its parent locked for reading; an edge into any other
    version locks that version's descendants first, then reads again and checks for a cycle."""
    outside = [k for e in intents for k in (e.child, e.parent) if k not in nodes]
    found = {k: a for k, (a, _) in resolve_all(session, outside, first_named).items()}
    reported: list[retraction_service.ReportedEdge] = []
    for intent in intents:
        child = nodes.get(intent.child) or found.get(intent.child)
        parent = nodes.get(intent.parent) or found.get(intent.parent)
        if child is None or parent is None or child.id == parent.id:
            continue
        reported.append(
            retraction_service.ReportedEdge(
                child, parent, intent.relation, intent.amount, intent.amount_source
            )
        )
    withheld = retraction_service.withheld_many(session, reported)
    edges = [e for e, held in zip(reported, withheld, strict=True) if not held]
    linked = Linked(count=len(edges))
    if not edges:
        return linked
    pairs = list(dict.fromkeys((e.child.id, e.parent.id) for e in edges))
    recorded = {
        (e.child_id, e.parent_id, e.relation): e for e in lineage_repository.between(session, pairs)
    }
    new_here = artifact_repository.created_here(session)

    def settled(e: retraction_service.ReportedEdge) -> bool:
        existing = recorded.get((e.child.id, e.parent.id, e.relation))
        return existing is not None and (e.amount is None or existing.amount == e.amount)

    unsettled = [e for e in edges if not settled(e)]
    below = list(dict.fromkeys(e.child.id for e in unsettled if e.child.id not in new_here))
    if below:
        # the children's subgraphs, then the parents only for reading: a popular input stays
        # open to every other writer that reads it
        composition_repository.lock_descendants(session, below)
    composition_repository.lock_for_reading(session, [e.parent.id for e in unsettled])
    if below:
        recorded.update(
            ((e.child_id, e.parent_id, e.relation), e)
            for e in lineage_repository.between(session, [p for p in pairs if p[0] in set(below)])
        )
    checked: list[retraction_service.ReportedEdge] = []
    for e in edges:
        slot = (e.child.id, e.parent.id, e.relation)
        if e.relation == "used":
            superseded = recorded.pop((e.child.id, e.parent.id, "derived_from"), None)
            if superseded is not None:
                session.delete(superseded)
                linked.touched.append(e.child.id)
                linked.structural = True
        existing = recorded.get(slot)
        if existing is None and e.child.id not in new_here:
            checked.append(e)
            continue
        if existing is None:
            recorded[slot] = add_edge(session, e)
            linked.touched.append(e.child.id)
            linked.structural = True
            continue
        if e.amount is None:
            continue
        if existing.amount != e.amount:
            existing.amount = e.amount
            linked.touched.append(e.child.id)
        if existing.amount_source != e.amount_source:
            existing.amount_source = e.amount_source
    for e in checked:
        slot = (e.child.id, e.parent.id, e.relation)
        if slot in recorded:
            continue
        session.flush()
        lineage_service.refuse_cycle(session, e.child, e.parent)
        recorded[slot] = add_edge(session, e)
        linked.touched.append(e.child.id)
        linked.structural = True
    session.flush()
    return linked


def add_edge(session: Session, e: retraction_service.ReportedEdge) -> Edge:
    edge = Edge(
        id=uuid.uuid4(),
        child_id=e.child.id,
        parent_id=e.parent.id,
        relation=e.relation,
        amount=e.amount,
        amount_source=e.amount_source if e.amount is not None else None,
    )
    artifact_repository.gained_children(session, [edge.parent_id])
    session.add(edge)
    return edge


def find(session: Session, key: openlineage.NodeKey, as_of: datetime | None) -> Artifact | None:
    """The recorded version ``key`` names, if any (see ``resolve_all``)."""
    return resolve_all(session, [key], {key: as_of} if as_of is not None else {})[key][0]
