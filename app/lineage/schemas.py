"""Bodies for edges and lineage walks."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from app.artifacts.schemas import Amount, ArtifactRef, DatasetCreate, Kind, ModelCreate, Strict
from app.composition.core import Relation
from app.composition.schemas import CompositionRead


class EdgeEnd(ArtifactRef):
    kind: Kind | None = Field(
        default=None, description="Needed only for `used` edges named by natural key."
    )


class EdgeCreate(Strict):
    child: EdgeEnd
    parent: EdgeEnd
    relation: Relation
    amount: Amount | None = None


class EdgeRead(BaseModel):
    id: uuid.UUID
    child_id: uuid.UUID
    parent_id: uuid.UUID
    relation: Relation
    amount: float | None
    created_at: datetime


class LineageNode(BaseModel):
    id: uuid.UUID
    kind: Kind
    namespace: str
    name: str
    version: str
    distance: int = Field(description="Hops from the node the walk started at.")
    composition: CompositionRead


class LineageGraph(BaseModel):
    root: uuid.UUID
    direction: Literal["upstream", "downstream"]
    depth: int
    truncated: bool = Field(
        description="True when more nodes lie within `depth` than `max_nodes` allowed; the"
        " nearest are returned."
    )
    nodes: list[LineageNode]
    edges: list[EdgeRead]


Depth = Annotated[int, Field(ge=0, le=1000)]


class EventAccepted(BaseModel):
    status: Literal["accepted", "duplicate"]
    event_id: uuid.UUID | None = Field(description="The stored raw event (None for a duplicate).")
    run_id: str | None
    datasets: list[uuid.UUID] = []
    models: list[uuid.UUID] = []
    edges: int = 0


class BatchItem(BaseModel):
    index: int
    status: Literal["accepted", "duplicate", "rejected"]
    result: EventAccepted | None = None
    problem: dict[str, object] | None = None


class BatchResult(BaseModel):
    accepted: int
    duplicates: int
    rejected: int
    items: list[BatchItem]


class StoredEvent(BaseModel):
    id: uuid.UUID
    event_kind: str
    event_type: str | None
    run_id: str | None
    job_namespace: str | None
    job_name: str | None
    event_time: datetime
    received_at: datetime
    payload: dict[str, object]


class NativeBatch(Strict):
    """Datasets, models and edges recorded in one request (a backfill): items may name the
    versions earlier items record, datasets first, then models, then edges."""

    datasets: Annotated[list[DatasetCreate], Field(default_factory=list, max_length=10_000)]
    models: Annotated[list[ModelCreate], Field(default_factory=list, max_length=10_000)]
    edges: Annotated[list[EdgeCreate], Field(default_factory=list, max_length=10_000)]


class NativeBatchItem(BaseModel):
    section: Literal["datasets", "models", "edges"]
    index: int
    status: Literal["created", "existing", "rejected"]
    id: uuid.UUID | None = None
    problem: dict[str, object] | None = None


class NativeBatchResult(BaseModel):
    created: int
    existing: int
    rejected: int
    items: list[NativeBatchItem]
