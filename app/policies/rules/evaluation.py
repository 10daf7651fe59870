"""Each rule's evaluation: a pure function of the rule's thresholds and the figures, giving one
``Finding`` with its status, the observed value, the thresholds it was judged by and its
wording. Every evaluator has the shape ``(rule, figures, previous) -> Finding``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

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
    Status,
    known_total,
)
from app.policies.rules.wording import (
    cited,
    failing_clause,
    number,
    number_limit,
    pct,
    pct_limit,
    quantity,
    times,
)


def at_least(value: float, passing: float, failing: float | None) -> Status:
    if value >= passing:
        return "pass"
    return "fail" if failing is not None and value < failing else "warn"


def at_most(value: float, passing: float, failing: float | None) -> Status:
    if value <= passing:
        return "pass"
    return "fail" if failing is not None and value > failing else "warn"


def thresholds(**values: float | None) -> dict[str, float]:
    return {k: v for k, v in values.items() if v is not None}


@dataclass(frozen=True, slots=True)
class Bounded:
    """A value judged against a floor or ceiling rule: its status, the thresholds it is worded
    against, the finding's ``threshold`` and, short of a pass, the clause naming the fail."""

    status: Status
    limits: list[float]
    threshold: dict[str, float]

    def clause(self, fail: float | None, render: Callable[[float], str], word: str) -> str:
        return "" if self.status == "pass" else failing_clause(fail, render, word)

    def finding(
        self,
        rule: str,
        observed: float,
        statement: str,
        reference: str,
        advice: str = "",
        **also: float,
    ) -> Finding:
        """The finding of ``observed``, judged: ``statement`` with its citation and, short of a
        pass, the ``advice`` that would mend it; ``also`` goes first into its threshold."""
        message = f"{statement}{cited(reference)}."
        if advice and self.status != "pass":
            message = f"{message} {advice}"
        return Finding(rule, self.status, observed, {**also, **self.threshold}, message, reference)


def unobserved(
    rule: str,
    status: Literal["warn", "not_applicable"],
    threshold: dict[str, float],
    message: str,
    reference: str,
) -> Finding:
    """A finding with no observed value: the rule does not apply, or its figure is unknown."""
    return Finding(rule, status, None, threshold, message, reference)


def first_generation(
    rule: str, threshold: dict[str, float], consequence: str, reference: str
) -> Finding:
    """A self-consuming-loop rule's finding when no earlier version of the model is among the
    training data's ancestors: it does not apply, and ``consequence`` says why."""
    return unobserved(
        rule,
        "not_applicable",
        threshold,
        "No earlier version of this model is among the training data's ancestors, so the "
        f"lineage is not self-consuming: {consequence}.",
        reference,
    )


def bounded(rule: FloorRule | CeilingRule, value: float) -> Bounded:
    if isinstance(rule, FloorRule):
        passing, failing = rule.pass_at_least, rule.fail_below
        status = at_least(value, passing, failing)
        threshold = thresholds(pass_at_least=passing, fail_below=failing)
    else:
        passing, failing = rule.pass_at_most, rule.fail_above
        status = at_most(value, passing, failing)
        threshold = thresholds(pass_at_most=passing, fail_above=failing)
    limits = [passing] + ([] if failing is None else [failing])
    return Bounded(status, limits, threshold)


def terms(rule: FloorRule | CeilingRule, judged: Bounded, render: Callable[[float], str]) -> str:
    """How a floor or a ceiling reads after its figure: "this policy passes at 5% or less" and,
    short of a pass, " and fails above 10%" when it has a fail threshold."""
    if isinstance(rule, FloorRule):
        passing, failing, side, word = rule.pass_at_least, rule.fail_below, "more", "below"
    else:
        passing, failing, side, word = rule.pass_at_most, rule.fail_above, "less", "above"
    return (
        f"this policy passes at {render(passing)} or {side}{judged.clause(failing, render, word)}"
    )


def human_fraction(
    rule: HumanFractionRule, figures: SetFigures, previous: PreviousGeneration | None
) -> Finding:
    share = figures.human_fraction
    judged = bounded(rule, share)
    observed = pct(share, *judged.limits)
    if judged.status == "fail":
        assert rule.fail_below is not None
        message = (
            f"Only {observed} of the training set is human-made, below this policy's floor of "
            f"{pct_limit(rule.fail_below)}; it passes at {pct_limit(rule.pass_at_least)} or more"
        )
    else:
        message = f"{observed} of the training set is human-made; {terms(rule, judged, pct_limit)}"
    return judged.finding("human_fraction", share, message, rule.reference)


def depth_load(
    rule: DepthLoadRule, figures: SetFigures, previous: PreviousGeneration | None
) -> Finding:
    load = figures.depth_load
    judged = bounded(rule, load)
    message = (
        f"The training set's depth load (its synthetic share weighted by the number of model "
        f"generations behind it) is {number(load, *judged.limits)}; "
        f"{terms(rule, judged, number_limit)}"
    )
    return judged.finding("depth_load", load, message, rule.reference)


