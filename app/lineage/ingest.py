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
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy.orm import Session

from app.artifacts.models import Artifact
from app.auth.core import Principal, require_namespace
from app.composition.service import LineageChange
from app.db import lock_scopes
from app.errors import ProblemError
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


def mapped(payload: Any, actor: Principal) -> intents.MappedEvent:
    """What an event records, once it is known to be storable, valid, within the edge limit
    and written only where the actor may write (pure: a refused event raises its problem)."""
    checks.check_storable(payload)
    try:
        event = openlineage.map_event(payload)
    except intents.EventInvalid as exc:
        raise checks.invalid(exc) from exc
    for namespace in checks.written_namespaces(payload, event):
        require_namespace(actor, namespace)
    lineage_service.within_edge_limit(len(event.edges), "edges")
    return event


def scopes_of(event: intents.MappedEvent) -> list[tuple[str, ...]]:
    """What recording an event locks: the versions it writes and its run. The events of one run
    merge one at a time; a redelivery waits on the stored event's fingerprint for the delivery
    it repeats (``record_event``). The versions the event writes are locked with its run,
    before they are looked up: one that is not recorded yet is then created without a second
    look."""
    scopes: list[tuple[str, ...]] = [
        ("artifact", *versions.natural_key(key)) for key in event.outputs
    ]
    if event.run_id is not None:
        scopes.append(("openlineage-run", event.run_id))
    return scopes


def stored_values(payload: Mapping[str, Any], event: intents.MappedEvent) -> dict[str, Any]:
    """The ``lineage_events`` row of an accepted event."""
    return {
        "fingerprint": checks.fingerprint(payload),
        "event_kind": event.kind,
        "event_type": event.event_type,
        "run_id": event.run_id,
        "job_namespace": event.job_namespace,
        "job_name": event.job_name,
        "event_time": event.event_time,
        "producer": event.producer,
        "payload": dict(payload),
    }


def cause_of(event: intents.MappedEvent) -> str:
    return f"OpenLineage {event.event_type or event.kind} event" + (
        f" of run {event.run_id}" if event.run_id else ""
    )


def require_canonical_namespaces(actor: Principal, event: intents.MappedEvent) -> None:
    """A symlink may record what the event writes under another namespace: the token must
    reach that one too."""
    for namespace in dict.fromkeys(
        [k.namespace for k in event.outputs]
        + [n.key.namespace for n in event.nodes if n.origin is not None]
    ):
        require_namespace(actor, namespace)


def ingest(session: Session, payload: Mapping[str, Any], *, actor: Principal) -> Ingested:
    event = mapped(payload, actor)
    written = [versions.natural_key(key) for key in event.outputs]
    lock_scopes(session, scopes_of(event))
    event_id, earlier = lineage_repository.record_event(session, stored_values(payload, event))
    if event_id is None:
        return Ingested("duplicate", None, event.run_id)

    cause = cause_of(event)
    run = RunSoFar.of(event, payload, earlier) if event.run_id is not None else None
    event, run = canonical(session, event, run)
    require_canonical_namespaces(actor, event)
    first_named = run.first_named if run is not None else {}
    nodes, touched, created = versions.upsert_all(session, event.nodes, actor, first_named, written)
    structural = bool(created)
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
    names = symlinks.canonical_keys(session, event.nodes, named_keys(event, run))
    return renamed(event, run, names)


def named_keys(event: intents.MappedEvent, run: RunSoFar | None) -> list[intents.NodeKey]:
    """Every key an event and its run name."""
    keys = [n.key for n in event.nodes]
    if run is not None:
        keys += [k for e in run.edges for k in (e.child, e.parent)]
        keys += [*run.outputs, *run.first_named]
    return keys


def renamed(
    event: intents.MappedEvent,
    run: RunSoFar | None,
    names: Mapping[intents.NodeKey, intents.NodeKey],
) -> tuple[intents.MappedEvent, RunSoFar | None]:
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


@dataclass
class Together:
    """What recording a batch's events together did: the outcome of each event settled so far
    (by its index), and the events left to record one after the other, in the batch's order."""

    outcomes: dict[int, Ingested | ProblemError] = field(default_factory=dict)
    left: list[int] = field(default_factory=list)


Name = tuple[str, str, str]
"""kind, namespace, name"""


