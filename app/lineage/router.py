"""/api/v1/edges, /api/v1/lineage (OpenLineage) and the headwater_origin facet's schema."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from app import writes
from app.auth.security import Writer, requires
from app.db import SessionDep
from app.errors import PROBLEM_BASE, PROBLEM_RESPONSES, ProblemError
from app.group_commit import GroupCommitDep
from app.http import created
from app.lineage import events, ingest, reads
from app.lineage.schemas import (
    BatchItem,
    BatchResult,
    EdgeCreate,
    EdgeRead,
    EventAccepted,
    NativeBatch,
    NativeBatchItem,
    NativeBatchResult,
    StoredEvent,
)
from app.metrics import EVENTS
from app.pagination import Page, Paging


class SchemaResponse(JSONResponse):
    """A JSON Schema document, served (and documented in OpenAPI) as what it is."""

    media_type = "application/schema+json"


router = APIRouter(prefix="/api/v1", responses=PROBLEM_RESPONSES)

FACET_SCHEMA_PATH = "/api/v1/spec/facets/1-0-0/HeadwaterOriginDatasetFacet.json"
MAX_BATCH = 1000


@router.post(
    "/edges",
    response_model=EdgeRead,
    status_code=201,
    tags=["lineage"],
    summary="Record a later edge between existing versions; descendants are recomputed",
    responses={
        200: {"description": "The identical edge was already recorded"},
        409: {"description": "The edge would close a cycle, or differs from the recorded one"},
    },
)
def create_edge(
    body: EdgeCreate, session: SessionDep, response: Response, principal: Writer
) -> EdgeRead:
    edge, is_new = writes.add_edge(session, body, actor=principal)
    created(response, is_new)
    return reads.edge_read(edge)


def tally(response: Response, statuses: Iterable[str], names: tuple[str, ...]) -> dict[str, int]:
    """How many items of a batch have each status; a batch with a rejected item answers 207."""
    counts = Counter(statuses)
    if counts["rejected"]:
        response.status_code = 207
    return {name: counts[name] for name in names}


def problem_of(error: ProblemError) -> dict[str, object]:
    """The problem document of one rejected item of a batch."""
    return {
        "type": PROBLEM_BASE + error.slug,
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
        **error.extensions,
    }


@router.post(
    "/batch",
    response_model=NativeBatchResult,
    tags=["lineage"],
    summary="Record datasets, models and edges in one request (a backfill), as set-based SQL",
    responses={207: {"description": "Some items were rejected; the items say which and why"}},
)
def create_batch(
    body: NativeBatch, session: SessionDep, response: Response, principal: Writer
) -> NativeBatchResult:
    outcomes = writes.record_batch(session, body, actor=principal)
    items = [
        NativeBatchItem(
            section=o.section,
            index=o.index,
            status=o.status,
            id=o.id,
            problem=problem_of(o.problem) if o.problem is not None else None,
        )
        for o in outcomes
    ]
    counts = tally(response, (i.status for i in items), ("created", "existing", "rejected"))
    return NativeBatchResult(**counts, items=items)


def accepted(result: ingest.Ingested) -> EventAccepted:
    return EventAccepted.model_validate(result, from_attributes=True)


@router.post(
    "/lineage",
    response_model=EventAccepted,
    status_code=201,
    tags=["openlineage"],
    summary="Accept one OpenLineage event (RunEvent, DatasetEvent or JobEvent, spec 2-0-2)",
    responses={200: {"description": "A redelivered event: nothing changed"}},
)
async def post_event(
    session: SessionDep,
    response: Response,
    principal: Writer,
    group_commit: GroupCommitDep,
    event: Annotated[dict[str, Any], Body(description="An OpenLineage event")],
) -> EventAccepted:
    if session.in_transaction():
        # the token was looked up: the request holds no connection while its event waits
        await run_in_threadpool(session.commit)
    try:
        result = await group_commit.ingest(event, principal)
    except ProblemError:
        EVENTS.labels("rejected").inc()
        raise
    EVENTS.labels(result.status).inc()
    created(response, result.status == "accepted")
    return accepted(result)


@router.post(
    "/lineage/batch",
    response_model=BatchResult,
    tags=["openlineage"],
    summary="Accept a JSON array of OpenLineage events; each is accepted or rejected on its own",
    responses={207: {"description": "Some events were rejected; the items say which and why"}},
)
def post_batch(
    session: SessionDep,
    response: Response,
    principal: Writer,
    # elements are not typed here: one that is not an object is rejected on its own, like any
    # other invalid event, instead of failing the whole batch
    events: Annotated[list[Any], Body(max_length=MAX_BATCH)],
) -> BatchResult:
    items: list[BatchItem] = []
    for index, outcome in enumerate(
        writes.ingest_batch(session, events, actor=principal, whole_transaction=True)
    ):
        if isinstance(outcome, ProblemError):
            EVENTS.labels("rejected").inc()
            items.append(BatchItem(index=index, status="rejected", problem=problem_of(outcome)))
        else:
            EVENTS.labels(outcome.status).inc()
            items.append(BatchItem(index=index, status=outcome.status, result=accepted(outcome)))
    counts = tally(response, (i.status for i in items), ("accepted", "duplicate", "rejected"))
    return BatchResult(
        accepted=counts["accepted"],
        duplicates=counts["duplicate"],
        rejected=counts["rejected"],
        items=items,
    )


@router.get(
    "/lineage/events",
    dependencies=[requires("read")],
    response_model=Page[StoredEvent],
    tags=["openlineage"],
    summary="Accepted events as received, newest first (for audit and replay)",
)
def list_events(
    session: SessionDep,
    paging: Paging,
    run_id: Annotated[str | None, Query(max_length=256)] = None,
) -> Page[StoredEvent]:
    return reads.events(session, paging, run_id=run_id)


@router.get(
    FACET_SCHEMA_PATH.removeprefix("/api/v1"),
    tags=["openlineage"],
    summary="JSON Schema of the headwater_origin dataset facet (its _schemaURL)",
    response_class=SchemaResponse,
    responses={200: {"description": "The facet's JSON Schema"}},
)
def facet_schema() -> SchemaResponse:
    return SchemaResponse(events.headwater_origin_schema())
