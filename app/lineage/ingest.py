"""OpenLineage ingestion: map an event (``openlineage.map_event``) onto the lineage graph.

Events of one run merge in any order; a redelivered event changes nothing. A facet sent again
replaces the earlier one, so a changed ``headwater_origin`` or row count is a correction that
propagates like any other.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.artifacts import repository as artifact_repository
from app.artifacts import service as artifact_service
from app.artifacts.models import Artifact
from app.composition import service as composition_service
from app.db import lock_lineage_writes
from app.errors import InvalidInput
from app.lineage import openlineage
from app.lineage import service as lineage_service
from app.lineage.models import LineageEvent


@dataclass
class Ingested:
    status: Literal["accepted", "duplicate"]
    event_id: uuid.UUID | None
    run_id: str | None
    datasets: list[uuid.UUID] = field(default_factory=list)
    models: list[uuid.UUID] = field(default_factory=list)
    edges: int = 0


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


def ingest(session: Session, payload: Mapping[str, Any]) -> Ingested:
    try:
        event = openlineage.map_event(payload)
    except openlineage.EventInvalid as exc:
        raise invalid(exc) from exc
    lock_lineage_writes(session)
    print_ = fingerprint(payload)
    if session.scalars(select(LineageEvent.id).where(LineageEvent.fingerprint == print_)).first():
        return Ingested("duplicate", None, event.run_id)

    record = LineageEvent(
        fingerprint=print_,
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
    touched: list[uuid.UUID] = []
    nodes: dict[openlineage.NodeKey, Artifact] = {}
    for intent in event.nodes:
        artifact, changed = upsert(session, intent)
        nodes[intent.key] = artifact
        if changed:
            touched.append(artifact.id)
    edges = 0
    for edge in event.edges:
        child, parent = nodes[edge.child], nodes[edge.parent]
        if child.id == parent.id:
            continue
        lineage_service.connect(
            session,
            child,
            parent,
            edge.relation,
            edge.amount,
            propagate=False,
            amount_may_change=True,
        )
        edges += 1
        touched.append(child.id)
    composition_service.lineage_changed(session, list(dict.fromkeys(touched)), cause=cause)
    result = Ingested("accepted", record.id, event.run_id, edges=edges)
    for artifact in nodes.values():
        session.refresh(artifact)
        (result.datasets if artifact.kind == "dataset" else result.models).append(artifact.id)
    return result


def upsert(session: Session, intent: openlineage.NodeIntent) -> tuple[Artifact, bool]:
    """The version an event names, created or updated; True when its own inputs changed."""
    key = intent.key
    artifact: Artifact | None
    if key.version is None:
        # the newest version other than one this very run wrote: a run that reads and rewrites
        # the same dataset reads the version before its own
        artifact = artifact_repository.newest(
            session, key.kind, key.namespace, key.name, excluding=key.fallback_version
        )
        version = key.fallback_version or openlineage.UNVERSIONED
        if artifact is None:
            artifact = artifact_repository.by_natural_key(
                session, key.kind, key.namespace, key.name, version
            )
    else:
        artifact = artifact_repository.by_natural_key(
            session, key.kind, key.namespace, key.name, key.version
        )
        version = key.version
    origin_columns = (
        artifact_service.origin_columns(intent.origin) if intent.origin is not None else {}
    )
    if artifact is None:
        values: dict[str, Any] = {"facets": intent.facets, **origin_columns}
        if key.kind == "dataset":
            values["size"] = intent.size
        artifact = artifact_repository.add(
            session,
            artifact_service.new_artifact(key.kind, key.namespace, key.name, version, **values),
        )
        return artifact, True

    changed = False
    if key.kind == "dataset" and intent.size is not None and artifact.size != intent.size:
        artifact.size = intent.size
        changed = True
    for column, value in origin_columns.items():
        if getattr(artifact, column) != value:
            setattr(artifact, column, value)
            changed = True
    if intent.facets:
        merged = {**(artifact.facets or {}), **intent.facets}
        if merged != artifact.facets:
            artifact.facets = merged
    session.flush()
    return artifact, changed