def ingest_together(session: Session, payloads: Sequence[Any], *, actor: Principal) -> Together:
    """A batch of OpenLineage events recorded set-based, each accepted or rejected on its own,
    as if posted one after the other.

    Every event is checked and mapped first (pure), the versions and runs all of them write are
    locked in one statement, their stored fingerprints and the stored events of their runs read
    in one query and their aliases in one more. The events that can be recorded together
    (``standing_alone``) then are: their raw events, versions and edges each in one multi-row
    statement. A run's events in the batch merge in order, each reading the run as the ones
    before it left it. The others depend on an event of the batch recorded before them (the
    newest version of what it wrote, an alias it declared, a run it failed) in ways one plan
    cannot express simply: they are left to be recorded one after the other, in the batch's
    order, as are all of them when recording together meets a refused edge (a cycle two of
    them would close only together)."""
    together = Together()
    events: dict[int, intents.MappedEvent] = {}
    for index, payload in enumerate(payloads):
        try:
            events[index] = mapped(payload, actor)
        except ProblemError as exc:
            together.outcomes[index] = exc
    if not events:
        return together
    lock_scopes(session, [scope for event in events.values() for scope in scopes_of(event)])
    prints = {index: checks.fingerprint(payloads[index]) for index in events}
    run_ids = list(dict.fromkeys(e.run_id for e in events.values() if e.run_id is not None))
    stored, earlier = lineage_repository.stored_events(
        session, list(dict.fromkeys(prints.values())), run_ids
    )
    for index in [i for i in events if prints[i] in stored]:
        together.outcomes[index] = Ingested("duplicate", None, events.pop(index).run_id)
    # a run's events in the batch read the run as the ones before them leave it
    runs: dict[int, RunSoFar | None] = {}
    received = datetime.now(UTC)
    for index, event in events.items():
        if event.run_id is None:
            runs[index] = None
            continue
        so_far = earlier.setdefault(event.run_id, [])
        runs[index] = RunSoFar.of(event, payloads[index], list(so_far))
        so_far.append(lineage_repository.StoredEvent(received, dict(payloads[index])))
    keys = {index: named_keys(event, runs[index]) for index, event in events.items()}
    aliases = lineage_repository.canonical_names_each(
        session,
        [(k.kind, k.namespace, k.name) for named in keys.values() for k in named]
        + [(n.key.kind, *name) for e in events.values() for n in e.nodes for name in n.identifiers],
    )
    alone = standing_alone(events, runs, keys, prints, aliases)
    ready: list[tuple[int, intents.MappedEvent, RunSoFar | None]] = []
    for index in events:
        if index not in alone:
            together.left.append(index)
            continue
        event, run = renamed(events[index], runs[index], symlinks.renamed(keys[index], aliases))
        try:
            require_canonical_namespaces(actor, event)
        except ProblemError as exc:
            together.outcomes[index] = exc
            continue
        ready.append((index, event, run))
    if ready:
        try:
            with session.begin_nested():
                together.outcomes.update(record_together(session, payloads, events, ready, actor))
        except ProblemError:
            together.left = sorted([*together.left, *(index for index, _, _ in ready)])
    return together


@dataclass
class Use:
    """How the events of a batch name one dataset or model (``standing_alone``)."""

    units: set[str] = field(default_factory=set)
    writers: set[str] = field(default_factory=set)
    unversioned: bool = False
    facets: dict[str | None, set[str]] = field(default_factory=dict)
    """The facets each version is named with (by their fingerprint)."""


