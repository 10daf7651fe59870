"""OpenLineage events (spec 2-0-2) as Headwater reads them, validated by pydantic.

Validation follows the spec where it matters for lineage and the official clients' leniency
everywhere else: extra keys and unknown facets are accepted and kept; only the fields and facets
the mapping reads are checked, each error at its JSON path. A facet marked ``_deleted`` is not
checked (nor read).

The ``headwater_origin`` dataset facet is defined here once: it validates what events declare,
and its JSON Schema (served as the facet's ``_schemaURL``) is generated from it.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    PrivateAttr,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from app.artifacts.schemas import key_too_long
from app.composition.core import MAX_AMOUNT
from app.composition.origin import (
    DIGITAL_SOURCE_TYPES,
    MAX_SYNTHETIC_DEPTH,
    Origin,
    OriginInvalid,
    resolve_origin,
)

RUN_STATES = ("START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER")
OPENLINEAGE_DATASET_FACET = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetFacet"
HEADWATER_ORIGIN_SCHEMA_ID = "/api/v1/spec/facets/1-0-0/HeadwaterOriginDatasetFacet.json"


def _invalid(message: str) -> PydanticCustomError:
    return PydanticCustomError("value_error", message)


def describe(value: Any) -> str:
    """How an unwanted JSON value is named in a message: literals as written, others by type."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        shown = repr(value)
        return shown if len(shown) <= 24 else "a number too large"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "an array"
    return type(value).__name__


