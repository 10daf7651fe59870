"""Bodies for training runs and their verdict history."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from app.composition.schemas import CompositionRead
from app.policies.schemas import (
    FindingRead,
    PolicyRef,
    PreviousGenerationRead,
    RemediationRead,
    SetMember,
    Verdict,
)


class ModelKey(BaseModel):
    id: uuid.UUID
    namespace: str
    name: str
    version: str


class VerdictRead(BaseModel):
    verdict: Verdict
    policy: PolicyRef
    judged_at: datetime
    cause: str
    composition: dict[str, Any]
    findings: list[FindingRead]


class TrainingRunRead(BaseModel):
    id: uuid.UUID
    model: ModelKey
    created_at: datetime
    judged_at: datetime
    training_set: list[SetMember]
    composition: CompositionRead
    verdict: Verdict | None
    rejudging: bool = Field(
        default=False,
        description="The lineage changed and the run waits to be judged again: the verdict"
        " shown is the one before the change.",
    )
    policy: PolicyRef
    findings: list[FindingRead]
    remediation: RemediationRead | None
    previous_generation: PreviousGenerationRead | None
    history: list[VerdictRead]


class TrainingRunSummary(BaseModel):
    id: uuid.UUID
    model: ModelKey
    created_at: datetime
    judged_at: datetime
    verdict: Verdict | None
    rejudging: bool = False
    policy: PolicyRef
    composition: CompositionRead
