"""Collapse-risk rules: a policy's thresholds as data, their evaluation, and remediation.

Everything here is a pure function of plain numbers (``SetFigures`` for a training set,
``PreviousGeneration`` for a self-consuming lineage), so the gate, the training-run recorder
and the tests all share one definition of every rule, independent of the database and of the
composition engine that produces the numbers.

Amounts are in the training set's own unit (rows, tokens, documents). When a training set's
amounts are unknown (``total_amount is None``, the composition assumed its weights), rules
that need absolute amounts degrade as follows:

- ``replace`` compares the human *shares* of the two training sets instead (it needs
  ``PreviousGeneration.human_fraction``) and says so; with neither amounts nor shares it warns
  that it cannot tell.
- ``fresh_real`` compares the added amounts as given, since only their ratio matters; when
  they are unknown it warns that it cannot tell.
- ``remediation`` states the remedy relative to the current set's size
  (``additional_human_ratio``) and leaves ``additional_human_amount`` as ``None``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import replace as dataclass_replace
from decimal import ROUND_CEILING, Context, Decimal, localcontext
from functools import lru_cache
from importlib.resources import files
from typing import Annotated, Literal, Self, cast

from pydantic import BaseModel, ConfigDict, Field, model_validator

Status = Literal["pass", "warn", "fail"]
# A finding's outcome: a rule that needs a previous generation has nothing to judge without one
# (design section 4); it weighs like a pass in the verdict.
Outcome = Literal["pass", "warn", "fail", "not_applicable"]
Target = Literal["pass", "warn"]

DEFAULT_POLICY_NAME = "default"
RULE_NAMES: tuple[str, ...] = (
    "replace",
    "fresh_real",
    "human_fraction",
    "depth_load",
    "deep_tail",
    "unknown_fraction",
    "sources_preserved",
)

# Amounts compared with each other (replace, fresh_real) are products of fractions the
# composition engine guarantees only to 1e-9, and equality is their expected case: an
# accumulating lineage carries exactly the previous generation's human data forward. Rounding
# must not turn that into a warning, nor a leftover 1e-17 into "some human data". Thresholds
# a policy writes down (0.67, 0.25, ...) are compared exactly, as the table states them.
AMOUNT_RTOL = 1e-9

_RANK: dict[str, int] = {"not_applicable": 0, "pass": 0, "warn": 1, "fail": 2}
_STATUSES: tuple[Status, ...] = ("pass", "warn", "fail")

_NO_PREVIOUS = (
    "No earlier version of this model is among the training data's ancestors, so the lineage "
    "is not self-consuming"
)


# --- the policy as data ------------------------------------------------------------------------

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


def _ordered(lower: float, lower_name: str, upper: float | None, upper_name: str) -> None:
    if upper is not None and upper < lower:
        raise ValueError(
            f"{upper_name} ({upper:g}) must be at least {lower_name} ({lower:g}): a value "
            f"cannot fail while it passes"
        )


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


class HumanFractionRule(BaseModel):
    model_config = _RULE_CONFIG

    pass_at_least: Annotated[Fraction, Field(description="Pass at this human share or more.")]
    fail_below: Annotated[
        Fraction | None, Field(description="Fail below this human share; absent: never fail.")
    ] = None
    reference: Reference = ""

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> Self:
        if self.fail_below is not None and self.fail_below > self.pass_at_least:
            raise ValueError(
                f"fail_below ({self.fail_below:g}) must be at most pass_at_least "
                f"({self.pass_at_least:g}): a human share cannot fail while it passes"
            )
        return self


class DepthLoadRule(BaseModel):
    model_config = _RULE_CONFIG

    pass_at_most: Annotated[NonNegative, Field(description="Pass at this depth load or less.")]
    fail_above: Annotated[
        NonNegative | None, Field(description="Fail above this depth load; absent: never fail.")
    ] = None
    reference: Reference = ""

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> Self:
        _ordered(self.pass_at_most, "pass_at_most", self.fail_above, "fail_above")
        return self


class DeepTailRule(BaseModel):
    model_config = _RULE_CONFIG

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
    reference: Reference = ""

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> Self:
        _ordered(self.pass_at_most, "pass_at_most", self.fail_above, "fail_above")
        return self


class UnknownFractionRule(BaseModel):
    model_config = _RULE_CONFIG

    pass_at_most: Annotated[Fraction, Field(description="Pass at this unknown share or less.")]
    fail_above: Annotated[
        Fraction | None, Field(description="Fail above this unknown share; absent: never fail.")
    ] = None
    reference: Reference = ""

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> Self:
        _ordered(self.pass_at_most, "pass_at_most", self.fail_above, "fail_above")
        return self


class SourcesPreservedRule(BaseModel):
    """Of the human mass whose original sources were checked, the share still verified."""

    model_config = _RULE_CONFIG

    pass_at_least: Annotated[
        Fraction, Field(description="Pass at this verified share of checked human data or more.")
    ]
    fail_below: Annotated[
        Fraction | None,
        Field(description="Fail below this verified share; absent: never fail."),
    ] = None
    reference: Reference = ""

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> Self:
        if self.fail_below is not None and self.fail_below > self.pass_at_least:
            raise ValueError(
                f"fail_below ({self.fail_below:g}) must be at most pass_at_least "
                f"({self.pass_at_least:g}): a verified share cannot fail while it passes"
            )
        return self


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
    text = files(__package__ or "app.policies").joinpath("default_policy.json").read_text("utf-8")
    return PolicyDefinition.model_validate_json(text)


def default_policy_rules() -> PolicyRules:
    return default_policy().rules


# --- the numbers rules read --------------------------------------------------------------------


def _check_amount(name: str, value: float | None) -> None:
    if value is not None and not (math.isfinite(value) and value >= 0.0):
        raise ValueError(f"{name} must be a finite non-negative number, not {value!r}")


@dataclass(frozen=True, slots=True)
class SetFigures:
    """A training set's composition summary (design section 2)."""

    human_fraction: float
    synthetic_fraction: float
    unknown_fraction: float
    depth_load: float
    depth_histogram: Mapping[int, float]
    """Depth to fraction, as the composition object's ``depth_histogram`` (depth 0 optional)."""
    total_amount: float | None
    """``None`` when the amounts are unknown and the composition assumed its weights."""
    checked_human_fraction: float = 0.0
    """The share of the set that is human-made data whose original source was checked (found
    verified, changed or lost) by ``headwater sources verify``."""
    verified_human_fraction: float = 0.0
    """The part of ``checked_human_fraction`` whose source was last found verified."""

    def __post_init__(self) -> None:
        _check_amount("human_fraction", self.human_fraction)
        _check_amount("synthetic_fraction", self.synthetic_fraction)
        _check_amount("unknown_fraction", self.unknown_fraction)
        _check_amount("depth_load", self.depth_load)
        _check_amount("total_amount", self.total_amount)
        _check_amount("checked_human_fraction", self.checked_human_fraction)
        _check_amount("verified_human_fraction", self.verified_human_fraction)
        for depth, mass in self.depth_histogram.items():
            _check_amount(f"depth_histogram[{depth}]", mass)

    def tail_mass(self, min_depth: int) -> float:
        return math.fsum(m for d, m in self.depth_histogram.items() if d >= min_depth)