def _is_number(value: Any) -> bool:
    """A finite JSON number; integers too large for a float count as infinite."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _number(value: Any) -> float:
    if _is_number(value):
        return float(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise _invalid("must be a finite number")
    raise _invalid(f"must be a number, not {describe(value)}")


def _amount(value: Any) -> float:
    number = _number(value)
    if number < 0:
        raise _invalid("must not be negative")
    if number > MAX_AMOUNT:
        raise _invalid(f"must be at most {MAX_AMOUNT:g}")
    return number


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise _invalid(f"must be a string, not {describe(value)}")
    return value


def _not_empty(value: str) -> str:
    # An empty namespace or name cannot tell one artifact or job from another.
    if not value.strip():
        raise _invalid("must not be empty")
    return value


def _uri(value: str) -> str:
    try:
        urlsplit(value)
    except ValueError as exc:
        raise _invalid(f"must be a URI: {exc}") from exc
    return value


def _event_time(value: Any) -> datetime:
    text = _string(value).strip().upper()
    parsed: datetime | None = None
    if "T" in text or (len(text) > 10 and text[10] == " "):
        try:
            parsed = datetime.fromisoformat(text)
        except (ValueError, OverflowError):
            parsed = None
    if parsed is None:
        raise _invalid("must be an ISO 8601 date-time, e.g. 2024-05-01T12:00:00Z")
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _run_id(value: Any) -> str:
    try:
        return str(uuid.UUID(_string(value)))
    except ValueError as exc:
        raise _invalid("must be a UUID") from exc


def _event_type(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and value.upper() in RUN_STATES:
        return value.upper()
    raise _invalid(f"must be one of {', '.join(RUN_STATES)}")


Text = Annotated[str, BeforeValidator(_string)]
Identifier = Annotated[str, BeforeValidator(_string), AfterValidator(_not_empty)]
Uri = Annotated[str, BeforeValidator(_string), AfterValidator(_not_empty), AfterValidator(_uri)]
Amount = Annotated[float, BeforeValidator(_amount)]


class Facet(BaseModel):
    """Any facet: extra keys are kept, unread ones unchecked."""

    model_config = ConfigDict(extra="allow")


class Facets(Facet):
    """A facets object: a facet marked ``_deleted`` is neither checked nor read."""

    @model_validator(mode="before")
    @classmethod
    def _skip_deleted(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        return {
            key: value
            for key, value in data.items()
            if not (isinstance(value, Mapping) and value.get("_deleted") is True)
        }


# --- the headwater_origin facet ------------------------------------------------------------------


def _fraction(value: Any) -> float:
    number = _number(value)
    if not 0 <= number <= 1:
        raise _invalid(f"must be between 0 and 1, not {value!r}")
    return number


def _depth(value: Any) -> int:
    # JSON Schema's "integer" includes numbers like 2.0; so does this facet's schema.
    whole = isinstance(value, int) or (_is_number(value) and value % 1 == 0)
    if isinstance(value, bool) or not whole:
        raise _invalid(f"must be an integer, not {describe(value)}")
    if not 1 <= value <= MAX_SYNTHETIC_DEPTH:
        raise _invalid(f"must be between 1 and {MAX_SYNTHETIC_DEPTH}, not {describe(value)}")
    return int(value)


def _digital_source_type(value: Any) -> str:
    text = _string(value)
    if text not in DIGITAL_SOURCE_TYPES:
        try:
            resolve_origin(digital_source_type=text)
        except OriginInvalid as exc:
            # resolve_origin's message suggests the term that was probably meant.
            raise _invalid(str(exc)) from exc
    return text


Fraction = Annotated[
    float,
    BeforeValidator(_fraction),
    WithJsonSchema({"type": "number", "minimum": 0, "maximum": 1}),
]
_SOURCE_TYPE_TERMS: list[JsonValue] = []
_SOURCE_TYPE_TERMS.extend(sorted(DIGITAL_SOURCE_TYPES))


class HeadwaterOriginDatasetFacet(Facet):
    """Where the data of a dataset version came from, for the part that has no recorded parents:
    the fractions made by humans, generated by models, and of unknown origin. Omitted fractions
    count as 0, except that an omitted unknown takes what the others leave; together they must
    sum to 1. A digitalSourceType may stand alone when it settles the fractions (capture and
    human-edit types mean all human, trained-algorithmic types all synthetic, C2PA's empty all
    unknown); composite and other algorithmic types need the fractions as well, and fractions
    given beside a type must not contradict it."""

    DECLARES: ClassVar[tuple[str, ...]] = ("human", "synthetic", "unknown", "digitalSourceType")
    """One of these must be given: each alone can declare an origin."""

    human: Fraction | None = Field(default=None, description="Fraction of the data made by humans.")
    synthetic: Fraction | None = Field(
        default=None, description="Fraction of the data generated by models."
    )
    unknown: Fraction | None = Field(
        default=None, description="Fraction of the data whose origin is not known."
    )
    synthetic_depth: (
        Annotated[
            int,
            BeforeValidator(_depth),
            WithJsonSchema({"type": "integer", "minimum": 1, "maximum": MAX_SYNTHETIC_DEPTH}),
        ]
        | None
    ) = Field(
        default=None,
        description="Model generations the synthetic fraction has passed through; a lower bound"
        " when the generating model is not recorded.",
        json_schema_extra={"default": 1},
    )
    digitalSourceType: Annotated[str, BeforeValidator(_digital_source_type)] | None = Field(
        default=None,
        description="The IPTC digital source type of the data, or one of C2PA's"
        " (trainedAlgorithmicData, empty).",
        json_schema_extra={
            "format": "uri",
            "enum": _SOURCE_TYPE_TERMS,
            "example": "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia",
        },
    )

    _origin: Origin | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _resolve(self) -> HeadwaterOriginDatasetFacet:
        # What depends on several fields at once is resolve_origin's to judge, and is reported
        # at the facet.
        try:
            self._origin = resolve_origin(
                human=self.human,
                synthetic=self.synthetic,
                unknown=self.unknown,
                synthetic_depth=self.synthetic_depth,
                digital_source_type=self.digitalSourceType,
            )
        except OriginInvalid as exc:
            raise _invalid(str(exc)) from exc
        return self

    @property
    def origin(self) -> Origin:
        assert self._origin is not None
        return self._origin


def headwater_origin_schema() -> dict[str, Any]:
    """The JSON Schema of the ``headwater_origin`` dataset facet, generated from its model, in
    the shape of OpenLineage's own facet schemas (a DatasetFacet extended)."""
    generated = HeadwaterOriginDatasetFacet.model_json_schema()
    properties = {name: _plain(spec) for name, spec in generated["properties"].items()}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": HEADWATER_ORIGIN_SCHEMA_ID,
        "$defs": {
            "HeadwaterOriginDatasetFacet": {
                "description": " ".join(generated["description"].split()),
                "allOf": [
                    {"$ref": OPENLINEAGE_DATASET_FACET},
                    {
                        "type": "object",
                        "properties": properties,
                        "anyOf": [
                            {"required": [name]} for name in HeadwaterOriginDatasetFacet.DECLARES
                        ],
                    },
                ],
                "type": "object",
            }
        },
        "type": "object",
        "properties": {"headwater_origin": {"$ref": "#/$defs/HeadwaterOriginDatasetFacet"}},
    }


