"""Declared origins: what a dataset that enters the graph from outside is made of.

An origin is the only place where a human fraction enters the graph, so it is validated here
once, strictly, and everything downstream trusts it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

SourceCategory = Literal["human", "synthetic", "composite", "algorithmic", "unknown"]

IPTC_PREFIX: Final = "http://cv.iptc.org/newscodes/digitalsourcetype/"
C2PA_PREFIX: Final = "http://c2pa.org/digitalsourcetype/"

# How each digital source type reads as a composition. Terms: the IPTC NewsCodes "Digital Source
# Type" vocabulary (http://cv.iptc.org/newscodes/digitalsourcetype/, release of 2024-10-23,
# retired terms kept because existing metadata still carries them) and the two terms C2PA mints
# itself. Depth 1 and above means "produced by a trained model", so only trained-algorithmic
# terms are synthetic here.
_IPTC: Final[dict[str, SourceCategory]] = {
    "digitalCapture": "human",
    # Non-generative merging of several real-life frames (HDR and the like).
    "computationalCapture": "human",
    "negativeFilm": "human",
    "positiveFilm": "human",
    "print": "human",
    "minorHumanEdits": "human",  # retired, superseded by humanEdits
    "humanEdits": "human",
    # Sharpening, noise reduction and similar corrections that leave the content itself as
    # captured or made by people; IPTC places generative edits under the composite terms.
    "algorithmicallyEnhanced": "human",
    "digitalArt": "human",  # retired, superseded by digitalCreation
    "digitalCreation": "human",
    "screenCapture": "human",
    "virtualRecording": "human",
    "compositeCapture": "human",
    "trainedAlgorithmicMedia": "synthetic",
    # Neither captured from life nor produced by a trained model (procedural output, charts
    # of data): the declarer has to say how it should count, as nothing is assumed human.
    "algorithmicMedia": "algorithmic",
    "dataDrivenMedia": "algorithmic",
    "softwareImage": "algorithmic",  # retired
    # Mixtures of unstated proportions.
    "composite": "composite",
    "compositeSynthetic": "composite",
    "compositeWithTrainedAlgorithmicMedia": "composite",
}
_C2PA: Final[dict[str, SourceCategory]] = {
    # Generated output that is data rather than media: text, tables, code.
    "trainedAlgorithmicData": "synthetic",
    # An explicit refusal to claim any source type.
    "empty": "unknown",
}

DIGITAL_SOURCE_TYPES: Final[Mapping[str, SourceCategory]] = MappingProxyType(
    {IPTC_PREFIX + code: category for code, category in _IPTC.items()}
    | {C2PA_PREFIX + code: category for code, category in _C2PA.items()}
)

# Types whose own definition promises some trained-model output in the mixture.
_REQUIRES_SYNTHETIC: Final = frozenset({IPTC_PREFIX + "compositeWithTrainedAlgorithmicMedia"})

SUM_TOLERANCE: Final = 1e-6
MAX_SYNTHETIC_DEPTH: Final = 10_000


@dataclass(frozen=True, slots=True)
class Origin:
    """A declared origin: fractions summing to 1, synthetic mass placed at ``synthetic_depth``.

    ``synthetic_depth`` is a lower bound when the generator is not recorded in the graph.
    Build one with :func:`resolve_origin`, which validates; the constructor trusts its input so
    that stored origins load without being judged again.
    """

    human: float
    synthetic: float
    unknown: float
    synthetic_depth: int = 1
    digital_source_type: str | None = None


class OriginInvalid(ValueError):
    """A declared origin that cannot be used; the message says what to change."""


def resolve_origin(
    *,
    human: float | None = None,
    synthetic: float | None = None,
    unknown: float | None = None,
    synthetic_depth: int | None = None,
    digital_source_type: str | None = None,
) -> Origin:
    """Validate a declaration and turn it into an :class:`Origin`.

    Omitted fractions are 0, except that an omitted ``unknown`` takes whatever the given
    fractions leave. A digital source type may stand alone when it implies the fractions; when
    fractions are given as well, they win, but must not contradict it.
    """
    depth = _resolve_depth(synthetic_depth)
    category = _category(digital_source_type)
    given = {"human": human, "synthetic": synthetic, "unknown": unknown}
    declared = {name: _fraction(name, value) for name, value in given.items() if value is not None}

    if not declared:
        if digital_source_type is None or category is None:
            raise OriginInvalid(
                "An origin needs fractions (human, synthetic, unknown) or a digitalSourceType; "
                "this one declares neither."
            )
        return _implied(category, digital_source_type, depth)

    h = declared.get("human", 0.0)
    s = declared.get("synthetic", 0.0)
    u = declared.get("unknown", 0.0)
    total = math.fsum((h, s, u))
    if "unknown" not in declared and total < 1.0:
        u = 1.0 - total
        total = math.fsum((h, s, u))
    if abs(total - 1.0) > SUM_TOLERANCE:
        hint = "" if "unknown" not in declared else " (omit unknown to let it take the rest)"
        raise OriginInvalid(
            f"The origin's fractions sum to {total:g}; human, synthetic and unknown must sum "
            f"to 1{hint}."
        )
    h, s, u = h / total, s / total, u / total

    if digital_source_type is not None and category is not None:
        _check_consistent(category, digital_source_type, h, s)
    return Origin(
        human=h,
        synthetic=s,
        unknown=u,
        synthetic_depth=depth,
        digital_source_type=digital_source_type,
    )


def _resolve_depth(synthetic_depth: int | None) -> int:
    if synthetic_depth is None:
        return 1
    if isinstance(synthetic_depth, bool) or not isinstance(synthetic_depth, int):
        raise OriginInvalid(
            f"synthetic_depth must be a whole number of model generations, not {synthetic_depth!r}."
        )
    if not 1 <= synthetic_depth <= MAX_SYNTHETIC_DEPTH:
        raise OriginInvalid(
            f"synthetic_depth must be between 1 and {MAX_SYNTHETIC_DEPTH} (model generations "
            f"behind the synthetic data), not {synthetic_depth}."
        )
    return synthetic_depth


def _fraction(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise OriginInvalid(f"The {name} fraction must be a number between 0 and 1, not {value!r}.")
    fraction = float(value)
    if not (math.isfinite(fraction) and 0.0 <= fraction <= 1.0):
        raise OriginInvalid(f"The {name} fraction must be between 0 and 1, not {value!r}.")
    return fraction


def _category(digital_source_type: str | None) -> SourceCategory | None:
    if digital_source_type is None:
        return None
    category = DIGITAL_SOURCE_TYPES.get(digital_source_type)
    if category is not None:
        return category
    raise OriginInvalid(_unrecognised(digital_source_type))


def _unrecognised(uri: str) -> str:
    message = (
        f"digitalSourceType {uri!r} is not a term of the IPTC digital source type vocabulary "
        f"({IPTC_PREFIX}<term>) nor one of C2PA's ({C2PA_PREFIX}<term>)."
    )
    code = uri.strip().rstrip("/").rsplit("/", 1)[-1]
    for known in DIGITAL_SOURCE_TYPES:
        if known.rsplit("/", 1)[-1].lower() == code.lower():
            return f"{message} Did you mean {known!r}?"
    return message


def _implied(category: SourceCategory, uri: str, depth: int) -> Origin:
    if category == "human":
        return Origin(1.0, 0.0, 0.0, depth, uri)
    if category == "synthetic":
        return Origin(0.0, 1.0, 0.0, depth, uri)
    if category == "unknown":
        return Origin(0.0, 0.0, 1.0, depth, uri)
    what = "a mixture" if category == "composite" else "neither captured nor model-generated data"
    raise OriginInvalid(
        f"digitalSourceType {uri!r} describes {what} and does not say how much of it is human "
        f"or synthetic; give the human, synthetic and unknown fractions as well."
    )


def _check_consistent(category: SourceCategory, uri: str, human: float, synthetic: float) -> None:
    if category == "human" and synthetic > 0.0:
        raise OriginInvalid(
            f"digitalSourceType {uri!r} means human-made data, but the origin declares a "
            f"synthetic fraction of {synthetic:g}; correct the fraction or the type."
        )
    if category == "synthetic" and human > 0.0:
        raise OriginInvalid(
            f"digitalSourceType {uri!r} means model-generated data, but the origin declares a "
            f"human fraction of {human:g}; correct the fraction or the type (a mixture is "
            f"{IPTC_PREFIX}compositeWithTrainedAlgorithmicMedia)."
        )
    if uri in _REQUIRES_SYNTHETIC and synthetic == 0.0:
        raise OriginInvalid(
            f"digitalSourceType {uri!r} means the data includes model-generated parts, but the "
            f"origin declares no synthetic fraction; correct the fraction or the type."
        )