@dataclass(frozen=True, slots=True)
class PreviousGeneration:
    """The nearest earlier version of the same model in the training data's ancestry.

    Amounts are absolute, in the training set's unit; ``None`` where they are unknown.
    """

    model_version_id: str
    version: str
    human_amount: float | None
    """Human amount in the previous generation's training set (fraction x total)."""
    added_human_amount: float | None
    """Human amount in the current set that was not carried over from the previous generation."""
    added_synthetic_amount: float | None
    """Synthetic amount in the current set that was not carried over, likewise."""
    human_fraction: float | None = None
    """The previous training set's human share: ``replace`` falls back on it without amounts."""

    def __post_init__(self) -> None:
        _check_amount("human_amount", self.human_amount)
        _check_amount("added_human_amount", self.added_human_amount)
        _check_amount("added_synthetic_amount", self.added_synthetic_amount)
        _check_amount("human_fraction", self.human_fraction)


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    status: Outcome
    observed: float | None
    threshold: dict[str, float]
    message: str
    reference: str


def _known_total(figures: SetFigures) -> float | None:
    total = figures.total_amount
    return total if total is not None and total > 0.0 else None


def with_added_human(
    figures: SetFigures, previous: PreviousGeneration | None, amount: float
) -> tuple[SetFigures, PreviousGeneration | None]:
    """The figures after ``amount`` of new human-made (depth 0) data joins the training set.

    With unknown amounts the set weighs 1, so ``amount`` is relative to the current set.
    The added data is fresh, so it also counts as human data added since the previous
    generation; its source has not been checked yet.
    """
    _check_amount("amount", amount)
    total = _known_total(figures)
    size = 1.0 if total is None else total
    grown = size + amount
    keep = size / grown
    human = (figures.human_fraction * size + amount) / grown
    histogram = {d: m * keep for d, m in figures.depth_histogram.items() if d != 0}
    if human > 0.0:
        histogram[0] = human
    after = SetFigures(
        human_fraction=human,
        synthetic_fraction=figures.synthetic_fraction * keep,
        unknown_fraction=figures.unknown_fraction * keep,
        depth_load=figures.depth_load * keep,
        depth_histogram=histogram,
        total_amount=figures.total_amount if total is None else grown,
        checked_human_fraction=figures.checked_human_fraction * keep,
        verified_human_fraction=figures.verified_human_fraction * keep,
    )
    if previous is None or previous.added_human_amount is None:
        return after, previous
    return after, dataclass_replace(
        previous, added_human_amount=previous.added_human_amount + amount
    )


