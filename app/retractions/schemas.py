"""Bodies for retractions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]


class RetractionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason = Field(description="Why the lineage is wrong; kept with the retraction.")


class RetractedVersion(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: Literal["dataset", "model"]
    namespace: str
    name: str
    version: str


class RetractedEdgeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    child_id: uuid.UUID
    parent_id: uuid.UUID
    relation: str
    amount: float | None
    created_at: datetime


class RetractionRead(BaseModel):
    id: uuid.UUID
    reason: str
    retracted_by: str | None
    created_at: datetime
    version: RetractedVersion | None = Field(
        description="The retracted version; null when one edge was retracted."
    )
    edges: list[RetractedEdgeRead] = Field(
        description="The edges taken out of the live graph, as they were recorded."
    )