def standing_alone(
    events: Mapping[int, intents.MappedEvent],
    runs: Mapping[int, RunSoFar | None],
    keys: Mapping[int, Sequence[intents.NodeKey]],
    prints: Mapping[int, str],
    aliases: Mapping[Name, tuple[str, str]],
) -> set[int]:
    """The events of a batch that can be recorded together, set-based, with the same outcome
    as one after the other.

    The unit is a run (all its events in the batch) or an event of no run. A unit stands alone
    unless it declares symlinks (aliases later events read), fails (its outputs are retracted
    as the run ends), repeats an event of the batch, merges unversioned inputs across several
    events (each resolves them as of when the run first named them), or names a dataset or
    model another unit names too — except one they all only read, at versions they name, each
    version with the same facets: reading it in either order records the same."""
    unit_of = {
        i: f"run:{e.run_id}" if e.run_id is not None else f"event:{i}" for i, e in events.items()
    }
    failing: set[str] = set()
    uses: dict[Name, Use] = {}
    repeated = {p for p, n in Counter(prints.values()).items() if n > 1}
    for index, event in events.items():
        unit, run = unit_of[index], runs[index]
        if (
            any(node.identifiers for node in event.nodes)
            or event.event_type in intents.FAILED_STATES
            or (run is not None and run.failed is not None)
            or prints[index] in repeated
        ):
            failing.add(unit)

        def names(kind: str, namespace: str, name: str) -> list[Name]:
            canonical = aliases.get((kind, namespace, name))
            return [(kind, namespace, name), *([(kind, *canonical)] if canonical else [])]

        for key in keys[index]:
            for name in names(key.kind, key.namespace, key.name):
                use = uses.setdefault(name, Use())
                use.units.add(unit)
                use.unversioned |= key.version is None
        written = [*event.outputs, *(run.outputs if run is not None else [])]
        written += [n.key for n in event.nodes if n.origin is not None or event.kind == "dataset"]
        for key in written:
            for name in names(key.kind, key.namespace, key.name):
                uses.setdefault(name, Use()).writers.add(unit)
        for node in event.nodes:
            for name in names(node.key.kind, node.key.namespace, node.key.name):
                given = uses[name].facets.setdefault(node.key.version, set())
                given.add(checks.fingerprint(node.facets))
            for namespace, other in node.identifiers:
                for name in names(node.key.kind, namespace, other):
                    use = uses.setdefault(name, Use())
                    use.units.add(unit)
                    use.writers.add(unit)
    chained = Counter(unit_of.values())
    for use in uses.values():
        differ = any(len(given) > 1 for given in use.facets.values())
        if len(use.units) > 1 and (use.writers or use.unversioned or differ):
            failing |= use.units
        if use.unversioned:
            failing |= {unit for unit in use.units if chained[unit] > 1}
    return {index for index, unit in unit_of.items() if unit not in failing}


def record_together(
    session: Session,
    payloads: Sequence[Any],
    mapped_events: Mapping[int, intents.MappedEvent],
    ready: Sequence[tuple[int, intents.MappedEvent, RunSoFar | None]],
    actor: Principal,
) -> dict[int, Ingested]:
    """Record the events that stand alone (``standing_alone``), set-based, in the batch's
    order: a run's events one after the other, each run's edges those its events named so far."""
    ids = lineage_repository.record_events(
        session, [stored_values(payloads[index], mapped_events[index]) for index, _, _ in ready]
    )
    outcomes: dict[int, Ingested] = {}
    kept: list[tuple[int, intents.MappedEvent, RunSoFar | None]] = []
    for index, event, run in ready:
        if checks.fingerprint(payloads[index]) in ids:
            kept.append((index, event, run))
        else:
            # a delivery of the same event, racing this batch, stored it first
            outcomes[index] = Ingested("duplicate", None, event.run_id)
    first_named = {
        key: moment
        for _, _, run in kept
        if run is not None
        for key, moment in run.first_named.items()
    }
    written = [
        versions.natural_key(key) for index, _, _ in kept for key in mapped_events[index].outputs
    ]
    nodes, touched, created = versions.upsert_all(
        session, [node for _, event, _ in kept for node in event.nodes], actor, first_named, written
    )
    linked = links.connect_each(
        session,
        [run.edges if run is not None else event.edges for _, event, run in kept],
        nodes,
        first_named,
    )
    changed = set(touched)
    for (index, event, _), edges in zip(kept, linked, strict=True):
        own = [nodes[node.key] for node in event.nodes]
        result = Ingested(
            "accepted",
            ids[checks.fingerprint(payloads[index])],
            event.run_id,
            edges=edges.count,
            nodes=own,
        )
        roots = [a.id for a in own if a.id in changed] + edges.touched
        if roots:
            structural = edges.structural or any(a.id in created for a in own)
            result.change = LineageChange.of(roots, cause_of(event), structural=structural)
        for artifact in own:
            (result.datasets if artifact.kind == "dataset" else result.models).append(artifact.id)
        outcomes[index] = result
    return outcomes