# --- wording -----------------------------------------------------------------------------------


def _distinct(render: Callable[[float, int], str], value: float, against: Sequence[float]) -> str:
    """``value`` rendered with just enough digits not to read as equal to a threshold it differs
    from, so that "67.0 %" never appears beside "passes at 67 %" while warning."""
    for digits in range(0, 12):
        text = render(value, digits)
        if all(other == value or render(other, digits) != text for other in against):
            return text
    return text


def _pct(value: float, *against: float) -> str:
    return _distinct(lambda v, d: f"{v * 100:.{d + 1}f}", value, against) + " %"


def _pct_limit(value: float) -> str:
    return f"{value * 100:.6g} %"


def _sig(value: float, extra: int) -> int:
    whole = math.floor(math.log10(abs(value))) + 1 if value else 1
    return max(4, min(whole, 15)) + extra


def _amount(value: float, *against: float) -> str:
    return _distinct(lambda v, d: f"{v:,.{_sig(v, d)}g}", value, against)


# Rounding up must not turn 2600.0000000000005, arithmetic noise, into "2,601".
_DISPLAY_SLACK = Decimal("1e-6")


def _ceiling(value: float, exponent: int) -> float:
    """``value`` rounded up to a multiple of 10**exponent; in Decimal so that no float, however
    small or large, overflows or divides by zero on the way."""
    with localcontext(Context(prec=800)):
        step = Decimal(1).scaleb(exponent)
        rounded = (Decimal(value) - step * _DISPLAY_SLACK).quantize(step, rounding=ROUND_CEILING)
        return float(rounded)


def _leading(value: float) -> int:
    """The exponent of ``value``'s leading digit."""
    return Decimal(value).adjusted()


def _amount_up(value: float) -> str:
    """Rounded up, so that adding the amount as read is never short of the need."""
    if value <= 0.0:
        return "0"
    digits = _sig(value, 0)
    return f"{_ceiling(value, _leading(value) + 1 - digits):,.{digits}g}"


def _pct_up(value: float) -> str:
    percent = value * 100
    if percent <= 0.0:
        return "0 %"
    if percent >= 1.0:
        return f"{_ceiling(percent, -1):,.1f} %"
    return f"{_ceiling(percent, _leading(percent) - 1):.2g} %"


def _number_limit(value: float) -> str:
    return f"{value:.6g}"


def _number(value: float, *against: float) -> str:
    return _distinct(lambda v, d: f"{v:.{d + 2}f}", value, against)


def _times(ratio: float) -> str:
    return "as much as" if ratio == 1.0 else f"{ratio:g} times"


def _names(rules: Sequence[RuleRemediation]) -> str:
    names = [item.rule for item in rules]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _cited(reference: str) -> str:
    return f" ({reference})" if reference else ""


def _failing_clause(fail: float | None, render: Callable[[float], str], word: str) -> str:
    return "" if fail is None else f" and fails {word} {render(fail)}"


# --- evaluation --------------------------------------------------------------------------------


def _at_least(value: float, passing: float, failing: float | None) -> Status:
    if value >= passing:
        return "pass"
    return "fail" if failing is not None and value < failing else "warn"


def _at_most(value: float, passing: float, failing: float | None) -> Status:
    if value <= passing:
        return "pass"
    return "fail" if failing is not None and value > failing else "warn"


def _limits(**values: float | None) -> dict[str, float]:
    return {k: v for k, v in values.items() if v is not None}


def _human_fraction(rule: HumanFractionRule, figures: SetFigures) -> Finding:
    share = figures.human_fraction
    status = _at_least(share, rule.pass_at_least, rule.fail_below)
    limits = [rule.pass_at_least] + ([] if rule.fail_below is None else [rule.fail_below])
    observed = _pct(share, *limits)
    passes = f"passes at {_pct_limit(rule.pass_at_least)} or more"
    if status == "fail":
        assert rule.fail_below is not None
        message = (
            f"Only {observed} of the training set is human-made, below this policy's floor of "
            f"{_pct_limit(rule.fail_below)}; it {passes}"
        )
    elif status == "warn":
        message = (
            f"{observed} of the training set is human-made; this policy {passes}"
            f"{_failing_clause(rule.fail_below, _pct_limit, 'below')}"
        )
    else:
        message = f"{observed} of the training set is human-made; this policy {passes}"
    return Finding(
        rule="human_fraction",
        status=status,
        observed=share,
        threshold=_limits(pass_at_least=rule.pass_at_least, fail_below=rule.fail_below),
        message=f"{message}{_cited(rule.reference)}.",
        reference=rule.reference,
    )


