"""Registering and reading dataset and model versions."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from app.artifacts import repository
from app.artifacts.models import Artifact
from app.artifacts.schemas import (
    ArtifactRef,
    DatasetCreate,
    ModelCreate,
    OriginIn,
)
from app.auth.core import Principal, require_namespace
from app.composition.core import Composition, packed
from app.composition.origin import Origin, OriginInvalid, resolve_origin
from app.db import lock_scope
from app.errors import Conflict, InvalidInput, NotFound
from app.lineage.models import Edge

# The kinds an edge joins, child first; None where any kind may stand.
RELATION_KINDS: dict[str, tuple[str | None, str | None]] = {
    "trained_on": ("model", "dataset"),
    "fine_tuned_from": ("model", "model"),
    "generated_by": ("dataset", "model"),
    "derived_from": ("dataset", "dataset"),
    "used": (None, None),
}


def label(artifact: Artifact) -> str:
    return f"{artifact.kind} {artifact.namespace}/{artifact.name}@{artifact.version}"


KINDS = ("dataset", "model")


@dataclass
class Known:
    """Versions looked up ahead, by id and by natural key: a batch resolves all its references
    in a few queries, and its later items may name the versions its earlier items record."""

    by_id: dict[uuid.UUID, Artifact] = field(default_factory=dict)
    by_key: dict[tuple[str, str, str, str], Artifact] = field(default_factory=dict)

    def add(self, artifact: Artifact) -> None:
        self.by_id[artifact.id] = artifact
        key = (artifact.kind, artifact.namespace, artifact.name, artifact.version)
        self.by_key[key] = artifact

    def find(self, ref: ArtifactRef, kind: str) -> Artifact | None:
        if ref.id is not None:
            return self.by_id.get(ref.id)
        assert ref.namespace is not None and ref.name is not None and ref.version is not None
        return self.by_key.get((kind, ref.namespace, ref.name, ref.version))


def look_up(session: Session, refs: Iterable[ArtifactRef]) -> Known:
    """Every version the references name, in one query for ids and one for natural keys (of
    both kinds: ``resolve`` says so when a reference names a version of the other kind)."""
    ids: set[uuid.UUID] = set()
    keys: set[repository.NaturalKey] = set()
    for ref in refs:
        if ref.id is not None:
            ids.add(ref.id)
        else:
            assert ref.namespace is not None and ref.name is not None and ref.version is not None
            keys.update((kind, ref.namespace, ref.name, ref.version) for kind in KINDS)
    known = Known()
    for artifact in repository.many(session, list(ids), compositions=False).values():
        known.add(artifact)
    for artifact in repository.by_natural_keys(session, sorted(keys)).values():
        known.add(artifact)
    return known


def resolve(
    session: Session, ref: ArtifactRef, kind: str | None, *, field: str, known: Known | None = None
) -> Artifact:
    """The artifact a reference names, or a 404 that names what is missing (looked up in
    ``known`` alone when given)."""
    wanted = kind or "dataset"
    if known is not None:
        found = known.find(ref, wanted)
    elif ref.id is not None:
        found = repository.get(session, ref.id)
    else:
        assert ref.namespace is not None and ref.name is not None and ref.version is not None
        found = repository.by_natural_key(session, wanted, ref.namespace, ref.name, ref.version)
    if ref.id is not None:
        if found is not None and kind is not None and found.kind != kind:
            raise wrong_kind(found, kind, field)
        if found is None:
            raise NotFound(f"No {wanted} version has id {ref.id}.", missing={"id": str(ref.id)})
        return found
    if found is None and kind is not None:
        assert ref.namespace is not None and ref.name is not None and ref.version is not None
        other = "model" if kind == "dataset" else "dataset"
        mistaken = (
            known.find(ref, other)
            if known is not None
            else repository.by_natural_key(session, other, ref.namespace, ref.name, ref.version)
        )
        if mistaken is not None:
            raise wrong_kind(mistaken, kind, field)
    if found is None:
        raise NotFound(
            f"No {wanted} version {ref.namespace}/{ref.name}@{ref.version} is recorded"
            f" (referenced by {field}).",
            missing={
                "kind": wanted,
                "namespace": ref.namespace,
                "name": ref.name,
                "version": ref.version,
            },
        )
    return found


# Where a reference of the other kind belongs, for the fields people confuse.
KIND_HINTS: dict[tuple[str, str], str] = {
    ("training_set", "model"): "; to fine-tune that model, name it in `base_model`",
    ("base_model", "dataset"): "; data a model is trained on goes in `training_set`",
}


def wrong_kind(found: Artifact, wanted: str, field: str) -> InvalidInput:
    """A reference to a version of the other kind: a 422 that says where it belongs."""
    where = field.partition("[")[0]
    hint = KIND_HINTS.get((where, found.kind), "")
    loc = "body." + field.replace("[", ".").replace("]", "")
    return InvalidInput.at(
        loc,
        f"a {found.kind}, not a {wanted}",
        f"{field} names {label(found)}, which is a {found.kind}, not a {wanted}{hint}.",
    )


def origin_of(declared: OriginIn | None, *, field: str = "origin") -> Origin | None:
    if declared is None:
        return None
    try:
        # OriginIn's fields are resolve_origin's parameters, by name (OriginUpdate adds a reason)
        return resolve_origin(**declared.model_dump(include=set(OriginIn.model_fields)))
    except OriginInvalid as exc:
        raise InvalidInput.at(f"body.{field}", str(exc), str(exc)) from exc


ORIGIN_COLUMNS = (
    "origin_human",
    "origin_synthetic",
    "origin_unknown",
    "origin_synthetic_depth",
    "origin_digital_source_type",
)


def declared_by(actor: Principal) -> dict[str, Any]:
    """The columns that say who declared an origin, and when."""
    return {"origin_declared_by": actor.name, "origin_declared_at": datetime.now(UTC)}


def request_content(body: BaseModel) -> dict[str, Any]:
    """A request body as the audit log records it: what the client sent."""
    return body.model_dump(mode="json", exclude_unset=True, by_alias=True)


def origin_columns(origin: Origin | None) -> dict[str, Any]:
    if origin is None:
        return {
            "origin_human": None,
            "origin_synthetic": None,
            "origin_unknown": None,
            "origin_synthetic_depth": None,
            "origin_digital_source_type": None,
        }
    return {
        "origin_human": origin.human,
        "origin_synthetic": origin.synthetic,
        "origin_unknown": origin.unknown,
        "origin_synthetic_depth": origin.synthetic_depth,
        "origin_digital_source_type": origin.digital_source_type,
    }


def new_artifact(kind: str, namespace: str, name: str, version: str, **values: Any) -> Artifact:
    """A fresh artifact whose composition the propagation engine fills in before commit."""
    placeholder = Composition.all_unknown()
    declared = {k: values.get(k) for k in ORIGIN_COLUMNS} if kind == "dataset" else None
    return Artifact(
        kind=kind,
        namespace=namespace,
        name=name,
        version=version,
        composition=placeholder.to_json(),
        composition_packed=packed(placeholder),
        human_fraction=0.0,
        synthetic_fraction=0.0,
        unknown_fraction=1.0,
        declared_origin=declared,
        **values,
    )


def redeclares_original_origin(existing: Artifact, columns: dict[str, Any]) -> bool:
    """Whether ``columns`` are the origin ``existing`` was first recorded with. A pipeline
    re-running declares what it always declared; after a correction that is not a conflict,
    and it does not undo the correction: only PUT .../origin changes a recorded origin."""
    first = existing.declared_origin
    return first is not None and all(_same(first.get(k), columns.get(k)) for k in ORIGIN_COLUMNS)


def _same(recorded: Any, posted: Any) -> bool:
    if isinstance(recorded, int | float) and isinstance(posted, int | float):
        return abs(recorded - posted) < 1e-12
    return bool(recorded == posted)


@dataclass(frozen=True)
class PlannedEdge:
    parent: Artifact
    relation: str
    amount: float | None


def check_unique_parents(planned: Sequence[PlannedEdge], field: str) -> None:
    seen: set[tuple[uuid.UUID, str]] = set()
    for index, edge in enumerate(planned):
        key = (edge.parent.id, edge.relation)
        if key in seen:
            raise InvalidInput.at(
                f"body.{field}.{index}",
                "duplicate parent",
                f"{label(edge.parent)} is listed twice as `{edge.relation}`.",
            )
        seen.add(key)


def differences(
    existing: Artifact, declared: dict[str, Any], planned: Sequence[PlannedEdge], session: Session
) -> dict[str, Any]:
    """What a re-posted version says differently from the recorded one (empty: the same)."""
    diff: dict[str, Any] = {}
    if redeclares_original_origin(existing, declared):
        declared = {k: v for k, v in declared.items() if k not in ORIGIN_COLUMNS}
    for key, value in declared.items():
        current = getattr(existing, key)
        if not _same(current, value):
            diff[key] = {"recorded": current, "posted": value}
    recorded = repository.derivations(session, existing.id)
    for edge in planned:
        derivation = (edge.parent.id, edge.relation)
        if derivation not in recorded:
            diff.setdefault("parents", []).append(
                {"parent": label(edge.parent), "relation": edge.relation, "recorded": None}
            )
        elif recorded[derivation] != edge.amount:
            diff.setdefault("parents", []).append(
                {
                    "parent": label(edge.parent),
                    "relation": edge.relation,
                    "recorded_amount": recorded[derivation],
                    "posted_amount": edge.amount,
                }
            )
    return diff


def conflict(existing: Artifact, diff: dict[str, Any], hint: str = "") -> Conflict:
    fields = ", ".join(sorted(diff))
    return Conflict(
        f"{label(existing)} is already recorded with a different {fields}; versions are"
        f" immutable, so record a new version{hint}.",
        differences=diff,
        existing_id=str(existing.id),
    )


def lock_natural_key(session: Session, kind: str, key: tuple[str, str, str]) -> None:
    """Serialise writers of one natural key only, so two that post the same new version at once
    record it once."""
    lock_scope(session, "artifact", kind, *key)


def recorded(session: Session, planned: Planned) -> Artifact | None:
    """The version already recorded under the planned one's key when it says the same (None:
    there is none; a conflict when it says something else). Lock the key first."""
    existing = repository.by_natural_key(session, planned.kind, *planned.key)
    return unchanged(session, existing, planned) if existing is not None else None


def add(session: Session, planned: Planned) -> Artifact:
    """Store a new version with its declared columns (its edges are lineage's to store)."""
    values = {**planned.declared, **planned.stamp}
    return repository.add(session, new_artifact(planned.kind, *planned.key, **values))


def unchanged(session: Session, existing: Artifact, planned: Planned) -> Artifact:
    """The recorded version when the posted one says the same, else the conflict."""
    diff = differences(existing, planned.declared, planned.edges, session)
    if diff:
        raise conflict(existing, diff, planned.hint)
    return existing


def edges_of(artifact: Artifact, planned: Planned) -> list[Edge]:
    return [
        Edge(child_id=artifact.id, parent_id=e.parent.id, relation=e.relation, amount=e.amount)
        for e in planned.edges
    ]


@dataclass(frozen=True)
class Planned:
    """A version to record, checked: its kind and key, its columns and its parents."""

    kind: str
    key: tuple[str, str, str]
    declared: dict[str, Any]
    edges: Sequence[PlannedEdge]
    hint: str = ""
    # recorded with a new version, not compared with a re-posted one
    stamp: dict[str, Any] = field(default_factory=dict)


def plan_dataset(
    session: Session, body: DatasetCreate, *, actor: Principal, known: Known | None = None
) -> Planned:
    require_namespace(actor, body.namespace)
    origin = origin_of(body.origin)
    planned = []
    for index, parent in enumerate(body.parents):
        parent_kind = RELATION_KINDS[parent.relation][1] or parent.kind or "dataset"
        if parent.kind is not None and parent.kind != parent_kind:
            raise InvalidInput.at(
                f"body.parents.{index}.kind",
                "wrong kind",
                f"A `{parent.relation}` parent of a dataset is a {parent_kind},"
                f" not a {parent.kind}.",
            )
        found = resolve(session, parent, parent_kind, field=f"parents[{index}]", known=known)
        planned.append(PlannedEdge(found, parent.relation, parent.amount))
    check_unique_parents(planned, "parents")
    if body.archive_uri is not None and (body.uri is None or origin is None or origin.human <= 0):
        raise InvalidInput.at(
            "body.archive_uri",
            "not a source",
            "archive_uri names a preserved copy of an original source: a dataset version with "
            "human data (origin) and a uri.",
        )
    declared = {
        "size": body.size,
        "uri": body.uri,
        "checksum": body.checksum,
        "description": body.description,
        **origin_columns(origin),
    }
    return Planned(
        "dataset",
        (body.namespace, body.name, body.version),
        declared,
        planned,
        hint=" (or correct its origin with PUT /api/v1/datasets/{id}/origin)",
        stamp=declared_by(actor) if origin is not None else {},
    )


def plan_model(
    session: Session, body: ModelCreate, *, actor: Principal, known: Known | None = None
) -> Planned:
    require_namespace(actor, body.namespace)
    planned = [
        PlannedEdge(
            resolve(session, item, "dataset", field=f"training_set[{index}]", known=known),
            "trained_on",
            item.amount,
        )
        for index, item in enumerate(body.training_set)
    ]
    if body.base_model is not None:
        base = resolve(session, body.base_model, "model", field="base_model", known=known)
        planned.append(PlannedEdge(base, "fine_tuned_from", body.base_model.amount))
    check_unique_parents(planned, "training_set")
    return Planned(
        "model",
        (body.namespace, body.name, body.version),
        {"description": body.description},
        planned,
    )


def origin_correction(
    session: Session, dataset_id: uuid.UUID, declared: OriginIn, *, actor: Principal
) -> tuple[Artifact, dict[str, Any] | None]:
    """A dataset version whose declared origin a client replaces, with the columns that change
    (None: it already has that origin)."""
    artifact = get_or_404(session, dataset_id, "dataset")
    require_namespace(actor, artifact.namespace)
    columns = origin_columns(origin_of(declared))
    if all(getattr(artifact, k) == v for k, v in columns.items()):
        return artifact, None
    return artifact, {**columns, **declared_by(actor)}


def correct_origin(session: Session, artifact: Artifact, columns: dict[str, Any]) -> None:
    """Store a corrected origin (lock the descendants first: they are recomputed from it)."""
    session.refresh(artifact)
    for key, value in columns.items():
        setattr(artifact, key, value)
    session.flush()


def get_or_404(session: Session, artifact_id: uuid.UUID, kind: str) -> Artifact:
    artifact = repository.get(session, artifact_id, kind)
    if artifact is None:
        raise NotFound(f"No {kind} version has id {artifact_id}.", missing={"id": str(artifact_id)})
    return artifact