def _plain(spec: dict[str, Any]) -> dict[str, Any]:
    """A property's schema without pydantic's rendering of ``X | None`` and its titles: the
    facet omits a field rather than send null."""
    spec = dict(spec)
    spec.pop("title", None)
    options = spec.pop("anyOf", None)
    if options:
        (kept,) = [o for o in options if o.get("type") != "null"]
        spec = {**kept, **spec}
    if spec.get("default") is None:
        spec.pop("default", None)
    order = ("description", "type", "format", "minimum", "maximum", "default", "enum", "example")
    return {key: spec[key] for key in order if key in spec}


def _check_key(namespace: str, name: str, version: str) -> None:
    reason = key_too_long(namespace, name, version)
    if reason is not None:
        raise _invalid(reason)


# --- events --------------------------------------------------------------------------------------


class DatasetTypeFacet(Facet):
    datasetType: Text


class VersionFacet(Facet):
    datasetVersion: Identifier


class SymlinkIdentifier(Facet):
    namespace: Identifier | None = None
    name: Identifier | None = None
    type: Any = None

    @model_validator(mode="after")
    def _storable_key(self) -> SymlinkIdentifier:
        # an identifier is recorded as an alias, keyed like an artifact
        if self.namespace is not None and self.name is not None:
            _check_key(self.namespace, self.name, "")
        return self


class SymlinksFacet(Facet):
    identifiers: list[SymlinkIdentifier] | None = None


class DatasetFacets(Facets):
    datasetType: DatasetTypeFacet | None = None
    version: VersionFacet | None = None
    headwater_origin: HeadwaterOriginDatasetFacet | None = None
    symlinks: SymlinksFacet | None = None
    # descriptive: its entries are read leniently (see facets.column_inputs)
    columnLineage: dict[str, Any] | None = None


class Statistics(Facet):
    rowCount: Amount | None = None
    size: Amount | None = None


class DataQualityMetrics(Facet):
    rowCount: Amount | None = None
    bytes: Amount | None = None


class InputFacets(Facets):
    inputStatistics: Statistics | None = None
    dataQualityMetrics: DataQualityMetrics | None = None


class OutputFacets(Facets):
    outputStatistics: Statistics | None = None


class StaticDataset(Facet):
    namespace: Identifier
    name: Identifier
    facets: DatasetFacets | None = None

    @model_validator(mode="after")
    def _storable_key(self) -> StaticDataset:
        version = self.facets.version if self.facets is not None else None
        # without a version facet, the version is a run id (36 characters) or UNVERSIONED
        _check_key(self.namespace, self.name, version.datasetVersion if version else "0" * 36)
        return self


class InputDataset(StaticDataset):
    inputFacets: InputFacets | None = None


class OutputDataset(StaticDataset):
    outputFacets: OutputFacets | None = None


class Run(Facet):
    runId: Annotated[str, BeforeValidator(_run_id)]


class Job(Facet):
    namespace: Identifier
    name: Identifier


class BaseEvent(Facet):
    eventTime: Annotated[datetime, BeforeValidator(_event_time)]
    producer: Uri
    # Marquez, the reference server, accepts events without a schemaURL: so does Headwater
    schemaURL: Uri | None = None


class JobEvent(BaseEvent):
    job: Job
    inputs: list[InputDataset] | None = None
    outputs: list[OutputDataset] | None = None


class RunEvent(JobEvent):
    run: Run
    eventType: Annotated[str | None, BeforeValidator(_event_type)] = None


class DatasetEvent(BaseEvent):
    dataset: StaticDataset
