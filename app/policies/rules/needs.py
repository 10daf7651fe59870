"""What each rule needs to reach a target, before rounding: a closed-form amount of added
human-made data, relative to the set or absolute, or the reason none can be named. Every need
has the shape ``(rule, finding, figures, previous, target) -> Need`` and is only asked of a rule
below the target."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.policies.rules.definition import (
    CeilingRule,
    DeepTailRule,
    DepthLoadRule,
    FloorRule,
    FreshRealRule,
    HumanFractionRule,
    ReplaceRule,
    SourcesPreservedRule,
    UnknownFractionRule,
)
from app.policies.rules.figures import (
    AMOUNT_RTOL,
    Finding,
    PreviousGeneration,
    SetFigures,
    Target,
)
from app.policies.rules.wording import number, number_limit, pct, pct_limit, quantity, times


@dataclass(frozen=True, slots=True)
class Need:
    """A rule's need before rounding: ``relative`` to the set, else ``absolute``."""

    relative: float | None = None
    absolute: float | None = None
    how: str = ""
    """Completes "adding <amount> <how>"."""
    why_not: str = ""


def _dilution_need(
    rule: CeilingRule,
    target: Target,
    value: float,
    what: str,
    render: Callable[[float, float], str],
    render_limit: Callable[[float], str],
) -> Need:
    """What a ceiling rule at ``value`` needs to fall to its ``target`` limit: only dilution
    by added human data lowers it."""
    limit = _limit(rule, target)
    if limit <= 0.0:
        return Need(
            why_not=(
                f"this policy allows no {what}; adding human data dilutes it but never removes "
                f"it, so that data has to be taken out instead"
            )
        )
    return Need(
        relative=(value - limit) / limit,
        how=f"dilutes {what} from {render(value, limit)} to {render_limit(limit)}",
    )


def _share_need(value: float, limit: float, what: str) -> Need:
    if limit >= 1.0:
        return Need(
            why_not=(
                f"this policy asks for {pct_limit(limit)} {what}, which added human data "
                f"approaches but never reaches while {pct(1.0 - value)} of the set is not "
                f"human-made, so that data has to be taken out instead"
            )
        )
    return Need(
        relative=(limit - value) / (1.0 - limit),
        how=f"lifts {what} from {pct(value, limit)} to {pct_limit(limit)}",
    )


def replace_need(
    rule: ReplaceRule,
    finding: Finding,
    figures: SetFigures,
    previous: PreviousGeneration | None,
    target: Target,
) -> Need:
    """Only called with the rule below the target, which implies a self-consuming lineage
    whose previous generation had human data."""
    threshold = finding.threshold
    if "pass_at_least" not in threshold:
        return Need(
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
        f"to {pct_limit(rule.warn_below_ratio)} of the previous generation's"
        if target == "pass"
        else "out of fail: any human-made data at all counts against the previous generation's"
    )
    if before_amount is not None:
        now = finding.observed or 0.0
        return Need(
            absolute=limit - now,
            how=(
                f"lifts the human-made amount from {quantity(now, limit)} {restoring} "
                f"{quantity(before_amount)}"
            ),
        )
    if limit >= 1.0:
        return _share_need(figures.human_fraction, limit, "the human-made share")
    return Need(
        relative=(limit - figures.human_fraction) / (1.0 - limit),
        how=(
            f"lifts the human-made share from {pct(figures.human_fraction, limit)} "
            f"{restoring} {pct(before)} (amounts unknown, so shares are compared)"
        ),
    )


def fresh_real_need(
    rule: FreshRealRule,
    finding: Finding,
    figures: SetFigures,
    previous: PreviousGeneration | None,
    target: Target,
) -> Need:
    """Only called with the rule below the target, which implies a previous generation."""
    assert previous is not None
    added_human, added_synthetic = previous.added_human_amount, previous.added_synthetic_amount
    if added_human is None or added_synthetic is None:
        return Need(
            why_not=(
                "without amounts, how much human-made data was added since the previous "
                "generation cannot be told, so neither can what it needs"
            )
        )
    needed = rule.min_ratio * added_synthetic
    return Need(
        absolute=needed - added_human,
        how=(
            f"brings the fresh human-made data since the previous generation from "
            f"{quantity(added_human, needed)} to {quantity(needed)}, {times(rule.min_ratio)} the "
            f"{quantity(added_synthetic)} of synthetic data added"
        ),
    )


def _limit(rule: FloorRule | CeilingRule, target: Target) -> float:
    """The threshold a rule below ``target`` must cross to reach it."""
    if isinstance(rule, FloorRule):
        limit = rule.pass_at_least if target == "pass" else rule.fail_below
    else:
        limit = rule.pass_at_most if target == "pass" else rule.fail_above
    assert limit is not None  # below "warn" means failing, which needs a failing threshold
    return limit


def human_fraction_need(
    rule: HumanFractionRule,
    finding: Finding,
    figures: SetFigures,
    previous: PreviousGeneration | None,
    target: Target,
) -> Need:
    return _share_need(figures.human_fraction, _limit(rule, target), "the human-made share")


def depth_load_need(
    rule: DepthLoadRule,
    finding: Finding,
    figures: SetFigures,
    previous: PreviousGeneration | None,
    target: Target,
) -> Need:
    return _dilution_need(rule, target, figures.depth_load, "the depth load", number, number_limit)


def deep_tail_need(
    rule: DeepTailRule,
    finding: Finding,
    figures: SetFigures,
    previous: PreviousGeneration | None,
    target: Target,
) -> Need:
    what = f"the share {rule.min_depth} or more model generations deep"
    mass = figures.tail_mass(rule.min_depth)
    return _dilution_need(rule, target, mass, what, pct, pct_limit)


def unknown_fraction_need(
    rule: UnknownFractionRule,
    finding: Finding,
    figures: SetFigures,
    previous: PreviousGeneration | None,
    target: Target,
) -> Need:
    what = "the unknown-origin share"
    return _dilution_need(rule, target, figures.unknown_fraction, what, pct, pct_limit)


def sources_preserved_need(
    rule: SourcesPreservedRule,
    finding: Finding,
    figures: SetFigures,
    previous: PreviousGeneration | None,
    target: Target,
) -> Need:
    return Need(
        why_not=(
            "added human data leaves the share of checked sources still verified as it is; "
            "the lost or changed sources have to be restored (or a preserved copy named "
            "with archive_uri) and verified again"
        )
    )