def deep_tail(
    rule: DeepTailRule, figures: SetFigures, previous: PreviousGeneration | None
) -> Finding:
    mass = figures.tail_mass(rule.min_depth)
    judged = bounded(rule, mass)
    generations = "generation" if rule.min_depth == 1 else "generations"
    message = (
        f"{pct(mass, *judged.limits)} of the training set has passed through {rule.min_depth} "
        f"or more model {generations}; {terms(rule, judged, pct_limit)}"
    )
    return judged.finding(
        "deep_tail",
        mass,
        message,
        rule.reference,
        min_depth=rule.min_depth,
    )


def unknown_fraction(
    rule: UnknownFractionRule, figures: SetFigures, previous: PreviousGeneration | None
) -> Finding:
    share = figures.unknown_fraction
    judged = bounded(rule, share)
    return judged.finding(
        "unknown_fraction",
        share,
        f"{pct(share, *judged.limits)} of the training set has unknown origin; "
        f"{terms(rule, judged, pct_limit)}",
        rule.reference,
        advice="Declaring the origin of the source datasets (the headwater_origin facet) would "
        "resolve it.",
    )


def sources_preserved(
    rule: SourcesPreservedRule, figures: SetFigures, previous: PreviousGeneration | None
) -> Finding:
    checked = figures.checked_human_fraction
    if checked <= 0.0:
        return unobserved(
            "sources_preserved",
            "not_applicable",
            thresholds(pass_at_least=rule.pass_at_least, fail_below=rule.fail_below),
            "No original source of the training set's human-made data has been checked yet; "
            f"`headwater sources verify` checks them{cited(rule.reference)}.",
            rule.reference,
        )
    share = min(1.0, figures.verified_human_fraction / checked)
    judged = bounded(rule, share)
    return judged.finding(
        "sources_preserved",
        share,
        f"{pct(share, *judged.limits)} of the training set's human-made data whose original "
        f"sources were checked can still be verified; {terms(rule, judged, pct_limit)}",
        rule.reference,
        advice="Sources found lost or changed can no longer be accumulated into the next "
        "generation: restore them, or name a preserved copy (archive_uri) and verify again.",
    )


def _kept(current: float, previous: float, ratio: float) -> Status:
    """Shared by amounts and shares: fail at nothing left, warn at a fall beyond the ratio."""
    if previous <= 0.0:
        return "pass"
    if current < AMOUNT_RTOL * previous:
        return "fail"
    return "pass" if current >= ratio * previous * (1.0 - AMOUNT_RTOL) else "warn"


def replace(rule: ReplaceRule, figures: SetFigures, previous: PreviousGeneration | None) -> Finding:
    ratio = rule.warn_below_ratio
    cite = cited(rule.reference)
    if previous is None:
        return first_generation(
            "replace",
            {"warn_below_ratio": ratio},
            "no previous generation's human data can be replaced",
            rule.reference,
        )
    generation = f"the previous generation (version {previous.version})"
    total = known_total(figures)
    kept = f"this policy passes when at least {pct_limit(ratio)} of it is kept"
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
                f"{quantity(before)}; replacing real data with synthetic data drives model "
                f"collapse{cite}."
            )
        elif status == "warn":
            message = (
                f"The human-made amount fell from {quantity(before)} in {generation} to "
                f"{quantity(now, before)} ({pct(now / before, ratio)} of it); {kept}{cite}."
            )
        else:
            message = (
                f"The training set has {quantity(now, before)} of human-made data against "
                f"{quantity(before)} in {generation}; {kept}{cite}."
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
            f"{pct(now, before)} of the training set is human-made against {pct(before)} "
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
    return unobserved(
        "replace",
        "warn",
        {"warn_below_ratio": ratio},
        (
            f"Whether human-made data was replaced since {generation} cannot be told: the "
            f"training sets' amounts are unknown. Recording dataset sizes or edge amounts would "
            f"let this rule check it{cite}."
        ),
        rule.reference,
    )


def fresh_real(
    rule: FreshRealRule, figures: SetFigures, previous: PreviousGeneration | None
) -> Finding:
    ratio = rule.min_ratio
    cite = cited(rule.reference)
    if previous is None:
        return first_generation(
            "fresh_real",
            {"min_ratio": ratio},
            "there is no generation to add fresh data to",
            rule.reference,
        )
    since = f"Since the previous generation (version {previous.version})"
    added_human, added_synthetic = previous.added_human_amount, previous.added_synthetic_amount
    if added_human is None or added_synthetic is None:
        return unobserved(
            "fresh_real",
            "warn",
            {"min_ratio": ratio},
            (
                f"{since}, how much human-made and synthetic data was added cannot be told: the "
                f"amounts are unknown. Recording dataset sizes or edge amounts would let this "
                f"rule check it{cite}."
            ),
            rule.reference,
        )
    needed = ratio * added_synthetic
    status: Status = "pass" if added_human >= needed * (1.0 - AMOUNT_RTOL) else "warn"
    weights = (
        " (relative weights: the training set's amounts are unknown)"
        if known_total(figures) is None
        else ""
    )
    only = "only " if status == "warn" else ""
    message = (
        f"{since}, {only}{quantity(added_human, needed)} of human-made data was added against "
        f"{quantity(added_synthetic)} of synthetic data{weights}; this policy passes when the new "
        f"human data is at least {times(ratio)} the new synthetic data{cite}."
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
