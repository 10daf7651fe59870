"""The collapse-risk rules, the default policy and the remediation arithmetic."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from importlib.resources import files
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.policies import service as policy_service
from app.policies.rules import (
    DEFAULT_POLICY_NAME,
    RULE_NAMES,
    Finding,
    PolicyDefinition,
    PolicyRules,
    PreviousGeneration,
    SetFigures,
    Status,
    Target,
    default_policy,
    default_policy_rules,
    evaluate,
    remediation,
    verdict,
    with_added_human,
)

RANK = {"not_applicable": 0, "pass": 0, "warn": 1, "fail": 2}


def figures(
    human: float = 0.0,
    synthetic: Mapping[int, float] | None = None,
    unknown: float = 0.0,
    *,
    amounts_known: bool = True,
) -> SetFigures:
    """A training set's figures from the amounts in each bucket, as design section 2 defines."""
    by_depth = {0: human, **(synthetic or {})}
    total = math.fsum(by_depth.values()) + unknown
    histogram = {d: m / total for d, m in by_depth.items() if m > 0}
    return SetFigures(
        human_fraction=human / total,
        synthetic_fraction=math.fsum(m for d, m in by_depth.items() if d >= 1) / total,
        unknown_fraction=unknown / total,
        depth_load=math.fsum(d * m for d, m in histogram.items()),
        depth_histogram=histogram,
        total_amount=total if amounts_known else None,
    )


def shares(human: float, depth_load: float = 0.0, unknown: float = 0.0) -> SetFigures:
    """Figures given directly as shares, to put a value exactly on a threshold."""
    return SetFigures(
        human_fraction=human,
        synthetic_fraction=max(0.0, 1.0 - human - unknown),
        unknown_fraction=unknown,
        depth_load=depth_load,
        depth_histogram={0: human},
        total_amount=1000.0,
    )


def previous(
    human: float | None = 1000.0,
    added_human: float | None = 0.0,
    added_synthetic: float | None = 0.0,
    human_fraction: float | None = None,
) -> PreviousGeneration:
    return PreviousGeneration(
        model_version_id="00000000-0000-0000-0000-000000000001",
        version="v1",
        human_amount=human,
        added_human_amount=added_human,
        added_synthetic_amount=added_synthetic,
        human_fraction=human_fraction,
    )


def version_1_rules() -> PolicyRules:
    """The default policy's first version, passing human_fraction at 0.67: the round numbers
    these tests step across. The current default passes exactly 2/3 (see its own tests)."""
    rules = default_policy_rules()
    assert rules.human_fraction is not None
    human = rules.human_fraction.model_copy(update={"pass_at_least": 0.67})
    return rules.model_copy(update={"human_fraction": human})


TABLE = version_1_rules()


def finding(
    rule: str, fig: SetFigures, prev: PreviousGeneration | None = None, rules: Any = None
) -> Finding:
    found = {f.rule: f for f in evaluate(rules or TABLE, fig, prev)}
    return found[rule]


def only(rule: str, **thresholds: Any) -> PolicyRules:
    return PolicyRules.model_validate({rule: thresholds})


below = math.nextafter  # the neighbouring float, to step just across a threshold


# --- the default policy -------------------------------------------------------------------------


@pytest.fixture
def served(session: Session) -> PolicyDefinition:
    """The default policy as the service serves it: the newest version the migrations seeded."""
    policy = policy_service.current(session, DEFAULT_POLICY_NAME)
    return PolicyDefinition(
        description=policy.description or "", rules=PolicyRules.model_validate(policy.rules)
    )


def test_the_served_default_policy_is_the_policy_file(served: PolicyDefinition) -> None:
    # A fresh database is seeded by migrations; default_policy.json must say the same, since
    # the tests below and users reading the repository take it as the default.
    assert served == default_policy()


def test_default_policy_is_the_design_table(served: PolicyDefinition) -> None:
    rules = served.rules
    without_references = rules.model_dump(exclude={name: {"reference"} for name in RULE_NAMES})
    assert without_references == {
        "replace": {"warn_below_ratio": 1.0},
        "fresh_real": {"min_ratio": 1.0},
        "human_fraction": {"pass_at_least": 0.6666666666, "fail_below": 0.10},
        "depth_load": {"pass_at_most": 0.25, "fail_above": 1.0},
        "deep_tail": {"min_depth": 3, "pass_at_most": 0.10, "fail_above": None},
        "unknown_fraction": {"pass_at_most": 0.20, "fail_above": None},
        "sources_preserved": {"pass_at_least": 0.9, "fail_below": None},
    }