def _depth_load(rule: DepthLoadRule, figures: SetFigures) -> Finding:
    load = figures.depth_load
    status = _at_most(load, rule.pass_at_most, rule.fail_above)
    limits = [rule.pass_at_most] + ([] if rule.fail_above is None else [rule.fail_above])
    clause = "" if status == "pass" else _failing_clause(rule.fail_above, _number_limit, "above")
    message = (
        f"The training set's depth load (its synthetic share weighted by the number of model "
        f"generations behind it) is {_number(load, *limits)}; this policy passes at "
        f"{_number_limit(rule.pass_at_most)} or less{clause}"
    )
    return Finding(
        rule="depth_load",
        status=status,
        observed=load,
        threshold=_limits(pass_at_most=rule.pass_at_most, fail_above=rule.fail_above),
        message=f"{message}{_cited(rule.reference)}.",
        reference=rule.reference,
    )


def _deep_tail(rule: DeepTailRule, figures: SetFigures) -> Finding:
    mass = figures.tail_mass(rule.min_depth)
    status = _at_most(mass, rule.pass_at_most, rule.fail_above)
    limits = [rule.pass_at_most] + ([] if rule.fail_above is None else [rule.fail_above])
    clause = "" if status == "pass" else _failing_clause(rule.fail_above, _pct_limit, "above")
    generations = "generation" if rule.min_depth == 1 else "generations"
    message = (
        f"{_pct(mass, *limits)} of the training set has passed through {rule.min_depth} or more "
        f"model {generations}; this policy passes at {_pct_limit(rule.pass_at_most)} or "
        f"less{clause}"
    )
    return Finding(
        rule="deep_tail",
        status=status,
        observed=mass,
        threshold=_limits(
            min_depth=rule.min_depth, pass_at_most=rule.pass_at_most, fail_above=rule.fail_above
        ),
        message=f"{message}{_cited(rule.reference)}.",
        reference=rule.reference,
    )


def _unknown_fraction(rule: UnknownFractionRule, figures: SetFigures) -> Finding:
    share = figures.unknown_fraction
    status = _at_most(share, rule.pass_at_most, rule.fail_above)
    limits = [rule.pass_at_most] + ([] if rule.fail_above is None else [rule.fail_above])
    clause = "" if status == "pass" else _failing_clause(rule.fail_above, _pct_limit, "above")
    message = (
        f"{_pct(share, *limits)} of the training set has unknown origin; this policy passes at "
        f"{_pct_limit(rule.pass_at_most)} or less{clause}{_cited(rule.reference)}."
    )
    if status != "pass":
        message += (
            " Declaring the origin of the source datasets (the headwater_origin facet) would "
            "resolve it."
        )
    return Finding(
        rule="unknown_fraction",
        status=status,
        observed=share,
        threshold=_limits(pass_at_most=rule.pass_at_most, fail_above=rule.fail_above),
        message=message,
        reference=rule.reference,
    )


def _sources_preserved(rule: SourcesPreservedRule, figures: SetFigures) -> Finding:
    checked = figures.checked_human_fraction
    threshold = _limits(pass_at_least=rule.pass_at_least, fail_below=rule.fail_below)
    cite = _cited(rule.reference)
    if checked <= 0.0:
        return Finding(
            rule="sources_preserved",
            status="not_applicable",
            observed=None,
            threshold=threshold,
            message=(
                "No original source of the training set's human-made data has been checked "
                "yet; `headwater sources verify` checks them"
            )
            + f"{cite}.",
            reference=rule.reference,
        )
    share = min(1.0, figures.verified_human_fraction / checked)
    status = _at_least(share, rule.pass_at_least, rule.fail_below)
    limits = [rule.pass_at_least] + ([] if rule.fail_below is None else [rule.fail_below])
    message = (
        f"{_pct(share, *limits)} of the training set's human-made data whose original sources "
        f"were checked can still be verified; this policy passes at "
        f"{_pct_limit(rule.pass_at_least)} or more"
        f"{'' if status == 'pass' else _failing_clause(rule.fail_below, _pct_limit, 'below')}"
        f"{cite}."
    )
    if status != "pass":
        message += (
            " Sources found lost or changed can no longer be accumulated into the next "
            "generation: restore them, or name a preserved copy (archive_uri) and verify again."
        )
    return Finding(
        rule="sources_preserved",
        status=status,
        observed=share,
        threshold=threshold,
        message=message,
        reference=rule.reference,
    )


def _kept(current: float, previous: float, ratio: float) -> Status:
    """Shared by amounts and shares: fail at nothing left, warn at a fall beyond the ratio."""
    if previous <= 0.0:
        return "pass"
    if current < AMOUNT_RTOL * previous:
        return "fail"
    return "pass" if current >= ratio * previous * (1.0 - AMOUNT_RTOL) else "warn"


