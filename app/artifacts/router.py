"""/api/v1/datasets and /api/v1/models."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response

from app import reads, writes
from app.artifacts import reads as artifact_reads
from app.artifacts.schemas import (
    DatasetCreate,
    DatasetRead,
    Kind,
    ModelCreate,
    ModelRead,
    OriginUpdate,
)
from app.auth.security import Writer, requires
from app.composition.schemas import CompositionDetail
from app.db import SessionDep
from app.errors import PROBLEM_RESPONSES
from app.http import created, json_response
from app.lineage.schemas import LineageGraph
from app.pagination import Page, Paging

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


def version_path(kind: Kind) -> Any:
    """The path parameter that names a version of ``kind`` (``dataset_id``, ``model_id``), for
    routes registered once per kind."""
    return Path(alias=f"{kind}_id")


def _reading_routes(kind: Kind, read: type[DatasetRead] | type[ModelRead]) -> None:
    """The read routes of datasets and of models, which differ only in the kind."""
    plural = f"{kind}s"
    page: Any = Page[read]  # type: ignore[valid-type]

    def list_versions(
        session: SessionDep,
        paging: Paging,
        namespace: KeyPart = None,
        name: KeyPart = None,
        version: KeyPart = None,
    ) -> Any:
        return reads.listing(session, kind, paging, namespace=namespace, name=name, version=version)

    def get_version(session: SessionDep, artifact_id: uuid.UUID = version_path(kind)) -> Response:
        return json_response(reads.version(session, kind, artifact_id))

    def version_composition(
        session: SessionDep,
        artifact_id: uuid.UUID = version_path(kind),
        contributors: Contributors = 10,
    ) -> Response:
        return json_response(reads.composition_detail(session, artifact_id, kind, contributors))

    def version_lineage(
        session: SessionDep,
        artifact_id: uuid.UUID = version_path(kind),
        direction: Direction = "upstream",
        depth: Depth = 20,
        max_nodes: MaxNodes = 1000,
    ) -> LineageGraph:
        return reads.lineage(session, artifact_id, kind, direction, depth, max_nodes)

    one = f"/{plural}/{{{kind}_id}}"
    routes: list[tuple[str, Callable[..., Any], str, Any, str]] = [
        (
            f"/{plural}",
            list_versions,
            f"list_{plural}",
            page,
            f"{kind.title()} versions, newest first",
        ),
        (one, get_version, f"get_{kind}", read, f"One {kind} version"),
        (
            f"{one}/composition",
            version_composition,
            f"{kind}_composition",
            CompositionDetail,
            f"A {kind} version's composition and the ancestors that make it synthetic",
        ),
        (
            f"{one}/lineage",
            version_lineage,
            f"{kind}_lineage",
            LineageGraph,
            f"The ancestry or descendants of a {kind} version",
        ),
    ]
    for path, endpoint, name, model, summary in routes:
        router.add_api_route(
            path,
            endpoint,
            methods=["GET"],
            name=name,
            dependencies=[requires("read")],
            response_model=model,
            summary=summary,
        )


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
    artifact, is_new = writes.register_dataset(
        session, body, actor=principal, whole_transaction=True
    )
    created(response, is_new)
    return artifact_reads.dataset_read(artifact)


_reading_routes("dataset", DatasetRead)


@router.put(
    "/datasets/{dataset_id}/origin",
    response_model=DatasetRead,
    summary="Correct a dataset version's declared origin; every descendant is recomputed",
)
def correct_origin(
    dataset_id: uuid.UUID, body: OriginUpdate, session: SessionDep, principal: Writer
) -> DatasetRead:
    artifact = writes.correct_origin(session, dataset_id, body, body.reason, actor=principal)
    return artifact_reads.dataset_read(artifact)


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
    artifact, is_new = writes.register_model(session, body, actor=principal, whole_transaction=True)
    created(response, is_new)
    read = reads.version(session, "model", artifact.id)
    assert isinstance(read, ModelRead)
    return read


_reading_routes("model", ModelRead)