def test_default_policy_names_its_evidence(served: PolicyDefinition) -> None:
    rules = served.rules
    assert rules.replace is not None and rules.fresh_real is not None
    assert rules.human_fraction is not None and rules.depth_load is not None
    assert rules.deep_tail is not None and rules.unknown_fraction is not None
    for author in ("Shumailov et al., Nature 631 (2024)", "Gerstgrasser", "Kazdan"):
        assert author in rules.replace.reference
    assert "Alemohammad et al., ICLR 2024" in rules.fresh_real.reference
    assert "Bertrand et al., ICLR 2024" in rules.human_fraction.reference
    assert "Shumailov" in rules.human_fraction.reference
    assert "Shumailov" in rules.depth_load.reference
    assert "heuristic" in rules.deep_tail.reference
    assert "Graphite (2025)" in rules.unknown_fraction.reference
    assert served.description


def test_default_policy_file_is_a_policy_a_user_could_put() -> None:
    text = files("app.policies").joinpath("default_policy.json").read_text("utf-8")
    body = json.loads(text)
    assert set(body) == {"description", "rules"}
    assert PolicyDefinition.model_validate(body) == default_policy()
    dumped = default_policy().model_dump(mode="json", exclude_none=True)
    assert PolicyDefinition.model_validate(dumped) == default_policy()