def _replace(
    rule: ReplaceRule, figures: SetFigures, previous: PreviousGeneration | None
) -> Finding:
    ratio = rule.warn_below_ratio
    cite = _cited(rule.reference)
    if previous is None:
        return Finding(
            rule="replace",
            status="not_applicable",
            observed=None,
            threshold={"warn_below_ratio": ratio},
            message=f"{_NO_PREVIOUS}: no previous generation's human data can be replaced.",
            reference=rule.reference,
        )
    generation = f"the previous generation (version {previous.version})"
    total = _known_total(figures)
    kept = f"this policy passes when at least {_pct_limit(ratio)} of it is kept"
    if total is not None and previous.human_amount is not None:
        before = previous.human_amount
        now = figures.human_fraction * total
        status = _kept(now, before, ratio)
        threshold = {
            "warn_below_ratio": ratio,
            "previous_human_amount": before,
            "pass_at_least": ratio * before,
        }
        if before <= 0.0:
            message = (
                f"{generation.capitalize()} trained on no human-made data, so none was replaced."
            )
        elif status == "fail":
            message = (
                f"The training set has no human-made data left, while {generation} trained on "
                f"{_amount(before)}; replacing real data with synthetic data drives model "
                f"collapse{cite}."
            )
        elif status == "warn":
            message = (
                f"The human-made amount fell from {_amount(before)} in {generation} to "
                f"{_amount(now, before)} ({_pct(now / before, ratio)} of it); {kept}{cite}."
            )
        else:
            message = (
                f"The training set has {_amount(now, before)} of human-made data against "
                f"{_amount(before)} in {generation}; {kept}{cite}."
            )
        return Finding("replace", status, now, threshold, message, rule.reference)
    if previous.human_fraction is not None:
        before = previous.human_fraction
        now = figures.human_fraction
        status = _kept(now, before, ratio)
        threshold = {
            "warn_below_ratio": ratio,
            "previous_human_fraction": before,
            "pass_at_least": ratio * before,
        }
        shares = (
            f"The amounts are unknown, so human shares are compared instead: "
            f"{_pct(now, before)} of the training set is human-made against {_pct(before)} "
            f"in {generation}"
        )
        if before <= 0.0:
            message = f"{shares}; nothing human-made could be replaced."
        elif status == "fail":
            message = (
                f"{shares}; replacing real data with synthetic data drives model collapse{cite}."
            )
        else:
            message = f"{shares}; {kept}{cite}."
        return Finding("replace", status, now, threshold, message, rule.reference)
    return Finding(
        rule="replace",
        status="warn",
        observed=None,
        threshold={"warn_below_ratio": ratio},
        message=(
            f"Whether human-made data was replaced since {generation} cannot be told: the "
            f"training sets' amounts are unknown. Recording dataset sizes or edge amounts would "
            f"let this rule check it{cite}."
        ),
        reference=rule.reference,
    )


def _fresh_real(
    rule: FreshRealRule, figures: SetFigures, previous: PreviousGeneration | None
) -> Finding:
    ratio = rule.min_ratio
    cite = _cited(rule.reference)
    if previous is None:
        return Finding(
            rule="fresh_real",
            status="not_applicable",
            observed=None,
            threshold={"min_ratio": ratio},
            message=f"{_NO_PREVIOUS}: there is no generation to add fresh data to.",
            reference=rule.reference,
        )
    since = f"Since the previous generation (version {previous.version})"
    added_human, added_synthetic = previous.added_human_amount, previous.added_synthetic_amount
    if added_human is None or added_synthetic is None:
        return Finding(
            rule="fresh_real",
            status="warn",
            observed=None,
            threshold={"min_ratio": ratio},
            message=(
                f"{since}, how much human-made and synthetic data was added cannot be told: the "
                f"amounts are unknown. Recording dataset sizes or edge amounts would let this "
                f"rule check it{cite}."
            ),
            reference=rule.reference,
        )
    needed = ratio * added_synthetic
    status: Status = "pass" if added_human >= needed * (1.0 - AMOUNT_RTOL) else "warn"
    weights = (
        " (relative weights: the training set's amounts are unknown)"
        if _known_total(figures) is None
        else ""
    )
    only = "only " if status == "warn" else ""
    message = (
        f"{since}, {only}{_amount(added_human, needed)} of human-made data was added against "
        f"{_amount(added_synthetic)} of synthetic data{weights}; this policy passes when the new "
        f"human data is at least {_times(ratio)} the new synthetic data{cite}."
    )
    return Finding(
        rule="fresh_real",
        status=status,
        observed=added_human,
        threshold={
            "min_ratio": ratio,
            "added_synthetic_amount": added_synthetic,
            "pass_at_least": needed,
        },
        message=message,
        reference=rule.reference,
    )


def _findings(
    rules: PolicyRules, figures: SetFigures, previous: PreviousGeneration | None
) -> dict[str, Finding]:
    found: dict[str, Finding] = {}
    if rules.replace is not None:
        found["replace"] = _replace(rules.replace, figures, previous)
    if rules.fresh_real is not None:
        found["fresh_real"] = _fresh_real(rules.fresh_real, figures, previous)
    if rules.human_fraction is not None:
        found["human_fraction"] = _human_fraction(rules.human_fraction, figures)
    if rules.depth_load is not None:
        found["depth_load"] = _depth_load(rules.depth_load, figures)
    if rules.deep_tail is not None:
        found["deep_tail"] = _deep_tail(rules.deep_tail, figures)
    if rules.unknown_fraction is not None:
        found["unknown_fraction"] = _unknown_fraction(rules.unknown_fraction, figures)
    if rules.sources_preserved is not None:
        found["sources_preserved"] = _sources_preserved(rules.sources_preserved, figures)
    return found


