"""The artifact versions an OpenLineage event names: resolved to what is recorded, created or
updated as the event says, set-based."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.artifacts import repository as artifact_repository
from app.artifacts import service as artifact_service
from app.artifacts.models import Artifact
from app.auth.core import Principal
from app.db import lock_scopes
from app.lineage import facets, intents


def natural_key(key: intents.NodeKey) -> artifact_repository.NaturalKey:
    """The natural key of the version ``key`` records when none is recorded yet."""
    version = key.version or key.fallback_version or intents.UNVERSIONED
    return (key.kind, key.namespace, key.name, version)


def resolve_all(
    session: Session,
    keys: Sequence[intents.NodeKey],
    first_named: Mapping[intents.NodeKey, datetime],
) -> dict[intents.NodeKey, tuple[Artifact | None, str]]:
    """For each key, the recorded version it names, if any, and the version to record when none
    is: one query for natural keys and one for newest versions.

    An unversioned key names the newest version other than one this very run wrote (a run that
    reads and rewrites the same dataset reads the version before its own), as it was when the
    run first named it (``first_named``); without one, the version named by its fallback."""
    keys = list(dict.fromkeys(keys))
    natural: dict[intents.NodeKey, artifact_repository.NaturalKey] = {}
    newest: dict[intents.NodeKey, artifact_repository.NewestWanted] = {}
    for key in keys:
        natural[key] = natural_key(key)
        if key.version is None:
            wanted = (key.kind, key.namespace, key.name, key.fallback_version, first_named.get(key))
            newest[key] = wanted
    by_key = artifact_repository.by_natural_keys(session, list(natural.values()))
    newest_found = artifact_repository.newest_each(session, list(newest.values()))
    resolved: dict[intents.NodeKey, tuple[Artifact | None, str]] = {}
    for key in keys:
        found = newest_found.get(newest[key]) if key in newest else None
        resolved[key] = (found or by_key.get(natural[key]), natural[key][3])
    return resolved


def upsert_all(
    session: Session,
    named: Sequence[intents.NodeIntent],
    actor: Principal,
    first_named: Mapping[intents.NodeKey, datetime],
    locked: Collection[artifact_repository.NaturalKey] = (),
) -> tuple[dict[intents.NodeKey, Artifact], list[uuid.UUID], set[uuid.UUID]]:
    """The versions an event names, created or updated, in the event's order; the ids of those
    created or changed (their inputs changed), and the ids of those created.

    Names are resolved in one round, the new versions' natural keys locked in one statement
    (unless the caller locked them, ``locked``, before resolving) and looked up again, and the
    new versions inserted together. For an unversioned input with no ``first_named``
    moment, a version this event created earlier in its order is the newest."""
    resolved = resolve_all(session, [i.key for i in named], first_named)
    missing = {
        (key.kind, key.namespace, key.name, version)
        for key, (artifact, version) in resolved.items()
        if artifact is None
    }
    unlocked = sorted(missing.difference(locked))
    by_key: dict[artifact_repository.NaturalKey, Artifact] = {}
    if unlocked:
        lock_scopes(session, [("artifact", *natural) for natural in unlocked])
        by_key = artifact_repository.by_natural_keys(session, unlocked)
    nodes: dict[intents.NodeKey, Artifact] = {}
    created: list[Artifact] = []
    newest_created: dict[tuple[str, str, str], Artifact] = {}
    touched: list[uuid.UUID] = []
    for intent in named:
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
    artifact_repository.insert_new(session, created)
    return nodes, touched, {artifact.id for artifact in created}


def new_version(
    intent: intents.NodeIntent,
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
        values.update(facets.dataset_location(key.namespace, key.name, version))
    artifact = artifact_service.new_artifact(key.kind, key.namespace, key.name, version, **values)
    artifact.id = uuid.uuid4()
    return artifact


def update_version(
    artifact: Artifact,
    intent: intents.NodeIntent,
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


def find(session: Session, key: intents.NodeKey, as_of: datetime | None) -> Artifact | None:
    """The recorded version ``key`` names, if any (see ``resolve_all``)."""
    return resolve_all(session, [key], {key: as_of} if as_of is not None else {})[key][0]
