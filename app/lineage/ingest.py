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

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy.orm import Session

from app.artifacts.models import Artifact
from app.auth.core import Principal, require_namespace
from app.composition.service import LineageChange
from app.db import lock_scopes
from app.lineage import checks, intents, links, openlineage, symlinks, versions
from app.lineage import repository as lineage_repository
from app.lineage import service as lineage_service
from app.lineage.runs import RunSoFar
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


def ingest(session: Session, payload: Mapping[str, Any], *, actor: Principal) -> Ingested:
    checks.check_storable(payload)
    try:
        event = openlineage.map_event(payload)
    except intents.EventInvalid as exc:
        raise checks.invalid(exc) from exc
    for namespace in checks.written_namespaces(payload, event):
        require_namespace(actor, namespace)
    lineage_service.within_edge_limit(len(event.edges), "edges")
    # the events of one run merge one at a time; a redelivery waits on the stored event's
    # fingerprint for the delivery it repeats (``record_event``). The versions the event writes
    # are locked with its run, before they are looked up: one that is not recorded yet is then
    # created without a second look
    written = [versions.natural_key(key) for key in event.outputs]
    scopes: list[tuple[str, ...]] = [("artifact", *natural) for natural in written]
    if event.run_id is not None:
        scopes.append(("openlineage-run", event.run_id))
    lock_scopes(session, scopes)
    event_id, earlier = lineage_repository.record_event(
        session,
        {
            "fingerprint": checks.fingerprint(payload),
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
    nodes, touched, structural = versions.upsert_all(
        session, event.nodes, actor, first_named, written
    )
    ended = event.event_type if event.event_type in intents.FAILED_STATES else None
    if run is not None:
        ended = ended or run.failed
    if ended is not None:
        retracted = withhold_failed_outputs(session, event, run, nodes, ended, actor)
        touched += retracted
        structural |= bool(retracted)
    linked = links.connect_all(
        session, run.edges if run is not None else event.edges, nodes, first_named
    )
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
    session: Session, event: intents.MappedEvent, run: RunSoFar | None
) -> tuple[intents.MappedEvent, RunSoFar | None]:
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
            intents.rename_edges(run.edges, names),
            {names.get(k, k): t for k, t in run.first_named.items()},
            list(dict.fromkeys(names.get(k, k) for k in run.outputs)),
            run.failed,
        )
    return intents.rename(event, names), run


def withhold_failed_outputs(
    session: Session,
    event: intents.MappedEvent,
    run: RunSoFar | None,
    nodes: Mapping[intents.NodeKey, Artifact],
    ended: str,
    actor: Principal,
) -> list[uuid.UUID]:
    """Retract every output of a run that ended in FAIL or ABORT, whichever of its events
    arrives first; the nodes to recompute."""
    roots: list[uuid.UUID] = []
    for key in run.outputs if run is not None else event.outputs:
        artifact = nodes.get(key) or versions.find(session, key, None)
        if artifact is None:
            continue
        _, recompute, _, _ = retraction_service.retract_version(
            session,
            artifact,
            f"run {event.run_id} ended {ended}",
            retracted_by=actor.name,
        )
        roots += recompute
    return roots