# --- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rules", "complaint"),
    [
        ({"human_fraction": {"pass_at_least": 0.5, "fail_below": 0.6}}, "must be at most"),
        ({"human_fraction": {"pass_at_least": 1.5}}, "less than or equal to 1"),
        ({"human_fraction": {"pass_at_least": -0.1}}, "greater than or equal to 0"),
        ({"human_fraction": {"pass_at_least": float("nan")}}, "finite number"),
        ({"human_fraction": {}}, "pass_at_least"),
        ({"depth_load": {"pass_at_most": 1.0, "fail_above": 0.5}}, "must be at least"),
        ({"depth_load": {"pass_at_most": float("inf")}}, "finite number"),
        ({"deep_tail": {"min_depth": 0, "pass_at_most": 0.1}}, "greater than or equal to 1"),
        ({"deep_tail": {"pass_at_most": 0.2, "fail_above": 0.1}}, "must be at least"),
        ({"unknown_fraction": {"pass_at_most": 0.3, "fail_above": 0.2}}, "must be at least"),
        ({"unknown_fraction": {"pass_at_most": 2}}, "less than or equal to 1"),
        ({"replace": {"warn_below_ratio": 0}}, "greater than 0"),
        ({"replace": {"warn_below_ratio": 1.5}}, "less than or equal to 1"),
        ({"fresh_real": {"min_ratio": -1}}, "greater than or equal to 0"),
        ({"human_fraction": {"pass_at_lest": 0.5}}, "Extra inputs are not permitted"),
        ({"humans": {}}, "Extra inputs are not permitted"),
    ],
)
def test_bad_thresholds_are_refused_with_a_clear_message(
    rules: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        PolicyRules.model_validate(rules)
    assert complaint in str(raised.value)


def test_ordering_error_names_both_thresholds() -> None:
    with pytest.raises(ValidationError) as raised:
        PolicyRules.model_validate({"human_fraction": {"pass_at_least": 0.5, "fail_below": 0.6}})
    (error,) = raised.value.errors()
    assert error["loc"] == ("human_fraction",)
    assert "fail_below (0.6)" in error["msg"] and "pass_at_least (0.5)" in error["msg"]


def test_equal_pass_and_fail_thresholds_leave_no_warning_band() -> None:
    rules = only("human_fraction", pass_at_least=0.5, fail_below=0.5)
    assert finding("human_fraction", shares(0.5), rules=rules).status == "pass"
    assert finding("human_fraction", shares(below(0.5, 0)), rules=rules).status == "fail"


def test_a_rule_left_out_or_null_is_switched_off() -> None:
    assert evaluate(PolicyRules(), figures(0, {5: 1000}), previous()) == []
    rules = PolicyRules.model_validate({"replace": None, "human_fraction": {"pass_at_least": 0.5}})
    assert [f.rule for f in evaluate(rules, figures(1, {1: 1}), previous())] == ["human_fraction"]


def test_figures_refuse_impossible_numbers() -> None:
    with pytest.raises(ValueError, match="human_fraction"):
        shares(float("nan"))
    with pytest.raises(ValueError, match="human_amount"):
        previous(human=-1.0)


# --- each rule at and around its thresholds -----------------------------------------------------


@pytest.mark.parametrize(
    ("share", "status"),
    [
        (1.0, "pass"),
        (0.67, "pass"),
        (below(0.67, 0), "warn"),
        (0.5, "warn"),
        (0.10, "warn"),
        (below(0.10, 0), "fail"),
        (0.0, "fail"),
    ],
)
def test_human_fraction(share: float, status: Status) -> None:
    result = finding("human_fraction", shares(share))
    assert result.status == status
    assert result.observed == share
    assert result.threshold == {"pass_at_least": 0.67, "fail_below": 0.10}


@pytest.mark.parametrize(
    ("load", "status"),
    [
        (0.0, "pass"),
        (0.25, "pass"),
        (below(0.25, 1), "warn"),
        (1.0, "warn"),
        (below(1.0, 2), "fail"),
        (7.0, "fail"),
    ],
)
def test_depth_load(load: float, status: Status) -> None:
    result = finding("depth_load", shares(0.5, depth_load=load))
    assert result.status == status
    assert result.threshold == {"pass_at_most": 0.25, "fail_above": 1.0}


@pytest.mark.parametrize(
    ("deep", "status"),
    [(0.0, "pass"), (0.10, "pass"), (below(0.10, 1), "warn"), (1.0, "warn")],
)
def test_deep_tail_counts_depth_three_and_beyond(deep: float, status: Status) -> None:
    fig = SetFigures(0.0, 1.0, 0.0, 2.0, {2: 1.0 - deep, 3: deep / 2, 7: deep / 2}, 1.0)
    assert finding("deep_tail", fig).status == status


def test_deep_tail_ignores_shallower_synthetic_data() -> None:
    assert finding("deep_tail", figures(0, {1: 500, 2: 500})).status == "pass"


def test_deep_tail_fails_only_when_the_policy_says_so() -> None:
    rules = only("deep_tail", min_depth=2, pass_at_most=0.1, fail_above=0.5)
    assert finding("deep_tail", figures(60, {2: 40}), rules=rules).status == "warn"
    assert finding("deep_tail", figures(50, {2: 50}), rules=rules).status == "warn"
    assert finding("deep_tail", figures(40, {2: 60}), rules=rules).status == "fail"


@pytest.mark.parametrize(
    ("unknown", "status"),
    [(0.0, "pass"), (0.20, "pass"), (below(0.20, 1), "warn"), (1.0, "warn")],
)
def test_unknown_fraction(unknown: float, status: Status) -> None:
    result = finding("unknown_fraction", shares(1.0 - unknown, unknown=unknown))
    assert result.status == status
    if status != "pass":
        assert "headwater_origin" in result.message


def test_unknown_fraction_fails_only_when_the_policy_says_so() -> None:
    rules = only("unknown_fraction", pass_at_most=0.2, fail_above=0.5)
    assert finding("unknown_fraction", shares(0.5, unknown=0.5), rules=rules).status == "warn"
    assert finding("unknown_fraction", shares(0.4, unknown=0.6), rules=rules).status == "fail"


@pytest.mark.parametrize("rule", ["replace", "fresh_real"])
def test_self_consuming_rules_do_not_apply_without_a_previous_generation(rule: str) -> None:
    result = finding(rule, figures(0, {9: 1000}), None)
    assert result.status == "not_applicable"
    assert result.observed is None
    assert "not self-consuming" in result.message


@pytest.mark.parametrize(
    ("human_now", "status"),
    [
        (2000.0, "pass"),
        (1000.0, "pass"),
        (1000.0 * (1 - 1e-12), "pass"),  # rounding in fraction x total, not a fall
        (999.0, "warn"),
        (1.0, "warn"),
        (0.0, "fail"),
    ],
)
def test_replace(human_now: float, status: Status) -> None:
    result = finding("replace", figures(human_now, {1: 1000}), previous(human=1000))
    assert result.status == status
    assert result.threshold["pass_at_least"] == 1000.0
    assert result.observed == pytest.approx(human_now)


def test_replace_tolerates_the_fall_the_policy_allows() -> None:
    rules = only("replace", warn_below_ratio=0.5)
    assert finding("replace", figures(500, {1: 500}), previous(), rules).status == "pass"
    assert finding("replace", figures(499, {1: 500}), previous(), rules).status == "warn"


def test_replace_passes_when_the_previous_generation_had_no_human_data() -> None:
    result = finding("replace", figures(0, {2: 1000}), previous(human=0))
    assert result.status == "pass"
    assert "no human-made data" in result.message


def test_replace_compares_shares_when_amounts_are_unknown() -> None:
    fig = figures(400, {1: 600}, amounts_known=False)
    result = finding("replace", fig, previous(human=None, human_fraction=0.8))
    assert result.status == "warn"
    assert result.observed == pytest.approx(0.4)
    assert "amounts are unknown, so human shares are compared" in result.message
    kept = finding("replace", fig, previous(human=None, human_fraction=0.4))
    assert kept.status == "pass"
    none_left = figures(0, {1: 600}, amounts_known=False)
    assert finding("replace", none_left, previous(human_fraction=0.8)).status == "fail"


def test_replace_warns_that_it_cannot_tell_without_amounts_or_shares() -> None:
    fig = figures(400, {1: 600}, amounts_known=False)
    result = finding("replace", fig, previous(human=None))
    assert result.status == "warn"
    assert result.observed is None
    assert "cannot be told" in result.message


@pytest.mark.parametrize(
    ("added_human", "added_synthetic", "status"),
    [
        (1000.0, 1000.0, "pass"),
        (1000.0 * (1 - 1e-12), 1000.0, "pass"),
        (1500.0, 1000.0, "pass"),
        (999.0, 1000.0, "warn"),
        (0.0, 1000.0, "warn"),
        (0.0, 0.0, "pass"),
    ],
)
def test_fresh_real(added_human: float, added_synthetic: float, status: Status) -> None:
    prev = previous(added_human=added_human, added_synthetic=added_synthetic)
    result = finding("fresh_real", figures(1000, {1: 1000}), prev)
    assert result.status == status
    assert result.observed == added_human


def test_fresh_real_ratio_belongs_to_the_policy() -> None:
    rules = only("fresh_real", min_ratio=2.0)
    prev = previous(added_human=1500, added_synthetic=1000)
    assert finding("fresh_real", figures(1500, {1: 1000}), prev, rules).status == "warn"
    prev = previous(added_human=2000, added_synthetic=1000)
    assert finding("fresh_real", figures(2000, {1: 1000}), prev, rules).status == "pass"


def test_fresh_real_warns_that_it_cannot_tell_without_amounts() -> None:
    prev = previous(added_human=None, added_synthetic=None)
    assert finding("fresh_real", figures(1, {1: 1}), prev).status == "warn"


# --- verdict ------------------------------------------------------------------------------------


def _finding(status: Status) -> Finding:
    return Finding("human_fraction", status, 0.5, {}, "", "")


def test_verdict_of_nothing_is_pass() -> None:
    assert verdict([]) == "pass"


@pytest.mark.parametrize(
    ("statuses", "worst"),
    [
        (["pass"], "pass"),
        (["pass", "warn", "pass"], "warn"),
        (["warn", "fail", "pass"], "fail"),
        (["fail", "warn"], "fail"),
    ],
)
def test_verdict_is_the_worst_finding(statuses: list[Status], worst: Status) -> None:
    assert verdict([_finding(s) for s in statuses]) == worst


# --- published scenarios ------------------------------------------------------------------------


def test_replace_loop_generation_one_fails() -> None:
    # Generation 1 trains only on generation 0's output; generation 0 trained on 1000 real.
    fig = figures(0, {1: 1000})
    prev = previous(human=1000, added_human=0, added_synthetic=1000)
    assert finding("replace", fig, prev).status == "fail"
    assert verdict(evaluate(TABLE, fig, prev)) == "fail"


def test_accumulate_loop_keeps_real_data_but_adds_none() -> None:
    fig = figures(1000, {1: 1000})
    prev = previous(human=1000, added_human=0, added_synthetic=1000)
    assert finding("replace", fig, prev).status == "pass"
    assert finding("fresh_real", fig, prev).status == "warn"


def test_fresh_data_loop_passes() -> None:
    fig = figures(1000, {1: 1000})
    prev = previous(human=1000, added_human=1000, added_synthetic=1000)
    assert finding("fresh_real", fig, prev).status == "pass"


def test_one_synthetic_to_three_real_passes_human_fraction() -> None:
    result = finding("human_fraction", figures(3000, {1: 1000}))
    assert result.observed == 0.75
    assert result.status == "pass"


def test_one_to_one_warns_human_fraction() -> None:
    assert finding("human_fraction", figures(1000, {1: 1000})).status == "warn"


def test_one_to_two_passes_the_default_policy() -> None:
    # Bertrand et al.: stable while synthetic:real stays at or below 1:2 (design section 4)
    current = default_policy_rules()
    assert finding("human_fraction", figures(2000, {1: 1000}), None, current).status == "pass"
    assert finding("human_fraction", figures(1999, {1: 1000}), None, current).status == "warn"
    # the first version's 0.67 warned at exactly 1:2
    assert finding("human_fraction", figures(2000, {1: 1000})).status == "warn"


# --- messages -----------------------------------------------------------------------------------


def test_message_states_the_numbers_and_the_evidence() -> None:
    result = finding("human_fraction", figures(380, {1: 620}))
    assert result.message == (
        "38.0 % of the training set is human-made; this policy passes at 67 % or more and fails "
        "below 10 % (Bertrand et al., ICLR 2024; Shumailov et al., Nature 631 (2024))."
    )
    assert result.reference == "Bertrand et al., ICLR 2024; Shumailov et al., Nature 631 (2024)"


def test_message_never_rounds_a_warning_onto_its_threshold() -> None:
    result = finding("human_fraction", shares(0.66999))
    assert result.status == "warn"
    assert "66.999 %" in result.message and "67.0 %" not in result.message


def test_replace_message_names_the_previous_generation() -> None:
    result = finding("replace", figures(600, {1: 400}), previous(human=1000))
    assert "fell from 1,000" in result.message
    assert "to 600" in result.message
    assert "version v1" in result.message


# --- remediation: worked examples ---------------------------------------------------------------


def test_remediation_for_human_fraction() -> None:
    fig = figures(1000, {1: 1000})
    rem = remediation(TABLE, fig, None)
    assert rem.verdict == "warn"
    needs = {r.rule: r.amount for r in rem.rules}
    assert needs["human_fraction"] == pytest.approx((0.67 - 0.5) * 2000 / (1 - 0.67))
    assert needs["depth_load"] == pytest.approx(2000 * (0.5 / 0.25 - 1))
    assert rem.additional_human_amount == pytest.approx(2000)
    assert rem.additional_human_ratio == pytest.approx(1.0)
    assert rem.not_fixable == []
    assert rem.message == (
        "Adding at least 2,000 of human-made (depth-0) data, 100.0 % of the current training "
        "set's 2,000, would bring every rule that human data can fix to pass; depth_load needs "
        "the most."
    )
    assert rem.rules[0].message == (
        "human_fraction: adding 1,031 of human-made data lifts the human-made share from "
        "50.0 % to 67 %."
    )
    assert rem.additional_human_amount is not None
    after, _ = with_added_human(fig, None, rem.additional_human_amount)
    assert verdict(evaluate(TABLE, after, None)) == "pass"


def test_remediation_per_rule_amounts() -> None:
    fig = figures(380, {1: 300, 3: 200}, 120)
    prev = previous(human=1000, added_human=0, added_synthetic=500)
    rem = remediation(TABLE, fig, prev)
    amounts = {r.rule: r.amount for r in rem.rules}
    assert amounts["replace"] == pytest.approx(620)
    assert amounts["fresh_real"] == pytest.approx(500)
    assert amounts["human_fraction"] == pytest.approx((0.67 - 0.38) * 1000 / 0.33)
    assert amounts["depth_load"] == pytest.approx(1000 * (0.9 / 0.25 - 1))
    assert amounts["deep_tail"] == pytest.approx(1000 * (0.2 / 0.1 - 1))
    assert rem.additional_human_amount == pytest.approx(2600)
    assert rem.message.startswith("Adding at least 2,600 of human-made (depth-0) data, 260.0 %")


def test_remediation_to_warn_needs_less_than_to_pass() -> None:
    fig = figures(50, {1: 950})
    to_pass = remediation(TABLE, fig, None, "pass")
    to_warn = remediation(TABLE, fig, None, "warn")
    assert to_warn.additional_human_amount == pytest.approx((0.10 - 0.05) * 1000 / 0.90)
    assert to_pass.additional_human_amount is not None
    assert to_warn.additional_human_amount is not None
    assert to_warn.additional_human_amount < to_pass.additional_human_amount


def test_remediation_out_of_a_replace_fail_needs_only_some_human_data() -> None:
    rules = only("replace")
    fig = figures(0, {1: 1000})
    rem = remediation(rules, fig, previous(human=1000), "warn")
    assert rem.additional_human_amount is not None
    assert 0 < rem.additional_human_amount < 1e-5
    assert "any human-made data" in rem.rules[0].message


def test_remediation_when_nothing_is_needed() -> None:
    rem = remediation(TABLE, figures(1000), None)
    assert rem.additional_human_amount == 0.0
    assert rem.rules == [] and rem.not_fixable == []
    assert (
        rem.message == "Every rule already reaches pass; no additional human-made data is needed."
    )


def test_remediation_is_relative_when_amounts_are_unknown() -> None:
    fig = figures(1000, {1: 1000}, amounts_known=False)
    rem = remediation(TABLE, fig, None)
    assert rem.additional_human_amount is None
    assert rem.additional_human_ratio == pytest.approx(1.0)
    needs = {r.rule: r.ratio for r in rem.rules}
    assert needs["human_fraction"] == pytest.approx((0.67 - 0.5) / 0.33)
    assert all(r.amount is None for r in rem.rules)
    assert "amounts are unknown" in rem.message and "100.0 %" in rem.message
    assert "51.6 %" in rem.rules[0].message


def test_remediation_lists_what_human_data_cannot_fix() -> None:
    rules = PolicyRules.model_validate(
        {
            "human_fraction": {"pass_at_least": 1.0},
            "unknown_fraction": {"pass_at_most": 0.0},
            "depth_load": {"pass_at_most": 0.25},
        }
    )
    rem = remediation(rules, figures(500, {1: 500}, 100), None)
    assert [r.rule for r in rem.not_fixable] == ["human_fraction", "unknown_fraction"]
    assert all(r.amount is None and r.ratio is None for r in rem.not_fixable)
    assert [r.rule for r in rem.rules] == ["depth_load"]
    assert "no amount of added human-made data can be named" in rem.message


def test_remediation_cannot_name_an_amount_without_amounts_or_shares() -> None:
    fig = figures(500, {1: 500}, amounts_known=False)
    prev = previous(human=None, added_human=None, added_synthetic=None)
    rem = remediation(only("replace"), fig, prev)
    assert [r.rule for r in rem.not_fixable] == ["replace"]
    assert rem.additional_human_ratio == 0.0


# --- properties ---------------------------------------------------------------------------------

amounts = st.one_of(st.just(0.0), st.floats(1e-3, 1e6))
unit = st.floats(0.0, 1.0)


@st.composite
def policies(draw: st.DrawFn) -> PolicyRules:
    body: dict[str, Any] = {}
    if draw(st.booleans()):
        passing = draw(unit)
        body["human_fraction"] = {
            "pass_at_least": passing,
            "fail_below": draw(st.none() | st.floats(0.0, passing)),
        }
    if draw(st.booleans()):
        passing = draw(st.floats(0.0, 3.0))
        body["depth_load"] = {
            "pass_at_most": passing,
            "fail_above": draw(st.none() | st.floats(passing, 5.0)),
        }
    if draw(st.booleans()):
        passing = draw(unit)
        body["deep_tail"] = {
            "min_depth": draw(st.integers(1, 6)),
            "pass_at_most": passing,
            "fail_above": draw(st.none() | st.floats(passing, 1.0)),
        }
    if draw(st.booleans()):
        passing = draw(unit)
        body["unknown_fraction"] = {
            "pass_at_most": passing,
            "fail_above": draw(st.none() | st.floats(passing, 1.0)),
        }
    if draw(st.booleans()):
        body["replace"] = {"warn_below_ratio": draw(st.floats(0.0, 1.0, exclude_min=True))}
    if draw(st.booleans()):
        body["fresh_real"] = {"min_ratio": draw(st.floats(0.0, 5.0))}
    return PolicyRules.model_validate(body)


@st.composite
def training_sets(draw: st.DrawFn, amounts_known: bool | None = None) -> SetFigures:
    human = draw(amounts)
    synthetic = draw(st.dictionaries(st.integers(1, 8), amounts, max_size=4))
    unknown = draw(amounts)
    assume(human + sum(synthetic.values()) + unknown > 0)
    known = draw(st.booleans()) if amounts_known is None else amounts_known
    return figures(human, synthetic, unknown, amounts_known=known)


previous_generations = st.none() | st.builds(
    previous,
    human=st.none() | amounts,
    added_human=st.none() | amounts,
    added_synthetic=st.none() | amounts,
    human_fraction=st.none() | unit,
)
targets: st.SearchStrategy[Target] = st.sampled_from(["pass", "warn"])


@settings(max_examples=400)
@given(policies(), training_sets(), previous_generations, targets, st.sampled_from([1.0, 1 + 1e-9]))
def test_adding_the_remediation_reaches_the_target(
    rules: PolicyRules,
    fig: SetFigures,
    prev: PreviousGeneration | None,
    target: Target,
    nudge: float,
) -> None:
    rem = remediation(rules, fig, prev, target)
    known = fig.total_amount is not None
    amount = rem.additional_human_amount if known else rem.additional_human_ratio
    assert amount is not None and amount >= 0.0
    # Without a total, a fresh_real need is in its own unit and stated apart.
    apart = {r.rule for r in rem.rules if not known and r.ratio is None}
    unreachable = {r.rule for r in rem.not_fixable} | apart

    after, prev_after = with_added_human(fig, prev, amount * nudge)
    for result in evaluate(rules, after, prev_after):
        if result.rule not in unreachable:
            assert RANK[result.status] <= RANK[target], (result, rem)
    for item in rem.rules:
        own = item.amount if known or item.rule in apart else item.ratio
        assert own is not None
        assert own <= amount or item.rule in apart


@given(policies(), training_sets(amounts_known=True), previous_generations, amounts, amounts)
def test_more_human_data_never_makes_a_finding_worse(
    rules: PolicyRules,
    fig: SetFigures,
    prev: PreviousGeneration | None,
    first: float,
    more: float,
) -> None:
    assume(more > 0)
    less_fig, less_prev = with_added_human(fig, prev, first)
    more_fig, more_prev = with_added_human(fig, prev, first + more)
    before = {f.rule: f.status for f in evaluate(rules, less_fig, less_prev)}
    after = {f.rule: f.status for f in evaluate(rules, more_fig, more_prev)}
    for rule, status in after.items():
        assert RANK[status] <= RANK[before[rule]], (rule, before, after)
    assert (
        RANK[verdict(evaluate(rules, more_fig, more_prev))]
        <= RANK[verdict(evaluate(rules, less_fig, less_prev))]
    )


@given(training_sets(amounts_known=True), amounts)
def test_adding_human_data_keeps_the_figures_consistent(fig: SetFigures, amount: float) -> None:
    after, _ = with_added_human(fig, None, amount)
    assert fig.total_amount is not None and after.total_amount is not None
    assert after.total_amount == pytest.approx(fig.total_amount + amount)
    total = after.human_fraction + after.synthetic_fraction + after.unknown_fraction
    assert total == pytest.approx(1.0)
    assert math.fsum(after.depth_histogram.values()) + after.unknown_fraction == pytest.approx(1.0)
    load = math.fsum(d * m for d, m in after.depth_histogram.items())
    assert after.depth_load == pytest.approx(load, abs=1e-12)
