"""A policy's rules as data: one pydantic model per rule, each rule's thresholds and the
evidence behind them, and the default policy the service is seeded with."""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files
from typing import Annotated, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_POLICY_NAME = "default"

Fraction = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
Reference = Annotated[
    str,
    Field(
        max_length=2000,
        description="The evidence behind this rule's thresholds, quoted in every finding.",
    ),
]

_RULE_CONFIG = ConfigDict(extra="forbid", frozen=True)


class ReplaceRule(BaseModel):
    """Self-consuming lineage: the human amount must be kept from the previous generation."""

    model_config = _RULE_CONFIG

    warn_below_ratio: Annotated[
        float,
        Field(
            gt=0.0,
            le=1.0,
            allow_inf_nan=False,
            description=(
                "Warn when the human amount falls below this share of the previous "
                "generation's (1.0: any fall warns). It fails when no human data is left."
            ),
        ),
    ] = 1.0
    reference: Reference = ""


class FreshRealRule(BaseModel):
    """Self-consuming lineage: new human data must keep pace with new synthetic data."""

    model_config = _RULE_CONFIG

    min_ratio: Annotated[
        NonNegative,
        Field(
            description=(
                "Pass when the human amount added since the previous generation is at least "
                "this multiple of the synthetic amount added; warn otherwise."
            )
        ),
    ] = 1.0
    reference: Reference = ""


class FloorRule(BaseModel):
    """A value that passes at ``pass_at_least`` or more and, with ``fail_below``, fails under it.
    Each rule declares the two thresholds again with its own bounds and descriptions."""

    model_config = _RULE_CONFIG
    noun: ClassVar[str] = "value"
    """What the thresholds bound, as the ordering error names it."""

    pass_at_least: float
    fail_below: float | None = None
    reference: Reference = ""

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> Self:
        if self.fail_below is not None and self.fail_below > self.pass_at_least:
            raise ValueError(
                f"fail_below ({self.fail_below:g}) must be at most pass_at_least "
                f"({self.pass_at_least:g}): a {self.noun} cannot fail while it passes"
            )
        return self


class CeilingRule(BaseModel):
    """A value that passes at ``pass_at_most`` or less and, with ``fail_above``, fails over it.
    Each rule declares the two thresholds again with its own bounds and descriptions."""

    model_config = _RULE_CONFIG

    pass_at_most: float
    fail_above: float | None = None
    reference: Reference = ""

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> Self:
        if self.fail_above is not None and self.fail_above < self.pass_at_most:
            raise ValueError(
                f"fail_above ({self.fail_above:g}) must be at least pass_at_most "
                f"({self.pass_at_most:g}): a value cannot fail while it passes"
            )
        return self


class HumanFractionRule(FloorRule):
    noun: ClassVar[str] = "human share"

    pass_at_least: Annotated[Fraction, Field(description="Pass at this human share or more.")]
    fail_below: Annotated[
        Fraction | None, Field(description="Fail below this human share; absent: never fail.")
    ] = None


class DepthLoadRule(CeilingRule):
    pass_at_most: Annotated[NonNegative, Field(description="Pass at this depth load or less.")]
    fail_above: Annotated[
        NonNegative | None, Field(description="Fail above this depth load; absent: never fail.")
    ] = None


class DeepTailRule(CeilingRule):
    min_depth: Annotated[
        int,
        Field(
            ge=1,
            le=10_000,  # as deep as a declared origin may be; past it no data sits
            description="Mass at this many model generations or more is the deep tail.",
        ),
    ] = 3
    pass_at_most: Annotated[Fraction, Field(description="Pass at this deep-tail share or less.")]
    fail_above: Annotated[
        Fraction | None, Field(description="Fail above this deep-tail share; absent: never fail.")
    ] = None


class UnknownFractionRule(CeilingRule):
    pass_at_most: Annotated[Fraction, Field(description="Pass at this unknown share or less.")]
    fail_above: Annotated[
        Fraction | None, Field(description="Fail above this unknown share; absent: never fail.")
    ] = None


class SourcesPreservedRule(FloorRule):
    """Of the human mass whose original sources were checked, the share still verified."""

    noun: ClassVar[str] = "verified share"

    pass_at_least: Annotated[
        Fraction, Field(description="Pass at this verified share of checked human data or more.")
    ]
    fail_below: Annotated[
        Fraction | None,
        Field(description="Fail below this verified share; absent: never fail."),
    ] = None


class PolicyRules(BaseModel):
    """A policy's rule set; a rule left out (or null) is switched off."""

    model_config = _RULE_CONFIG

    replace: ReplaceRule | None = None
    fresh_real: FreshRealRule | None = None
    human_fraction: HumanFractionRule | None = None
    depth_load: DepthLoadRule | None = None
    deep_tail: DeepTailRule | None = None
    unknown_fraction: UnknownFractionRule | None = None
    sources_preserved: SourcesPreservedRule | None = None


class PolicyDefinition(BaseModel):
    """What a user writes to define a policy: a description and its rules."""

    model_config = _RULE_CONFIG

    description: Annotated[str, Field(max_length=4000)] = ""
    rules: PolicyRules


@lru_cache(maxsize=1)
def default_policy() -> PolicyDefinition:
    text = files("app.policies").joinpath("default_policy.json").read_text("utf-8")
    return PolicyDefinition.model_validate_json(text)


def default_policy_rules() -> PolicyRules:
    return default_policy().rules
