"""How findings and remedies word their numbers: never a figure that reads as equal to a
threshold it differs from, and never a remedy rounded short of the need."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from decimal import ROUND_CEILING, Context, Decimal, localcontext


def _distinct(render: Callable[[float, int], str], value: float, against: Sequence[float]) -> str:
    """``value`` rendered with just enough digits not to read as equal to a threshold it differs
    from, so that "67.0 %" never appears beside "passes at 67 %" while warning."""
    for digits in range(0, 12):
        text = render(value, digits)
        if all(other == value or render(other, digits) != text for other in against):
            return text
    return text


def pct(value: float, *against: float) -> str:
    return _distinct(lambda v, d: f"{v * 100:.{d + 1}f}", value, against) + " %"


def pct_limit(value: float) -> str:
    return f"{value * 100:.6g} %"


def _sig(value: float, extra: int) -> int:
    whole = math.floor(math.log10(abs(value))) + 1 if value else 1
    return max(4, min(whole, 15)) + extra


def quantity(value: float, *against: float) -> str:
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


def leading(value: float) -> int:
    """The exponent of ``value``'s leading digit."""
    return Decimal(value).adjusted()


def amount_up(value: float) -> str:
    """Rounded up, so that adding the amount as read is never short of the need."""
    if value <= 0.0:
        return "0"
    digits = _sig(value, 0)
    return f"{_ceiling(value, leading(value) + 1 - digits):,.{digits}g}"


def pct_up(value: float) -> str:
    percent = value * 100
    if percent <= 0.0:
        return "0 %"
    if percent >= 1.0:
        return f"{_ceiling(percent, -1):,.1f} %"
    return f"{_ceiling(percent, leading(percent) - 1):.2g} %"


def number_limit(value: float) -> str:
    return f"{value:.6g}"


def number(value: float, *against: float) -> str:
    return _distinct(lambda v, d: f"{v:.{d + 2}f}", value, against)


def times(ratio: float) -> str:
    return "as much as" if ratio == 1.0 else f"{ratio:g} times"


def cited(reference: str) -> str:
    return f" ({reference})" if reference else ""


def failing_clause(fail: float | None, render: Callable[[float], str], word: str) -> str:
    return "" if fail is None else f" and fails {word} {render(fail)}"