def evaluate(
    rules: PolicyRules, figures: SetFigures, previous: PreviousGeneration | None
) -> list[Finding]:
    """One finding per rule the policy switches on, in the order of ``RULE_NAMES``."""
    return list(_findings(rules, figures, previous).values())


def verdict(findings: Sequence[Finding]) -> Status:
    """The worst finding's status; ``"pass"`` when there are none."""
    worst = max((_RANK[f.status] for f in findings), default=0)
    return _STATUSES[worst]


# --- remediation -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleRemediation:
    """What one rule below the target needs.

    Both ``amount`` and ``ratio`` are ``None`` when adding human data cannot bring the rule to
    the target, or when the need cannot be computed without amounts.
    """

    rule: str
    status: Status
    amount: float | None
    """Additional human-made amount, in the training set's unit."""
    ratio: float | None
    """The same amount as a multiple of the current training set's total amount."""
    message: str


@dataclass(frozen=True, slots=True)
class Remediation:
    target: Target
    verdict: Status
    """The verdict before anything is added."""
    additional_human_amount: float | None
    """The least human-made (depth 0) amount that brings every fixable rule to the target;
    ``None`` when the training set's amounts are unknown."""
    additional_human_ratio: float | None
    """The same, as a multiple of the current training set's total amount."""
    rules: list[RuleRemediation]
    """The fixable rules below the target, each with its own need."""
    not_fixable: list[RuleRemediation]
    """Rules below the target that adding human data cannot fix (or cannot be computed for)."""
    message: str


Check = Callable[[float], bool]

SETTLE_MARGIN = 1e-9


def _settle(amount: float, size: float, reaches: Check) -> float:
    """The closed-form amount is exact in real arithmetic; rounding in the re-evaluation can
    leave it a few ulps short, so nudge it up by the least that the re-evaluation accepts."""
    amount = max(amount, 0.0)
    if reaches(amount):
        return amount
    for exponent in range(-52, 0):
        nudged = amount + (size + amount) * 2.0**exponent
        if reaches(nudged):
            return nudged
    return amount


def _reaches(
    names: Sequence[str],
    rules: PolicyRules,
    figures: SetFigures,
    previous: PreviousGeneration | None,
    target: Target,
) -> Check:
    def check(amount: float) -> bool:
        after, previous_after = with_added_human(figures, previous, amount)
        found = _findings(rules, after, previous_after)
        return all(_RANK[found[name].status] <= _RANK[target] for name in names)

    return check


@dataclass(frozen=True, slots=True)
class _Need:
    """A rule's need before rounding: ``relative`` to the set, else ``absolute``."""

    relative: float | None = None
    absolute: float | None = None
    how: str = ""
    """Completes "adding <amount> <how>"."""
    why_not: str = ""


def _dilution_need(
    value: float,
    limit: float,
    what: str,
    render: Callable[[float, float], str],
    render_limit: Callable[[float], str],
) -> _Need:
    if limit <= 0.0:
        return _Need(
            why_not=(
                f"this policy allows no {what}; adding human data dilutes it but never removes "
                f"it, so that data has to be taken out instead"
            )
        )
    return _Need(
        relative=(value - limit) / limit,
        how=f"dilutes {what} from {render(value, limit)} to {render_limit(limit)}",
    )


def _share_need(value: float, limit: float, what: str) -> _Need:
    if limit >= 1.0:
        return _Need(
            why_not=(
                f"this policy asks for {_pct_limit(limit)} {what}, which added human data "
                f"approaches but never reaches while {_pct(1.0 - value)} of the set is not "
                f"human-made, so that data has to be taken out instead"
            )
        )
    return _Need(
        relative=(limit - value) / (1.0 - limit),
        how=f"lifts {what} from {_pct(value, limit)} to {_pct_limit(limit)}",
    )


