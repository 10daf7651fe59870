"""Upstream lineage as a W3C PROV document (PROV-JSON), for tools that speak PROV.

Each artifact version is a ``prov:Entity`` carrying its composition figures as attributes in
the ``headwater`` namespace. Each version with parents was made by one activity: the training
run of a model, the generation of data by a model, or a derivation. The activity ``used`` every
parent (with the edge's relation and amount as attributes); the version ``wasGeneratedBy`` it
and ``wasDerivedFrom`` each parent that carries mass; a generation ``wasAssociatedWith`` the
model that generated the data, which is also a ``prov:SoftwareAgent``.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from prov.identifier import QualifiedName
from prov.model import PROV_TYPE, ProvDocument
from sqlalchemy.orm import Session

from app.artifacts import reads as artifact_reads
from app.artifacts import repository as artifact_repository
from app.artifacts import service as artifact_service
from app.artifacts.models import Artifact
from app.composition.core import MASS_RELATIONS
from app.lineage import repository
from app.lineage.models import Edge
from app.training import repository as training_repository

HEADWATER_NS = "urn:headwater:"
"""The namespace of Headwater's attributes and identifiers (``headwater:human_fraction``)."""


def document(
    root: Artifact | None,
    artifacts: Mapping[uuid.UUID, Artifact],
    edges: Sequence[Edge],
    training_runs: Mapping[uuid.UUID, tuple[uuid.UUID, str | None]],
) -> ProvDocument:
    """The PROV document of ``artifacts`` and the ``edges`` among them. ``training_runs`` maps
    a model version to its training run's id and verdict."""
    doc = ProvDocument()
    doc.add_namespace("headwater", HEADWATER_NS)
    for artifact in artifacts.values():
        figures = artifact_reads.composition_read(artifact)
        attributes: dict[QualifiedName | str, Any] = {
            PROV_TYPE: "headwater:DatasetVersion"
            if artifact.kind == "dataset"
            else "headwater:ModelVersion",
            "headwater:namespace": artifact.namespace,
            "headwater:name": artifact.name,
            "headwater:version": artifact.version,
            "headwater:human_fraction": figures.human_fraction,
            "headwater:synthetic_fraction": figures.synthetic_fraction,
            "headwater:unknown_fraction": figures.unknown_fraction,
            "headwater:max_depth": figures.max_depth,
            "headwater:mean_synthetic_depth": figures.mean_synthetic_depth,
            "headwater:depth_load": figures.depth_load,
            "headwater:weights_assumed": figures.weights_assumed,
        }
        if figures.total_amount is not None:
            attributes["headwater:total_amount"] = figures.total_amount
        if artifact.kind == "dataset" and artifact.size is not None:
            attributes["headwater:size"] = artifact.size
        if artifact.uri:
            attributes["headwater:uri"] = artifact.uri
        if root is not None and artifact.id == root.id:
            attributes["headwater:root"] = True
        doc.entity(_entity(artifact), attributes)

    into: dict[uuid.UUID, list[Edge]] = defaultdict(list)
    for edge in edges:
        into[edge.child_id].append(edge)
    for child_id, parents in into.items():
        child = artifacts[child_id]
        relations = {e.relation for e in parents}
        activity = _activity(child, relations, training_runs)
        kind: dict[QualifiedName | str, Any] = {PROV_TYPE: _activity_type(child, relations)}
        if child.id in training_runs:
            run_id, verdict = training_runs[child.id]
            kind["headwater:training_run"] = str(run_id)
            if verdict is not None:
                kind["headwater:verdict"] = verdict
        doc.activity(activity, other_attributes=kind)
        doc.wasGeneratedBy(_entity(child), activity)
        for edge in parents:
            parent = _entity(artifacts[edge.parent_id])
            usage: dict[str, Any] = {"headwater:relation": edge.relation}
            if edge.amount is not None:
                usage["headwater:amount"] = edge.amount
            doc.used(activity, parent, other_attributes=usage)
            if edge.relation in MASS_RELATIONS:
                doc.wasDerivedFrom(
                    _entity(child),
                    parent,
                    activity,
                    other_attributes={"headwater:relation": edge.relation},
                )
            if edge.relation == "generated_by":
                model = artifacts[edge.parent_id]
                doc.agent(_entity(model), {PROV_TYPE: "prov:SoftwareAgent"})
                doc.wasAssociatedWith(activity, _entity(model))
    return doc


def _entity(artifact: Artifact) -> str:
    return f"headwater:{artifact.kind}/{artifact.id}"


def _activity(
    child: Artifact,
    relations: set[str],
    training_runs: Mapping[uuid.UUID, tuple[uuid.UUID, str | None]],
) -> str:
    if child.id in training_runs:
        return f"headwater:training-run/{training_runs[child.id][0]}"
    return f"headwater:{_activity_type(child, relations).removeprefix('headwater:')}/{child.id}"


def _activity_type(child: Artifact, relations: set[str]) -> str:
    if child.kind == "model":
        return "headwater:Training"
    return "headwater:Generation" if "generated_by" in relations else "headwater:Derivation"


def upstream(
    session: Session, artifact_id: uuid.UUID, kind: str, depth: int, max_nodes: int
) -> dict[str, Any]:
    """The PROV-JSON document of a version's upstream lineage."""
    root = artifact_service.get_or_404(session, artifact_id, kind)
    reached, edges, _ = repository.walk(
        session, artifact_id, upstream=True, depth=depth, max_nodes=max_nodes
    )
    artifacts = artifact_repository.many(session, [node for node, _ in reached])
    models = [a.id for a in artifacts.values() if a.kind == "model"]
    runs = {
        model_id: (run.id, run.verdict)
        for model_id, run in training_repository.by_models(session, models).items()
    }
    serialized = document(root, artifacts, edges, runs).serialize(format="json")
    assert serialized is not None  # serialize returns None only when given a destination
    loaded: dict[str, Any] = json.loads(serialized)
    return loaded
