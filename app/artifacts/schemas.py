"""Request and response bodies for dataset and model versions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from app.composition.core import MAX_AMOUNT
from app.composition.schemas import CompositionRead

Kind = Literal["dataset", "model"]
Text = Annotated[str, Field(min_length=1, max_length=2048)]
Amount = Annotated[float, Field(ge=0, le=MAX_AMOUNT, allow_inf_nan=False)]
Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]


# The unique index on (kind, namespace, name, version) holds keys up to PostgreSQL's btree
# limit of 2,704 bytes a row; this leaves room for the rest of the row.
KEY_MAX_BYTES = 2048


def key_too_long(namespace: str, name: str, version: str) -> str | None:
    """Why a natural key cannot be stored, or None when it can."""
    size = sum(len(part.encode("utf-8", "surrogatepass")) for part in (namespace, name, version))
    if size <= KEY_MAX_BYTES:
        return None
    return (
        f"namespace, name and version together are {size} bytes of UTF-8;"
        f" the limit is {KEY_MAX_BYTES} bytes"
    )


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NaturalKey(Strict):
    namespace: Text
    name: Text
    version: Text

    @model_validator(mode="after")
    def _storable_key(self) -> Self:
        reason = key_too_long(self.namespace, self.name, self.version)
        if reason is not None:
            raise ValueError(reason)
        return self


class ArtifactRef(Strict):
    """An existing artifact version, by server id or by natural key."""

    id: uuid.UUID | None = None
    namespace: Text | None = None
    name: Text | None = None
    version: Text | None = None

    @model_validator(mode="after")
    def _id_or_natural_key(self) -> Self:
        natural = (self.namespace, self.name, self.version)
        if self.id is None and any(part is None for part in natural):
            raise ValueError("give either `id` or all of `namespace`, `name` and `version`")
        if self.id is not None and any(part is not None for part in natural):
            raise ValueError("give either `id` or the natural key, not both")
        return self

    def label(self) -> str:
        if self.id is not None:
            return str(self.id)
        return f"{self.namespace}/{self.name}@{self.version}"


class OriginIn(Strict):
    """Where data that enters from outside comes from; omitted fractions are 0, and an
    omitted `unknown` takes what the others leave."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    human: Fraction | None = None
    synthetic: Fraction | None = None
    unknown: Fraction | None = None
    synthetic_depth: Annotated[int, Field(ge=1, le=10_000)] | None = None
    digital_source_type: str | None = Field(default=None, alias="digitalSourceType", max_length=512)


# a dataset version's declared origin, read from its origin_* columns
class OriginRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    human: float = Field(validation_alias="origin_human")
    synthetic: float = Field(validation_alias="origin_synthetic")
    unknown: float = Field(validation_alias="origin_unknown")
    synthetic_depth: Annotated[int, BeforeValidator(lambda depth: depth or 1)] = Field(
        validation_alias="origin_synthetic_depth"
    )
    digitalSourceType: str | None = Field(
        default=None, validation_alias="origin_digital_source_type"
    )
    declared_by: str | None = Field(
        default=None,
        validation_alias="origin_declared_by",
        description="The token that declared or last corrected it.",
    )
    declared_at: datetime | None = Field(default=None, validation_alias="origin_declared_at")


class ParentIn(ArtifactRef):
    relation: Literal["derived_from", "generated_by", "used"]
    amount: Amount | None = None
    kind: Kind | None = Field(
        default=None,
        description="Needed only for `used` parents named by natural key (default dataset).",
    )


class DatasetCreate(NaturalKey):
    size: Amount | None = None
    uri: Text | None = None
    checksum: Annotated[str, Field(max_length=512)] | None = None
    archive_uri: Text | None = Field(
        default=None,
        description="Where a preserved copy of this source's data is (human data with a `uri`"
        " only); `headwater sources verify` tries it when the original is gone. Kept with the"
        " source's state, not the version: PUT /api/v1/sources/{id}/archive changes it.",
    )
    description: Annotated[str, Field(max_length=10_000)] | None = None
    origin: OriginIn | None = None
    parents: Annotated[list[ParentIn], Field(max_length=10_000)] = []


# A member of a model's training set, as the model's registration names it. The class keeps
# its name: it is the OpenAPI component's name.
class TrainingSetItem(ArtifactRef):
    amount: Amount | None = None


class BaseModelRef(ArtifactRef):
    amount: Amount | None = None


class ModelCreate(NaturalKey):
    description: Annotated[str, Field(max_length=10_000)] | None = None
    training_set: Annotated[
        list[TrainingSetItem],
        Field(
            max_length=100_000,
            description="What the model was trained on; recording it records the training run."
            " Omit it for a model whose training data is not known (its origin is then"
            " unknown); an empty list is refused.",
        ),
    ] = []
    base_model: BaseModelRef | None = None

    @field_validator("training_set")
    @classmethod
    def _trained_on_something(cls, value: list[TrainingSetItem]) -> list[TrainingSetItem]:
        # runs only when training_set is given: an empty one trains nothing and would record
        # a model without its training run
        if not value:
            raise ValueError(
                "an empty training_set trains nothing: list the datasets the model was trained"
                " on, or omit training_set for a model whose training data is not known"
            )
        return value


class RetractionRef(BaseModel):
    """On a retracted version: which retraction took it out of the live graph, and why."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    reason: str
    retracted_by: str | None
    created_at: datetime


class ArtifactRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: Kind
    namespace: str
    name: str
    version: str
    created_at: datetime
    description: str | None = None
    composition: CompositionRead
    retraction: RetractionRef | None = Field(
        default=None,
        description="Set when the version was retracted: it stays readable, but nothing derives"
        " from it and it is never the newest version.",
    )


class DatasetRead(ArtifactRead):
    size: float | None
    uri: str | None
    checksum: str | None
    origin: OriginRead | None
    facets: dict[str, Any] = {}


class ModelRead(ArtifactRead):
    training_run_id: uuid.UUID | None = None


class OriginUpdate(OriginIn):
    reason: Annotated[str, Field(max_length=2000)] | None = None