def _replace_need(
    rule: ReplaceRule, finding: Finding, figures: SetFigures, target: Target
) -> _Need:
    """Only called with the rule below the target, which implies a self-consuming lineage
    whose previous generation had human data."""
    threshold = finding.threshold
    if "pass_at_least" not in threshold:
        return _Need(
            why_not=(
                "without the training sets' amounts or the previous generation's human share, "
                "the human-made amount it needs cannot be computed"
            )
        )
    before_amount = threshold.get("previous_human_amount")
    before = threshold.get("previous_human_fraction") if before_amount is None else before_amount
    assert before is not None
    # Out of "fail" means any human data at all; AMOUNT_RTOL of the previous is the least "any".
    limit = threshold["pass_at_least"] if target == "pass" else AMOUNT_RTOL * before
    restoring = (
        f"to {_pct_limit(rule.warn_below_ratio)} of the previous generation's"
        if target == "pass"
        else "out of fail: any human-made data at all counts against the previous generation's"
    )
    if before_amount is not None:
        now = finding.observed or 0.0
        return _Need(
            absolute=limit - now,
            how=(
                f"lifts the human-made amount from {_amount(now, limit)} {restoring} "
                f"{_amount(before_amount)}"
            ),
        )
    if limit >= 1.0:
        return _share_need(figures.human_fraction, limit, "the human-made share")
    return _Need(
        relative=(limit - figures.human_fraction) / (1.0 - limit),
        how=(
            f"lifts the human-made share from {_pct(figures.human_fraction, limit)} "
            f"{restoring} {_pct(before)} (amounts unknown, so shares are compared)"
        ),
    )


def _fresh_real_need(rule: FreshRealRule, previous: PreviousGeneration) -> _Need:
    added_human, added_synthetic = previous.added_human_amount, previous.added_synthetic_amount
    if added_human is None or added_synthetic is None:
        return _Need(
            why_not=(
                "without amounts, how much human-made data was added since the previous "
                "generation cannot be told, so neither can what it needs"
            )
        )
    needed = rule.min_ratio * added_synthetic
    return _Need(
        absolute=needed - added_human,
        how=(
            f"brings the fresh human-made data since the previous generation from "
            f"{_amount(added_human, needed)} to {_amount(needed)}, {_times(rule.min_ratio)} the "
            f"{_amount(added_synthetic)} of synthetic data added"
        ),
    )


def _need(
    name: str,
    rules: PolicyRules,
    finding: Finding,
    figures: SetFigures,
    previous: PreviousGeneration | None,
    target: Target,
) -> _Need:
    passing = target == "pass"
    if name == "human_fraction" and rules.human_fraction is not None:
        rule_h = rules.human_fraction
        limit = rule_h.pass_at_least if passing else rule_h.fail_below
        assert limit is not None
        return _share_need(figures.human_fraction, limit, "the human-made share")
    if name == "depth_load" and rules.depth_load is not None:
        rule_d = rules.depth_load
        limit = rule_d.pass_at_most if passing else rule_d.fail_above
        assert limit is not None
        return _dilution_need(figures.depth_load, limit, "the depth load", _number, _number_limit)
    if name == "deep_tail" and rules.deep_tail is not None:
        rule_t = rules.deep_tail
        limit = rule_t.pass_at_most if passing else rule_t.fail_above
        assert limit is not None
        what = f"the share {rule_t.min_depth} or more model generations deep"
        return _dilution_need(figures.tail_mass(rule_t.min_depth), limit, what, _pct, _pct_limit)
    if name == "unknown_fraction" and rules.unknown_fraction is not None:
        rule_u = rules.unknown_fraction
        limit = rule_u.pass_at_most if passing else rule_u.fail_above
        assert limit is not None
        return _dilution_need(
            figures.unknown_fraction, limit, "the unknown-origin share", _pct, _pct_limit
        )
    if name == "replace" and rules.replace is not None:
        return _replace_need(rules.replace, finding, figures, target)
    if name == "fresh_real" and rules.fresh_real is not None and previous is not None:
        return _fresh_real_need(rules.fresh_real, previous)
    if name == "sources_preserved":
        return _Need(
            why_not=(
                "added human data leaves the share of checked sources still verified as it is; "
                "the lost or changed sources have to be restored (or a preserved copy named "
                "with archive_uri) and verified again"
            )
        )
    raise AssertionError(f"rule {name} cannot be below the target here")


# Past about 1/epsilon times the current set, the set's own data falls below float rounding
# in the grown set: an addition that large is no longer a remedy one can state or check.
_MAX_RATIO = 1e15


def _rule_remediation(
    name: str, status: Status, need: _Need, total: float | None, reaches: Check
) -> RuleRemediation:
    size = 1.0 if total is None else total
    if need.relative is not None:
        amount = need.relative * size
    elif need.absolute is not None:
        amount = need.absolute
    else:
        return RuleRemediation(name, status, None, None, f"{name}: {need.why_not}.")
    on_set_scale = total is not None or need.relative is not None
    if not amount <= (_MAX_RATIO * size if on_set_scale else math.inf):
        return RuleRemediation(
            name,
            status,
            None,
            None,
            f"{name}: it needs more than {_MAX_RATIO:.0e} times the current training set, so "
            f"much that the set itself would vanish in rounding; its threshold is too close to "
            f"zero for added data to reach.",
        )
    amount = _settle(amount, max(size, amount), reaches)
    if total is not None:
        adding = f"adding {_amount_up(amount)} of human-made data"
        return RuleRemediation(
            name, status, amount, amount / total, f"{name}: {adding} {need.how}."
        )
    if need.relative is not None:
        adding = f"adding human-made data worth {_pct_up(amount)} of the current training set"
        return RuleRemediation(name, status, None, amount, f"{name}: {adding} {need.how}.")
    adding = f"adding {_amount_up(amount)} of human-made data (in the unit its amounts use)"
    return RuleRemediation(name, status, amount, None, f"{name}: {adding} {need.how}.")


