"""Declared origins: every rule of resolve_origin and every way a declaration is refused."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.composition.origin import (
    C2PA_PREFIX,
    DIGITAL_SOURCE_TYPES,
    IPTC_PREFIX,
    Origin,
    OriginInvalid,
    resolve_origin,
)

CAPTURE = IPTC_PREFIX + "digitalCapture"
TRAINED = IPTC_PREFIX + "trainedAlgorithmicMedia"
TRAINED_DATA = C2PA_PREFIX + "trainedAlgorithmicData"
WITH_TRAINED = IPTC_PREFIX + "compositeWithTrainedAlgorithmicMedia"

# The IPTC vocabulary's terms (release of 2024-10-23, retired ones included) and C2PA's two.
IPTC_TERMS = {
    "digitalCapture",
    "computationalCapture",
    "negativeFilm",
    "positiveFilm",
    "print",
    "minorHumanEdits",
    "humanEdits",
    "algorithmicallyEnhanced",
    "softwareImage",
    "digitalArt",
    "digitalCreation",
    "dataDrivenMedia",
    "trainedAlgorithmicMedia",
    "algorithmicMedia",
    "screenCapture",
    "virtualRecording",
    "composite",
    "compositeCapture",
    "compositeSynthetic",
    "compositeWithTrainedAlgorithmicMedia",
}
HUMAN_TYPES = sorted(uri for uri, category in DIGITAL_SOURCE_TYPES.items() if category == "human")
SYNTHETIC_TYPES = sorted(uri for uri, c in DIGITAL_SOURCE_TYPES.items() if c == "synthetic")
NEEDS_FRACTIONS = sorted(
    uri for uri, c in DIGITAL_SOURCE_TYPES.items() if c in ("composite", "algorithmic")
)


def fractions(origin: Origin) -> tuple[float, float, float]:
    return origin.human, origin.synthetic, origin.unknown


def test_vocabulary_is_complete_and_classified() -> None:
    assert set(DIGITAL_SOURCE_TYPES) == {IPTC_PREFIX + t for t in IPTC_TERMS} | {
        C2PA_PREFIX + "trainedAlgorithmicData",
        C2PA_PREFIX + "empty",
    }
    assert set(DIGITAL_SOURCE_TYPES.values()) == {
        "human",
        "synthetic",
        "composite",
        "algorithmic",
        "unknown",
    }
    assert set(SYNTHETIC_TYPES) == {TRAINED, TRAINED_DATA}
    for code in ("digitalCapture", "negativeFilm", "positiveFilm", "print", "humanEdits"):
        assert DIGITAL_SOURCE_TYPES[IPTC_PREFIX + code] == "human"
    for code in ("minorHumanEdits", "compositeCapture", "screenCapture", "virtualRecording"):
        assert DIGITAL_SOURCE_TYPES[IPTC_PREFIX + code] == "human"
    for code in ("composite", "compositeSynthetic", "compositeWithTrainedAlgorithmicMedia"):
        assert DIGITAL_SOURCE_TYPES[IPTC_PREFIX + code] == "composite"


def test_vocabulary_cannot_be_changed_at_runtime() -> None:
    with pytest.raises(TypeError):
        DIGITAL_SOURCE_TYPES[CAPTURE] = "synthetic"  # type: ignore[index]


def test_full_declaration() -> None:
    origin = resolve_origin(human=0.7, synthetic=0.3, unknown=0.0, synthetic_depth=2)
    assert origin == Origin(0.7, 0.3, 0.0, 2, None)


def test_omitted_fractions_are_zero() -> None:
    assert fractions(resolve_origin(human=1.0)) == (1.0, 0.0, 0.0)
    assert fractions(resolve_origin(synthetic=0.25, unknown=0.75)) == (0.0, 0.25, 0.75)


def test_omitted_unknown_takes_the_remainder() -> None:
    assert fractions(resolve_origin(human=0.6, synthetic=0.15)) == pytest.approx((0.6, 0.15, 0.25))
    assert fractions(resolve_origin(synthetic=0.4)) == pytest.approx((0.0, 0.4, 0.6))
    assert fractions(resolve_origin(human=0.0)) == (0.0, 0.0, 1.0)


def test_fractions_within_tolerance_are_normalized() -> None:
    origin = resolve_origin(human=0.5000004, synthetic=0.5000004, unknown=0.0)
    assert math.fsum(fractions(origin)) == pytest.approx(1.0, abs=1e-15)
    assert origin.human == pytest.approx(0.5, abs=1e-15)


@given(st.lists(st.floats(0.0, 1.0), min_size=3, max_size=3).filter(lambda r: sum(r) > 0))
@settings(max_examples=200, deadline=None)
def test_any_distribution_resolves_to_fractions_summing_to_one(raw: list[float]) -> None:
    total = math.fsum(raw)
    h, s, u = (x / total for x in raw)
    origin = resolve_origin(human=h, synthetic=s, unknown=u)
    assert math.fsum(fractions(origin)) == pytest.approx(1.0, abs=1e-15)
    assert all(0.0 <= x <= 1.0 for x in fractions(origin))
    assert fractions(origin) == pytest.approx((h, s, u), abs=1e-12)


@pytest.mark.parametrize(
    "declared",
    [
        {"human": 0.5, "synthetic": 0.2, "unknown": 0.1},  # unknown given, sum < 1
        {"human": 0.5, "unknown": 0.2},
        {"human": 0.7, "synthetic": 0.7},  # sum > 1
        {"human": 1.0, "unknown": 0.5},
        {"human": 0.6, "synthetic": 0.3, "unknown": 0.2},
    ],
)
def test_fractions_must_sum_to_one(declared: dict[str, float]) -> None:
    with pytest.raises(OriginInvalid, match="sum to 1"):
        resolve_origin(**declared)  # type: ignore[arg-type]


def test_sum_error_suggests_omitting_unknown() -> None:
    with pytest.raises(OriginInvalid, match="omit unknown"):
        resolve_origin(human=0.5, unknown=0.2)


@pytest.mark.parametrize("name", ["human", "synthetic", "unknown"])
@pytest.mark.parametrize("value", [-0.1, 1.5, math.nan, math.inf, -math.inf, True, "0.5"])
def test_each_fraction_must_be_a_number_in_the_unit_interval(name: str, value: object) -> None:
    with pytest.raises(OriginInvalid, match=name):
        resolve_origin(**{name: value})  # type: ignore[arg-type]


def test_integer_fractions_are_accepted() -> None:
    assert fractions(resolve_origin(human=1, synthetic=0)) == (1.0, 0.0, 0.0)


def test_synthetic_depth_defaults_to_one() -> None:
    assert resolve_origin(synthetic=1.0).synthetic_depth == 1


@pytest.mark.parametrize("depth", [0, -1, 10_001, 1.5, 2.0, True, "2"])
def test_synthetic_depth_must_be_a_positive_whole_number(depth: object) -> None:
    with pytest.raises(OriginInvalid, match="synthetic_depth"):
        resolve_origin(synthetic=1.0, synthetic_depth=depth)  # type: ignore[arg-type]


def test_synthetic_depth_upper_bound_is_accepted() -> None:
    assert resolve_origin(synthetic=1.0, synthetic_depth=10_000).synthetic_depth == 10_000


def test_nothing_declared_is_refused() -> None:
    with pytest.raises(OriginInvalid, match="needs fractions"):
        resolve_origin()
    with pytest.raises(OriginInvalid, match="needs fractions"):
        resolve_origin(synthetic_depth=3)


@pytest.mark.parametrize("uri", HUMAN_TYPES)
def test_capture_and_human_edit_types_alone_mean_all_human(uri: str) -> None:
    origin = resolve_origin(digital_source_type=uri)
    assert origin == Origin(1.0, 0.0, 0.0, 1, uri)


@pytest.mark.parametrize("uri", SYNTHETIC_TYPES)
def test_trained_algorithmic_types_alone_mean_all_synthetic(uri: str) -> None:
    origin = resolve_origin(digital_source_type=uri, synthetic_depth=3)
    assert origin == Origin(0.0, 1.0, 0.0, 3, uri)


def test_c2pa_empty_alone_means_all_unknown() -> None:
    uri = C2PA_PREFIX + "empty"
    assert resolve_origin(digital_source_type=uri) == Origin(0.0, 0.0, 1.0, 1, uri)


@pytest.mark.parametrize("uri", NEEDS_FRACTIONS)
def test_mixed_and_algorithmic_types_need_explicit_fractions(uri: str) -> None:
    with pytest.raises(OriginInvalid, match="give the human, synthetic and unknown fractions"):
        resolve_origin(digital_source_type=uri)
    origin = resolve_origin(human=0.5, synthetic=0.5, digital_source_type=uri)
    assert origin == Origin(0.5, 0.5, 0.0, 1, uri)


@pytest.mark.parametrize(
    "uri",
    [
        "http://cv.iptc.org/newscodes/digitalsourcetype/madeUp",
        "https://example.com/trainedAlgorithmicMedia/x",
        "",
        "trainedalgorithmic",
    ],
)
def test_unrecognised_type_is_refused_by_name(uri: str) -> None:
    with pytest.raises(OriginInvalid) as raised:
        resolve_origin(human=1.0, digital_source_type=uri)
    assert repr(uri) in str(raised.value)
    assert "Did you mean" not in str(raised.value)


@pytest.mark.parametrize(
    "uri",
    [
        "https://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia",
        "trainedAlgorithmicMedia",
        "http://cv.iptc.org/newscodes/digitalsourcetype/trainedalgorithmicmedia/",
    ],
)
def test_near_miss_type_suggests_the_term(uri: str) -> None:
    with pytest.raises(OriginInvalid, match=f"Did you mean '{TRAINED}'"):
        resolve_origin(digital_source_type=uri)


def test_fractions_win_over_the_type() -> None:
    origin = resolve_origin(human=0.8, unknown=0.2, digital_source_type=CAPTURE)
    assert origin == Origin(0.8, 0.0, 0.2, 1, CAPTURE)
    origin = resolve_origin(synthetic=0.9, digital_source_type=TRAINED)
    assert fractions(origin) == pytest.approx((0.0, 0.9, 0.1))


@pytest.mark.parametrize("uri", HUMAN_TYPES)
def test_human_type_with_synthetic_fraction_is_a_contradiction(uri: str) -> None:
    with pytest.raises(OriginInvalid, match="human-made"):
        resolve_origin(human=0.9, synthetic=0.1, digital_source_type=uri)


@pytest.mark.parametrize("uri", SYNTHETIC_TYPES)
def test_synthetic_type_with_human_fraction_is_a_contradiction(uri: str) -> None:
    with pytest.raises(OriginInvalid, match="model-generated"):
        resolve_origin(human=0.1, synthetic=0.9, digital_source_type=uri)


def test_composite_with_trained_media_needs_some_synthetic() -> None:
    with pytest.raises(OriginInvalid, match="no synthetic fraction"):
        resolve_origin(human=1.0, digital_source_type=WITH_TRAINED)
    assert (
        resolve_origin(human=0.7, synthetic=0.3, digital_source_type=WITH_TRAINED).synthetic == 0.3
    )


def test_generic_composite_accepts_any_fractions() -> None:
    uri = IPTC_PREFIX + "composite"
    assert fractions(resolve_origin(human=1.0, digital_source_type=uri)) == (1.0, 0.0, 0.0)
    assert fractions(resolve_origin(synthetic=1.0, digital_source_type=uri)) == (0.0, 1.0, 0.0)


def test_origin_invalid_is_a_value_error_with_a_sentence() -> None:
    with pytest.raises(ValueError) as raised:
        resolve_origin(human=2.0)
    message = str(raised.value)
    assert isinstance(raised.value, OriginInvalid)
    assert message[0].isupper() and message.endswith(".")
