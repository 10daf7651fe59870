"""Remediation: the least human-made (depth 0) data that, added to the training set, brings
every rule that human data can fix to a target, each rule's own need, and their wording."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Context, Decimal, localcontext
from typing import cast

from app.policies.rules import registry
from app.policies.rules.definition import PolicyRules
from app.policies.rules.figures import (
    RANK,
    PreviousGeneration,
    SetFigures,
    Status,
    Target,
    known_total,
    with_added_human,
)
from app.policies.rules.needs import Need
from app.policies.rules.wording import amount_up, leading, pct_up, quantity


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
        found = registry.findings(rules, after, previous_after)
        return all(RANK[found[name].status] <= RANK[target] for name in names)

    return check


# Past about 1/epsilon times the current set, the set's own data falls below float rounding
# in the grown set: an addition that large is no longer a remedy one can state or check.
_MAX_RATIO = 1e15


def _rule_remediation(
    name: str, status: Status, need: Need, total: float | None, reaches: Check
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
        adding = f"adding {amount_up(amount)} of human-made data"
        return RuleRemediation(
            name, status, amount, amount / total, f"{name}: {adding} {need.how}."
        )
    if need.relative is not None:
        adding = f"adding human-made data worth {pct_up(amount)} of the current training set"
        return RuleRemediation(name, status, None, amount, f"{name}: {adding} {need.how}.")
    adding = f"adding {amount_up(amount)} of human-made data (in the unit its amounts use)"
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
    found = registry.findings(rules, figures, previous)
    total = known_total(figures)
    fixable: list[RuleRemediation] = []
    not_fixable: list[RuleRemediation] = []
    for name, finding in found.items():
        if RANK[finding.status] <= RANK[target]:
            continue
        needed = registry.need(rules, finding, figures, previous, target)
        reaches = _reaches([name], rules, figures, previous, target)
        # ranked above the target: warn or fail, never not_applicable
        status = cast(Status, finding.status)
        item = _rule_remediation(name, status, needed, total, reaches)
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
        verdict=registry.verdict(list(found.values())),
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
        exponent = leading(low) + 1 - digits
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
                f"Adding at least {amount_up(combined)} of human-made (depth-0) data, "
                f"{pct_up(combined / total)} of the current training set's {quantity(total)}, "
                f"would bring {reach}."
            )
        else:
            parts.append(
                f"The training set's amounts are unknown, so the remedy is relative: adding "
                f"human-made (depth-0) data worth at least {pct_up(combined)} of the current "
                f"training set would bring {reach}."
            )
    for item in fixable:
        if item not in combinable:
            parts.append(
                f"{item.rule} also needs at least {amount_up(item.amount or 0.0)} more fresh "
                f"human-made data, in the unit its amounts were recorded in."
            )
    if not_fixable:
        parts.append(
            f"For {_names(not_fixable)}, no amount of added human-made data can be named that "
            f"brings it to {target}; see each rule's explanation."
        )
    return " ".join(parts)


def _names(rules: Sequence[RuleRemediation]) -> str:
    names = [item.rule for item in rules]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