def remediation(
    rules: PolicyRules,
    figures: SetFigures,
    previous: PreviousGeneration | None,
    target: Target = "pass",
) -> Remediation:
    """The least human-made (depth 0) data that, added to the training set, brings every rule
    that human data can fix to ``target``.

    Each rule's need is closed-form (a share p: (h+X)/(T+X) >= p; a diluted value v at limit t:
    v*T/(T+X) <= t; replace: h+X >= ratio*h_prev; fresh_real: added_h+X >= ratio*added_s), and
    the set's need is the largest of them, since adding human data never worsens a rule.
    """
    findings = _findings(rules, figures, previous)
    total = _known_total(figures)
    fixable: list[RuleRemediation] = []
    not_fixable: list[RuleRemediation] = []
    for name, finding in findings.items():
        if _RANK[finding.status] <= _RANK[target]:
            continue
        need = _need(name, rules, finding, figures, previous, target)
        reaches = _reaches([name], rules, figures, previous, target)
        # ranked above the target: warn or fail, never not_applicable
        status = cast(Status, finding.status)
        item = _rule_remediation(name, status, need, total, reaches)
        fixable_now = item.amount is not None or item.ratio is not None
        (fixable if fixable_now else not_fixable).append(item)

    # Without a total only the needs stated relative to the set share a scale to combine on;
    # with one, every fixable need has an amount.
    combinable = [item for item in fixable if _scaled(item, total) is not None]
    size = 1.0 if total is None else total
    reaches_all = _reaches([item.rule for item in combinable], rules, figures, previous, target)
    combined = _settle(
        max((_scaled(i, total) or 0.0 for i in combinable), default=0.0), size, reaches_all
    )
    # The service recomputes a remedied set through the composition engine, whose rounding can
    # differ from these figures' by an ulp or two; a margin far below any printed digit absorbs it.
    stated = _roundest_above(combined * (1.0 + SETTLE_MARGIN), combined * (1.0 + STATED_SLACK))
    return Remediation(
        target=target,
        verdict=verdict(list(findings.values())),
        additional_human_amount=None if total is None else stated,
        additional_human_ratio=_roundest_above(stated / size, stated / size * (1.0 + STATED_SLACK)),
        rules=fixable,
        not_fixable=not_fixable,
        message=_summary(target, total, combined, combinable, fixable, not_fixable),
    )


# A stated amount may exceed the exact need by this share, to be a number a person can read
# (5000001 rather than 5000000.005000001).
STATED_SLACK = 1e-6


def _roundest_above(low: float, high: float) -> float:
    """The number with the fewest significant digits in [low, high] (low when none is)."""
    if not (math.isfinite(low) and math.isfinite(high)) or low <= 0.0 or high < low:
        return low
    for digits in range(1, 18):
        exponent = _leading(low) + 1 - digits
        with localcontext(Context(prec=800)):
            step = Decimal(1).scaleb(exponent)
            candidate = float(Decimal(low).quantize(step, rounding=ROUND_CEILING))
        if low <= candidate <= high:
            return candidate
    return low


def _scaled(item: RuleRemediation, total: float | None) -> float | None:
    return item.ratio if total is None else item.amount


def _summary(
    target: Target,
    total: float | None,
    combined: float,
    combinable: Sequence[RuleRemediation],
    fixable: Sequence[RuleRemediation],
    not_fixable: Sequence[RuleRemediation],
) -> str:
    if not fixable and not not_fixable:
        return f"Every rule already reaches {target}; no additional human-made data is needed."
    parts: list[str] = []
    if combinable:
        most = max(combinable, key=lambda item: _scaled(item, total) or 0.0)
        if len(combinable) > 1:
            reach = f"every rule that human data can fix to {target}; {most.rule} needs the most"
        else:
            reach = f"{most.rule} to {target}"
        if total is not None:
            parts.append(
                f"Adding at least {_amount_up(combined)} of human-made (depth-0) data, "
                f"{_pct_up(combined / total)} of the current training set's {_amount(total)}, "
                f"would bring {reach}."
            )
        else:
            parts.append(
                f"The training set's amounts are unknown, so the remedy is relative: adding "
                f"human-made (depth-0) data worth at least {_pct_up(combined)} of the current "
                f"training set would bring {reach}."
            )
    for item in fixable:
        if item not in combinable:
            parts.append(
                f"{item.rule} also needs at least {_amount_up(item.amount or 0.0)} more fresh "
                f"human-made data, in the unit its amounts were recorded in."
            )
    if not_fixable:
        parts.append(
            f"For {_names(not_fixable)}, no amount of added human-made data can be named that "
            f"brings it to {target}; see each rule's explanation."
        )
    return " ".join(parts)
