"""Statistics and typed results shared by every benchmark."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict


class Result(BaseModel):
    """A benchmark's figures, recorded in ``results/latest.json`` under its field names."""

    model_config = ConfigDict(populate_by_name=True)

    def dump(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True)


class Latency(Result):
    n: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def latency_summary(seconds: Sequence[float]) -> Latency:
    ms = [s * 1000.0 for s in seconds]
    return Latency(
        n=len(ms),
        p50_ms=percentile(ms, 50),
        p90_ms=percentile(ms, 90),
        p99_ms=percentile(ms, 99),
        mean_ms=sum(ms) / len(ms) if ms else math.nan,
        max_ms=max(ms) if ms else math.nan,
    )


def ratio(a: float, b: float) -> float:
    return a / b if b else math.inf


def versus(
    measured: Sequence[float], baseline: Sequence[float]
) -> tuple[Latency, Latency, float, float]:
    """Latencies against their baseline's: both summaries, and the ratios of p50 and p99."""
    a, b = latency_summary(measured), latency_summary(baseline)
    return a, b, ratio(a.p50_ms, b.p50_ms), ratio(a.p99_ms, b.p99_ms)
