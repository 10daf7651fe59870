"""Every rule in one place: its name, its definition, its evaluation and its need.

A new rule is a definition model (a field of ``PolicyRules``), an evaluator, a need, and one
entry here; the gate, the remediation and the order of findings follow from this table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from app.policies.rules import evaluation, needs
from app.policies.rules.definition import (
    DeepTailRule,
    DepthLoadRule,
    FreshRealRule,
    HumanFractionRule,
    PolicyRules,
    ReplaceRule,
    SourcesPreservedRule,
    UnknownFractionRule,
)
from app.policies.rules.figures import (
    RANK,
    STATUSES,
    Finding,
    PreviousGeneration,
    SetFigures,
    Status,
    Target,
)
from app.policies.rules.needs import Need

R = TypeVar("R", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class RuleKind(Generic[R]):
    """One rule: the ``PolicyRules`` field it is written in, and what it does."""

    name: str
    definition: type[R]
    evaluate: Callable[[R, SetFigures, PreviousGeneration | None], Finding]
    need: Callable[[R, Finding, SetFigures, PreviousGeneration | None, Target], Need]

    def written(self, rules: PolicyRules) -> R | None:
        """This rule as ``rules`` writes it; ``None`` when the policy switches it off."""
        rule = getattr(rules, self.name)
        assert rule is None or isinstance(rule, self.definition)
        return rule


def _kind(
    definition: type[R],
    evaluate: Callable[[R, SetFigures, PreviousGeneration | None], Finding],
    need: Callable[[R, Finding, SetFigures, PreviousGeneration | None, Target], Need],
) -> RuleKind[R]:
    """A rule named after its evaluator, whose need is named ``<name>_need``."""
    name = evaluate.__name__
    assert need.__name__ == f"{name}_need", f"{need.__name__} is not the need of {name}"
    return RuleKind(name, definition, evaluate, need)


RULES: tuple[RuleKind[Any], ...] = (
    _kind(ReplaceRule, evaluation.replace, needs.replace_need),
    _kind(FreshRealRule, evaluation.fresh_real, needs.fresh_real_need),
    _kind(HumanFractionRule, evaluation.human_fraction, needs.human_fraction_need),
    _kind(DepthLoadRule, evaluation.depth_load, needs.depth_load_need),
    _kind(DeepTailRule, evaluation.deep_tail, needs.deep_tail_need),
    _kind(UnknownFractionRule, evaluation.unknown_fraction, needs.unknown_fraction_need),
    _kind(SourcesPreservedRule, evaluation.sources_preserved, needs.sources_preserved_need),
)
RULE_NAMES: tuple[str, ...] = tuple(kind.name for kind in RULES)
BY_NAME: dict[str, RuleKind[Any]] = {kind.name: kind for kind in RULES}

# The table and the policy document must name the same rules, in the same order.
assert tuple(PolicyRules.model_fields) == RULE_NAMES, "RULES and PolicyRules disagree"


def findings(
    rules: PolicyRules, figures: SetFigures, previous: PreviousGeneration | None
) -> dict[str, Finding]:
    """Each rule the policy switches on, by name, in the order of ``RULES``."""
    found: dict[str, Finding] = {}
    for kind in RULES:
        rule = kind.written(rules)
        if rule is not None:
            found[kind.name] = kind.evaluate(rule, figures, previous)
    return found


def evaluate(
    rules: PolicyRules, figures: SetFigures, previous: PreviousGeneration | None
) -> list[Finding]:
    """One finding per rule the policy switches on, in the order of ``RULE_NAMES``."""
    return list(findings(rules, figures, previous).values())


def verdict(findings: Sequence[Finding]) -> Status:
    """The worst finding's status; ``"pass"`` when there are none."""
    worst = max((RANK[f.status] for f in findings), default=0)
    return STATUSES[worst]


def need(
    rules: PolicyRules,
    finding: Finding,
    figures: SetFigures,
    previous: PreviousGeneration | None,
    target: Target,
) -> Need:
    """What the rule behind ``finding``, below ``target``, needs to reach it."""
    kind = BY_NAME[finding.rule]
    rule = kind.written(rules)
    if rule is None:
        raise AssertionError(f"rule {finding.rule} cannot be below the target here")
    return kind.need(rule, finding, figures, previous, target)
