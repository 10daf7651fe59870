"""The numbers rules read: a training set's composition summary (``SetFigures``), the previous
generation of a self-consuming lineage (``PreviousGeneration``), and what a rule finds."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import replace as dataclass_replace
from typing import Literal

Status = Literal["pass", "warn", "fail"]
# A finding's outcome: a rule that needs a previous generation has nothing to judge without one
# (design section 4); it weighs like a pass in the verdict.
Outcome = Literal["pass", "warn", "fail", "not_applicable"]
Target = Literal["pass", "warn"]


# Amounts compared with each other (replace, fresh_real) are products of fractions the
# composition engine guarantees only to 1e-9, and equality is their expected case: an
# accumulating lineage carries exactly the previous generation's human data forward. Rounding
# must not turn that into a warning, nor a leftover 1e-17 into "some human data". Thresholds
# a policy writes down (0.67, 0.25, ...) are compared exactly, as the table states them.
AMOUNT_RTOL = 1e-9

RANK: dict[str, int] = {"not_applicable": 0, "pass": 0, "warn": 1, "fail": 2}
STATUSES: tuple[Status, ...] = ("pass", "warn", "fail")


def check_amount(name: str, value: float | None) -> None:
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
        check_amount("human_fraction", self.human_fraction)
        check_amount("synthetic_fraction", self.synthetic_fraction)
        check_amount("unknown_fraction", self.unknown_fraction)
        check_amount("depth_load", self.depth_load)
        check_amount("total_amount", self.total_amount)
        check_amount("checked_human_fraction", self.checked_human_fraction)
        check_amount("verified_human_fraction", self.verified_human_fraction)
        for depth, mass in self.depth_histogram.items():
            check_amount(f"depth_histogram[{depth}]", mass)

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
        check_amount("human_amount", self.human_amount)
        check_amount("added_human_amount", self.added_human_amount)
        check_amount("added_synthetic_amount", self.added_synthetic_amount)
        check_amount("human_fraction", self.human_fraction)


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    status: Outcome
    observed: float | None
    threshold: dict[str, float]
    message: str
    reference: str


def known_total(figures: SetFigures) -> float | None:
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
    check_amount("amount", amount)
    total = known_total(figures)
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
