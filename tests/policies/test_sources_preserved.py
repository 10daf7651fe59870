"""The sources_preserved rule: of the human data whose sources were checked, the share still
verified."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.policies.rules import (
    PolicyRules,
    SetFigures,
    default_policy_rules,
    evaluate,
    remediation,
    verdict,
    with_added_human,
)


def figures(checked: float, verified: float, human: float = 1.0) -> SetFigures:
    return SetFigures(
        human_fraction=human,
        synthetic_fraction=1.0 - human,
        unknown_fraction=0.0,
        depth_load=1.0 - human,
        depth_histogram={0: human, 1: 1.0 - human} if human < 1.0 else {0: 1.0},
        total_amount=1000.0,
        checked_human_fraction=checked,
        verified_human_fraction=verified,
    )


def preserved(fig: SetFigures, rules: PolicyRules | None = None) -> tuple[str, float | None]:
    found = {f.rule: f for f in evaluate(rules or default_policy_rules(), fig, None)}
    finding = found["sources_preserved"]
    return finding.status, finding.observed


def test_nothing_checked_is_not_applicable_and_does_not_worsen_the_verdict() -> None:
    fig = figures(0.0, 0.0)
    assert preserved(fig) == ("not_applicable", None)
    assert verdict(evaluate(default_policy_rules(), fig, None)) == "pass"


def test_ninety_percent_passes_and_less_warns() -> None:
    assert preserved(figures(0.5, 0.45)) == ("pass", 0.45 / 0.5)
    assert preserved(figures(1.0, 0.9)) == ("pass", 0.9)
    status, observed = preserved(figures(1.0, 0.8999))
    assert status == "warn" and observed == 0.8999
    assert preserved(figures(0.3, 0.0)) == ("warn", 0.0)  # never fails under the default


def test_a_policy_may_fail_below_a_floor() -> None:
    rules = PolicyRules.model_validate(
        {"sources_preserved": {"pass_at_least": 0.9, "fail_below": 0.5}}
    )
    assert preserved(figures(1.0, 0.4), rules)[0] == "fail"
    assert preserved(figures(1.0, 0.6), rules)[0] == "warn"


@given(
    checked=st.floats(0.01, 1.0),
    ratio=st.floats(0.0, 1.0),
    added=st.floats(0.0, 1e6),
)
def test_added_human_data_leaves_the_share_as_it_is(
    checked: float, ratio: float, added: float
) -> None:
    fig = figures(checked, checked * ratio)
    after, _ = with_added_human(fig, None, added)
    before_share = fig.verified_human_fraction / fig.checked_human_fraction
    after_share = after.verified_human_fraction / after.checked_human_fraction
    assert abs(before_share - after_share) <= 1e-9


def test_remediation_says_added_data_cannot_fix_it() -> None:
    plan = remediation(default_policy_rules(), figures(1.0, 0.5), None)
    assert [item.rule for item in plan.not_fixable] == ["sources_preserved"]
    assert "restored" in plan.not_fixable[0].message
