"""/api/v1/datasets and /api/v1/models."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status
from sqlalchemy.orm import Session

from app import writes
from app.artifacts import repository, service
from app.artifacts.models import Artifact
from app.artifacts.schemas import (
    DatasetCreate,
    DatasetRead,
    ModelCreate,
    ModelRead,
    OriginUpdate,
)
from app.auth.security import Writer, requires
from app.composition.schemas import CompositionDetail
from app.db import SessionDep
from app.errors import PROBLEM_RESPONSES
from app.lineage import service as lineage_service
from app.lineage import symlinks
from app.lineage.schemas import LineageGraph
from app.pagination import Cursor, Limit, Page, decode_cursor, next_cursor
from app.retractions import service as retraction_service
from app.training import repository as training_repository

router = APIRouter(prefix="/api/v1", responses=PROBLEM_RESPONSES)

Direction = Annotated[Literal["upstream", "downstream"], Query()]
Depth = Annotated[int, Query(ge=0, le=1000, description="Hops to follow.")]
MaxNodes = Annotated[
    int, Query(ge=1, le=10_000, description="At most this many nodes, nearest first.")
]
Contributors = Annotated[
    int, Query(ge=0, le=100, description="How many contributors to list, largest first.")
]
KeyPart = Annotated[str | None, Query(min_length=1, max_length=2048)]


def position(artifact: Artifact) -> tuple[datetime, uuid.UUID]:
    return artifact.created_at, artifact.id


def created(response: Response, is_new: bool) -> None:
    response.status_code = status.HTTP_201_CREATED if is_new else status.HTTP_200_OK


@router.post(
    "/datasets",
    response_model=DatasetRead,
    status_code=201,
    summary="Record a dataset version with its origin, size and parents",
    responses={200: {"description": "The identical version was already recorded"}},
)
def create_dataset(
    body: DatasetCreate, session: SessionDep, response: Response, principal: Writer
) -> DatasetRead:
    artifact, is_new = writes.register_dataset(session, body, actor=principal)
    created(response, is_new)
    return service.dataset_read(artifact)


@router.get(
    "/datasets",
    dependencies=[requires("read")],
    response_model=Page[DatasetRead],
    summary="Dataset versions, newest first",
)
def list_datasets(
    session: SessionDep,
    namespace: KeyPart = None,
    name: KeyPart = None,
    version: KeyPart = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[DatasetRead]:
    if namespace is not None and name is not None:  # any identifier of a symlinked dataset
        namespace, name = symlinks.canonical_name(session, "dataset", namespace, name)
    rows = repository.page(
        session,
        "dataset",
        namespace=namespace,
        name=name,
        version=version,
        after=decode_cursor("datasets", cursor),
        limit=limit + 1,
    )
    items = retraction_service.marked(session, [service.dataset_read(a) for a in rows[:limit]])
    return Page[DatasetRead](
        items=items, next_cursor=next_cursor("datasets", rows, limit, position)
    )


@router.get(
    "/datasets/{dataset_id}",
    dependencies=[requires("read")],
    response_model=DatasetRead,
    summary="One dataset version",
)
def get_dataset(dataset_id: uuid.UUID, session: SessionDep) -> DatasetRead:
    read = service.dataset_read(service.get_or_404(session, dataset_id, "dataset"))
    return retraction_service.marked(session, [read])[0]


@router.get(
    "/datasets/{dataset_id}/composition",
    dependencies=[requires("read")],
    response_model=CompositionDetail,
    summary="A dataset version's composition and the ancestors that make it synthetic",
)
def dataset_composition(
    dataset_id: uuid.UUID, session: SessionDep, contributors: Contributors = 10
) -> CompositionDetail:
    artifact = service.get_or_404(session, dataset_id, "dataset")
    return service.composition_detail(session, artifact, contributors)


@router.put(
    "/datasets/{dataset_id}/origin",
    response_model=DatasetRead,
    summary="Correct a dataset version's declared origin; every descendant is recomputed",
)
def correct_origin(
    dataset_id: uuid.UUID, body: OriginUpdate, session: SessionDep, principal: Writer
) -> DatasetRead:
    artifact = writes.correct_origin(session, dataset_id, body, body.reason, actor=principal)
    return service.dataset_read(artifact)


@router.get(
    "/datasets/{dataset_id}/lineage",
    dependencies=[requires("read")],
    response_model=LineageGraph,
    summary="The ancestry or descendants of a dataset version",
)
def dataset_lineage(
    dataset_id: uuid.UUID,
    session: SessionDep,
    direction: Direction = "upstream",
    depth: Depth = 20,
    max_nodes: MaxNodes = 1000,
) -> LineageGraph:
    return lineage_service.lineage(session, dataset_id, "dataset", direction, depth, max_nodes)


@router.post(
    "/models",
    response_model=ModelRead,
    status_code=201,
    summary="Record a model version with its training set (this records its training run)",
    responses={200: {"description": "The identical version was already recorded"}},
)
def create_model(
    body: ModelCreate, session: SessionDep, response: Response, principal: Writer
) -> ModelRead:
    artifact, is_new = writes.register_model(session, body, actor=principal)
    created(response, is_new)
    return model_read(session, artifact)


def model_read(session: Session, artifact: Artifact) -> ModelRead:
    run = training_repository.by_models(session, [artifact.id]).get(artifact.id)
    return retraction_service.marked(
        session, [service.model_read(artifact, run.id if run else None)]
    )[0]


@router.get(
    "/models",
    dependencies=[requires("read")],
    response_model=Page[ModelRead],
    summary="Model versions, newest first",
)
def list_models(
    session: SessionDep,
    namespace: KeyPart = None,
    name: KeyPart = None,
    version: KeyPart = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[ModelRead]:
    if namespace is not None and name is not None:  # any identifier of a symlinked model
        namespace, name = symlinks.canonical_name(session, "model", namespace, name)
    rows = repository.page(
        session,
        "model",
        namespace=namespace,
        name=name,
        version=version,
        after=decode_cursor("models", cursor),
        limit=limit + 1,
    )
    runs = training_repository.by_models(session, [a.id for a in rows[:limit]])
    items = retraction_service.marked(
        session,
        [service.model_read(a, runs[a.id].id if a.id in runs else None) for a in rows[:limit]],
    )
    return Page[ModelRead](items=items, next_cursor=next_cursor("models", rows, limit, position))


@router.get(
    "/models/{model_id}",
    dependencies=[requires("read")],
    response_model=ModelRead,
    summary="One model version",
)
def get_model(model_id: uuid.UUID, session: SessionDep) -> ModelRead:
    return model_read(session, service.get_or_404(session, model_id, "model"))


@router.get(
    "/models/{model_id}/composition",
    dependencies=[requires("read")],
    response_model=CompositionDetail,
    summary="A model version's composition and the ancestors that make it synthetic",
)
def model_composition(
    model_id: uuid.UUID, session: SessionDep, contributors: Contributors = 10
) -> CompositionDetail:
    artifact = service.get_or_404(session, model_id, "model")
    return service.composition_detail(session, artifact, contributors)


@router.get(
    "/models/{model_id}/lineage",
    dependencies=[requires("read")],
    response_model=LineageGraph,
    summary="The ancestry or descendants of a model version",
)
def model_lineage(
    model_id: uuid.UUID,
    session: SessionDep,
    direction: Direction = "upstream",
    depth: Depth = 20,
    max_nodes: MaxNodes = 1000,
) -> LineageGraph:
    return lineage_service.lineage(session, model_id, "model", direction, depth, max_nodes)
