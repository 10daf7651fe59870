"""The composition object, as every response that carries one shows it, and a propagation
(a correction finished in the background) as the API shows it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.composition.core import Composition


class CompositionRead(BaseModel):
    human_fraction: float
    synthetic_fraction: float = Field(
        description="How synthetic the data entering here is: a dataset's own synthetic"
        " fraction; for a model, the synthetic share of what it generates (1 unless the"
        " model's own origin is partly unknown)."
    )
    unknown_fraction: float
    depth_histogram: dict[str, float]
    max_depth: int
    mean_synthetic_depth: float
    depth_load: float
    total_amount: float | None
    weights_assumed: bool = False
    stale: bool = Field(
        default=False,
        description="True while a correction upstream is still being propagated to this node.",
    )


class Contributor(BaseModel):
    id: uuid.UUID
    kind: Literal["dataset", "model"]
    namespace: str
    name: str
    version: str
    synthetic_share: float = Field(
        description="Fraction of this node's synthetic mass that enters the graph here."
    )
    synthetic_fraction: float


class WeightRead(BaseModel):
    parent_id: uuid.UUID
    relation: str
    weight: float = Field(
        description="The amount mixed in, in the node's unit (1.0 each when weights are assumed)."
    )
    source: str = Field(
        description="Where the weight came from: the facet field an OpenLineage amount was read"
        " from (e.g. `inputStatistics.rowCount`), `amount` (posted natively), or a default:"
        " `parent_size`, `parent_training_amount`, `generators_share`, `assumed_equal`."
    )


class CompositionDetail(CompositionRead):
    contributors: list[Contributor]
    weights: list[WeightRead] = Field(
        default_factory=list, description="Each mass-carrying parent's weight and its source."
    )


def composition_summary(
    composition: Composition, total_amount: float | None, *, weights_assumed: bool, stale: bool
) -> CompositionRead:
    return CompositionRead.model_validate(
        {
            **composition.summary(total_amount),
            "weights_assumed": weights_assumed,
            "stale": stale,
        }
    )


class PropagationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    cause: str
    status: Literal["pending", "running", "done", "failed"]
    roots: list[uuid.UUID]
    nodes_total: int
    nodes_done: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
