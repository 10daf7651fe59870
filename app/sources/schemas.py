"""Bodies for original human sources and the results of checking them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from app.artifacts.schemas import Strict, Text
from app.policies.schemas import Verdict
from app.sources.models import Copy, SourceStatus
from app.training.schemas import ModelKey


class DependentRun(BaseModel):
    id: uuid.UUID
    model: ModelKey
    verdict: Verdict | None


class SourceRead(BaseModel):
    id: uuid.UUID = Field(description="The dataset version's id.")
    namespace: str
    name: str
    version: str
    uri: str
    checksum: str | None = Field(description="What the data must still match: `sha256:<hex>`.")
    archive_uri: str | None = Field(
        description="A preserved copy, tried when the original is gone."
    )
    size: float | None
    human: float = Field(description="The human share of its declared origin.")
    status: SourceStatus
    reason: str | None = Field(description="Why it is not verified, or which copy answered.")
    answered_by: Copy | None = Field(
        description="Which copy was found: the original or the archive."
    )
    observed_checksum: str | None
    checked_at: datetime | None
    verified_at: datetime | None
    training_runs: list[DependentRun] = Field(
        description="Training runs whose training data its human data reaches, newest first"
        " (at most 100)."
    )


class CheckIn(Strict):
    """One result of ``headwater sources verify``."""

    id: uuid.UUID
    status: SourceStatus
    reason: Annotated[str, Field(max_length=2000)] | None = None
    answered_by: Copy | None = Field(
        default=None, description="Which copy answered; a verified source defaults to original."
    )
    observed_checksum: Annotated[str, Field(max_length=512)] | None = None


class ChecksReport(Strict):
    checks: Annotated[list[CheckIn], Field(min_length=1, max_length=10_000)]


class ChecksRecorded(BaseModel):
    items: list[SourceRead]
    changed: int = Field(description="How many sources' status changed.")
    rejudged_models: int = Field(
        description="Model versions downstream of a changed source whose training run was"
        " re-judged."
    )


class ArchivePut(Strict):
    archive_uri: Text | None = Field(
        description="Where a preserved copy of the source's data is (any URI the verifying"
        " machine can read, e.g. a content-addressed object); null forgets it."
    )
