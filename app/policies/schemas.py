"""Bodies for policies, findings and the gate."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.artifacts.schemas import Amount, Strict, Text
from app.composition.schemas import CompositionRead
from app.policies.rules import PolicyDefinition, PolicyRules

Verdict = Literal["pass", "warn", "fail"]
PolicyName = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.\-]+$")]


class PolicyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    version: int
    description: str
    rules: PolicyRules
    created_at: datetime

    @field_validator("description", mode="before")
    @classmethod
    def _no_description(cls, value: str | None) -> str:
        return value or ""


class PolicyPut(PolicyDefinition):
    pass


class PolicyRef(BaseModel):
    name: str
    version: int


class FindingRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    rule: str
    status: Literal["pass", "warn", "fail", "not_applicable"] = Field(
        description="`not_applicable`: the rule has nothing to judge (no previous generation;"
        " no original source checked)."
    )
    observed: float | None
    threshold: dict[str, float]
    message: str
    reference: str


class Source(BaseModel):
    id: uuid.UUID
    namespace: str
    name: str
    version: str
    size: float


class RuleNeed(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    rule: str
    status: Verdict
    amount: float | None
    ratio: float | None
    message: str


class RemediationRead(BaseModel):
    target: Literal["pass", "warn"]
    additional_human_amount: float | None = Field(
        description="The least human-made amount that brings every fixable rule to the target."
    )
    additional_human_ratio: float | None
    rules: list[RuleNeed]
    not_fixable: list[RuleNeed]
    message: str
    sources: list[Source] = Field(
        description="Human-origin dataset versions recorded here that could supply it, largest"
        " first, enough to cover the amount when the graph has that much."
    )


class PreviousGenerationRead(BaseModel):
    id: uuid.UUID
    namespace: str
    name: str
    version: str
    human_amount: float | None
    added_human_amount: float | None
    added_synthetic_amount: float | None
    carried_over: list[uuid.UUID] = Field(
        default=[],
        description="Training-set members the previous generation also trained on (or derived"
        " its training data from); the rest counts as added.",
    )


# A member of the gate's proposed training set, as the request names it. The class keeps its
# name: pydantic names the OpenAPI component after the class (a title changes only the title).
class GateItem(Strict):
    namespace: Text
    name: Text
    version: Text | None = Field(default=None, description="Omit for the newest version.")
    amount: Amount | None = Field(default=None, description="Omit for the dataset's size.")


class GateModel(Strict):
    namespace: Text
    name: Text


class GateRequest(Strict):
    training_set: Annotated[list[GateItem], Field(min_length=1, max_length=100_000)]
    model: GateModel | None = None
    policy: PolicyName = "default"


# A training set's member as answers show it (the gate's, a training run's). The class keeps its
# name: it is the OpenAPI component's name.
class SetMember(BaseModel):
    id: uuid.UUID
    namespace: str
    name: str
    version: str
    amount: float | None


class GateResponse(BaseModel):
    verdict: Verdict
    policy: PolicyRef
    composition: CompositionRead
    findings: list[FindingRead]
    remediation: RemediationRead | None
    previous_generation: PreviousGenerationRead | None
    training_set: list[SetMember]
