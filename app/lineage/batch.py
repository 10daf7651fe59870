"""A native batch: datasets, models and edges in one request, applied as set-based SQL.

The batch's own natural keys are locked in one statement, every version it names is looked up
in one query per kind, the new versions and their edges are inserted in bulk, and one
propagation covers them all. Each item is checked on its own: one that fails is reported with
its problem and the others are recorded.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Literal

from sqlalchemy.orm import Session

from app.artifacts import repository as artifact_repository
from app.artifacts import service as artifact_service
from app.artifacts.models import Artifact
from app.artifacts.schemas import ArtifactRef
from app.auth.core import Principal
from app.composition import repository as composition_repository
from app.composition.service import LineageChange
from app.db import lock_scopes
from app.errors import Conflict, ProblemError
from app.lineage import repository
from app.lineage import service as lineage_service
from app.lineage.schemas import NativeBatch

Section = Literal["datasets", "models", "edges"]


@dataclass
class ItemOutcome:
    section: Section
    index: int
    status: Literal["created", "existing", "rejected"]
    id: uuid.UUID | None = None
    problem: ProblemError | None = None


def key_of(namespace: str, name: str, version: str) -> ArtifactRef:
    return ArtifactRef(namespace=namespace, name=name, version=version)


def references(body: NativeBatch) -> Iterator[tuple[ArtifactRef, str]]:
    """Every version the batch names, with the kind it must be."""
    for dataset in body.datasets:
        yield (
            ArtifactRef(namespace=dataset.namespace, name=dataset.name, version=dataset.version),
            "dataset",
        )
        for parent in dataset.parents:
            kind = artifact_service.RELATION_KINDS[parent.relation][1] or parent.kind or "dataset"
            yield parent, kind
    for model in body.models:
        yield (
            ArtifactRef(namespace=model.namespace, name=model.name, version=model.version),
            "model",
        )
        for member in model.training_set:
            yield member, "dataset"
        if model.base_model is not None:
            yield model.base_model, "model"
    for edge in body.edges:
        child_kind, parent_kind = artifact_service.RELATION_KINDS[edge.relation]
        yield edge.child, child_kind or edge.child.kind or "dataset"
        yield edge.parent, parent_kind or edge.parent.kind or "dataset"


def look_up(session: Session, body: NativeBatch) -> artifact_service.Known:
    """Everything the batch names, in one query for ids and one per kind for natural keys."""
    ids: set[uuid.UUID] = set()
    keys: dict[str, set[tuple[str, str, str]]] = {"dataset": set(), "model": set()}
    for ref, kind in references(body):
        if ref.id is not None:
            ids.add(ref.id)
        else:
            assert ref.namespace is not None and ref.name is not None and ref.version is not None
            keys[kind].add((ref.namespace, ref.name, ref.version))
    known = artifact_service.Known()
    for artifact in artifact_repository.many(session, list(ids), compositions=False).values():
        known.add(artifact)
    for kind, wanted in keys.items():
        for artifact in artifact_repository.many_by_natural_key(
            session, kind, list(wanted)
        ).values():
            known.add(artifact)
    return known


def record_batch(
    session: Session, body: NativeBatch, *, actor: Principal
) -> tuple[list[ItemOutcome], LineageChange | None]:
    members = sum(len(d.parents) for d in body.datasets) + len(body.edges)
    members += sum(len(m.training_set) + (m.base_model is not None) for m in body.models)
    lineage_service.within_edge_limit(members, "edges")
    # writers of the same new versions wait for this batch, and it for them, key by key
    lock_scopes(
        session,
        [("artifact", "dataset", d.namespace, d.name, d.version) for d in body.datasets]
        + [("artifact", "model", m.namespace, m.name, m.version) for m in body.models],
    )
    known = look_up(session, body)
    outcomes: list[ItemOutcome] = []
    created: list[tuple[Artifact, artifact_service.Planned]] = []
    fresh: set[uuid.UUID] = set()
    plans: list[tuple[Section, int, Callable[[], artifact_service.Planned]]] = [
        *(
            (
                "datasets",
                i,
                partial(artifact_service.plan_dataset, session, item, actor=actor, known=known),
            )
            for i, item in enumerate(body.datasets)
        ),
        *(
            (
                "models",
                i,
                partial(artifact_service.plan_model, session, item, actor=actor, known=known),
            )
            for i, item in enumerate(body.models)
        ),
    ]
    for section, index, plan in plans:
        try:
            planned = plan()
            existing = known.by_key.get((planned.kind, *planned.key))
            if existing is not None and existing.id in fresh:
                raise Conflict(f"{artifact_service.label(existing)} is listed twice in the batch.")
            if existing is not None:
                artifact_service.unchanged(session, existing, planned)
                outcomes.append(ItemOutcome(section, index, "existing", existing.id))
                continue
        except ProblemError as exc:
            outcomes.append(ItemOutcome(section, index, "rejected", problem=exc))
            continue
        artifact = artifact_service.new_artifact(planned.kind, *planned.key, **planned.declared)
        artifact.id = uuid.uuid4()
        known.add(artifact)
        fresh.add(artifact.id)
        created.append((artifact, planned))
        outcomes.append(ItemOutcome(section, index, "created", artifact.id))
    composition_repository.lock_for_reading(
        session,
        [e.parent.id for _, planned in created for e in planned.edges if e.parent.id not in fresh],
    )
    artifact_repository.insert_new(session, [artifact for artifact, _ in created])
    repository.insert_many(
        session,
        [e for artifact, planned in created for e in artifact_service.edges_of(artifact, planned)],
    )
    roots = [artifact.id for artifact, _ in created]
    for index, edge_body in enumerate(body.edges):
        savepoint = session.begin_nested()
        try:
            edge, change = lineage_service.record_edge(session, edge_body, actor=actor, known=known)
        except ProblemError as exc:
            savepoint.rollback()
            outcomes.append(ItemOutcome("edges", index, "rejected", problem=exc))
            continue
        savepoint.commit()
        outcomes.append(ItemOutcome("edges", index, "created" if change else "existing", edge.id))
        if change is not None:
            roots.extend(change.roots)
    if not roots:
        return outcomes, None
    cause = f"batch of {len(created)} versions and {len(body.edges)} edges recorded"
    return outcomes, LineageChange.of(roots, cause)
