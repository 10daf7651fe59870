"""OpenLineage events, built and serialized by the official client, mapped to lineage intents."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import attr
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openlineage.client.event_v2 import (
    DatasetEvent,
    InputDataset,
    Job,
    JobEvent,
    OutputDataset,
    Run,
    RunEvent,
    RunState,
    StaticDataset,
)
from openlineage.client.facet_v2 import (
    DatasetFacet,
    dataset_type_dataset,
    dataset_version_dataset,
    input_statistics_input_dataset,
    output_statistics_output_dataset,
    schema_dataset,
)
from openlineage.client.serde import Serde

from app.composition.origin import DIGITAL_SOURCE_TYPES, MAX_SYNTHETIC_DEPTH, Origin
from app.lineage.events import HEADWATER_ORIGIN_SCHEMA_ID, headwater_origin_schema
from app.lineage.intents import (
    UNVERSIONED,
    EdgeIntent,
    EventInvalid,
    MappedEvent,
    NodeIntent,
    NodeKey,
)
from app.lineage.openlineage import map_event

RUN_ID = "3f5e83fa-3480-44ff-99c5-ff943904e5e8"
PRODUCER = "https://github.com/example/pipelines/tree/v1"
EVENT_TIME = "2024-05-01T12:00:00.000000+00:00"
ORIGIN_SCHEMA_URL = (
    "http://localhost:8000" + HEADWATER_ORIGIN_SCHEMA_ID + "#/$defs/HeadwaterOriginDatasetFacet"
)

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
CAPTURE = IPTC + "digitalCapture"
TRAINED = IPTC + "trainedAlgorithmicMedia"
C2PA_TRAINED = "http://c2pa.org/digitalsourcetype/trainedAlgorithmicData"
C2PA_EMPTY = "http://c2pa.org/digitalsourcetype/empty"

OUT_ORIGIN = ("outputs", 0, "facets", "headwater_origin")
IN_ORIGIN = ("inputs", 0, "facets", "headwater_origin")


@attr.define
class HeadwaterOriginDatasetFacet(DatasetFacet):
    """The facet as a pipeline would declare it with the official client."""

    human: float | None = attr.field(default=None)
    synthetic: float | None = attr.field(default=None)
    unknown: float | None = attr.field(default=None)
    synthetic_depth: int | None = attr.field(default=None)
    digitalSourceType: str | None = attr.field(default=None)

    @staticmethod
    def _get_schema() -> str:
        return ORIGIN_SCHEMA_URL


@attr.define
class LicenseDatasetFacet(DatasetFacet):
    """A third-party facet Headwater knows nothing about."""

    spdx: str = attr.field(default="CC-BY-4.0")

    @staticmethod
    def _get_schema() -> str:
        return "https://example.com/facets/LicenseDatasetFacet.json"


def wire(event: Any) -> dict[str, Any]:
    """The JSON body that the client's HttpTransport posts."""
    body: dict[str, Any] = json.loads(Serde.to_json(event))
    return body


def facets(
    *,
    model: bool = False,
    version: str | None = None,
    origin: HeadwaterOriginDatasetFacet | None = None,
    **extra: DatasetFacet,
) -> dict[str, DatasetFacet]:
    result: dict[str, DatasetFacet] = dict(extra)
    if model:
        result["datasetType"] = dataset_type_dataset.DatasetTypeDatasetFacet(datasetType="MODEL")
    if version is not None:
        result["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(
            datasetVersion=version
        )
    if origin is not None:
        result["headwater_origin"] = origin
    return result


def source(
    name: str, *, namespace: str = "s3://corpus", rows: int | None = None, **facet_args: Any
) -> InputDataset:
    input_facets = {}
    if rows is not None:
        input_facets["inputStatistics"] = (
            input_statistics_input_dataset.InputStatisticsInputDatasetFacet(rowCount=rows)
        )
    return InputDataset(
        namespace=namespace, name=name, facets=facets(**facet_args), inputFacets=input_facets
    )


def sink(
    name: str, *, namespace: str = "s3://corpus", rows: int | None = None, **facet_args: Any
) -> OutputDataset:
    output_facets = {}
    if rows is not None:
        output_facets["outputStatistics"] = (
            output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(rowCount=rows)
        )
    return OutputDataset(
        namespace=namespace, name=name, facets=facets(**facet_args), outputFacets=output_facets
    )


def run_event(
    inputs: list[InputDataset],
    outputs: list[OutputDataset],
    *,
    run_id: str = RUN_ID,
    event_type: RunState | None = RunState.COMPLETE,
) -> dict[str, Any]:
    return wire(
        RunEvent(
            eventType=event_type,
            eventTime=EVENT_TIME,
            run=Run(runId=run_id),
            job=Job(namespace="airflow", name="pipeline.step"),
            producer=PRODUCER,
            inputs=inputs,
            outputs=outputs,
        )
    )


def key(
    name: str,
    version: str | None,
    *,
    kind: str = "dataset",
    namespace: str = "s3://corpus",
    fallback: str | None = None,
) -> NodeKey:
    return NodeKey(kind, namespace, name, version, fallback)  # type: ignore[arg-type]


def node(mapped: MappedEvent, name: str) -> NodeIntent:
    (found,) = [n for n in mapped.nodes if n.key.name == name]
    return found


def relations(mapped: MappedEvent) -> set[tuple[str, str, str]]:
    return {(e.child.name, e.parent.name, e.relation) for e in mapped.edges}


# --- kinds, versions, sizes, amounts -----------------------------------------------------------


def test_model_output_is_trained_on_datasets_and_fine_tuned_from_models() -> None:
    mapped = map_event(
        run_event(
            [
                source("web-2023", rows=1000),
                source("llama", namespace="hf://meta", model=True, version="3"),
            ],
            [sink("chat", namespace="hf://acme", model=True, version="7")],
        )
    )

    assert mapped.kind == "run"
    assert mapped.event_type == "COMPLETE"
    assert mapped.run_id == RUN_ID
    assert (mapped.job_namespace, mapped.job_name) == ("airflow", "pipeline.step")
    assert mapped.producer == PRODUCER
    assert mapped.event_time == datetime(2024, 5, 1, 12, tzinfo=UTC)

    chat = key("chat", "7", kind="model", namespace="hf://acme")
    web = key("web-2023", None, fallback=RUN_ID)
    llama = key("llama", "3", kind="model", namespace="hf://meta")
    assert [n.key for n in mapped.nodes] == [web, llama, chat]
    assert mapped.edges == [
        EdgeIntent(child=chat, parent=web, relation="trained_on", amount=1000.0),
        EdgeIntent(child=chat, parent=llama, relation="fine_tuned_from", amount=None),
    ]


def test_dataset_output_from_a_model_is_generated_by_it_and_its_prompts_are_used() -> None:
    mapped = map_event(
        run_event(
            [
                source("prompts", rows=50, version="p1"),
                source("chat", namespace="hf://acme", model=True, version="7"),
            ],
            [sink("synthetic-qa", rows=5000)],
        )
    )

    out = node(mapped, "synthetic-qa")
    assert out.key == key("synthetic-qa", RUN_ID)
    assert out.size == 5000.0
    assert relations(mapped) == {
        ("synthetic-qa", "chat", "generated_by"),
        ("synthetic-qa", "prompts", "used"),
    }
    used = next(e for e in mapped.edges if e.relation == "used")
    assert used.amount == 50.0


def test_dataset_output_from_datasets_is_derived_from_each() -> None:
    mapped = map_event(
        run_event(
            [source("web-2023", rows=700), source("books", rows=300, version="2")],
            [sink("mix", rows=1000), sink("mix-sample", rows=10, version="s1")],
        )
    )

    assert relations(mapped) == {
        ("mix", "web-2023", "derived_from"),
        ("mix", "books", "derived_from"),
        ("mix-sample", "web-2023", "derived_from"),
        ("mix-sample", "books", "derived_from"),
    }
    amounts = {(e.child.name, e.parent.name): e.amount for e in mapped.edges}
    assert amounts[("mix", "web-2023")] == 700.0
    assert amounts[("mix-sample", "books")] == 300.0
    assert node(mapped, "mix").key.version == RUN_ID
    assert node(mapped, "mix-sample").key.version == "s1"
    assert node(mapped, "books").key == key("books", "2")
    assert node(mapped, "web-2023").size is None


def test_dataset_type_model_is_case_insensitive_and_other_types_are_datasets() -> None:
    event = run_event([source("a"), source("b"), source("c")], [sink("out")])
    event["inputs"][0]["facets"]["datasetType"] = {
        "_producer": PRODUCER,
        "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/DatasetTypeDatasetFacet.json",
        "datasetType": "model",
    }
    event["inputs"][1]["facets"]["datasetType"] = {
        "_producer": PRODUCER,
        "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/DatasetTypeDatasetFacet.json",
        "datasetType": "TABLE",
    }

    mapped = map_event(event)

    assert [n.key.kind for n in mapped.nodes] == ["model", "dataset", "dataset", "dataset"]
    assert relations(mapped) == {
        ("out", "a", "generated_by"),
        ("out", "b", "used"),
        ("out", "c", "used"),
    }


def test_a_deleted_facet_is_kept_but_not_read() -> None:
    event = run_event([], [sink("out", model=True, version="v1")])
    event["outputs"][0]["facets"]["datasetType"]["_deleted"] = True
    event["outputs"][0]["facets"]["version"]["_deleted"] = True

    (out,) = map_event(event).nodes

    assert out.key == key("out", RUN_ID)
    assert out.facets["datasetType"]["_deleted"] is True


def test_input_equal_to_an_output_is_not_an_edge_and_duplicates_merge() -> None:
    origin = HeadwaterOriginDatasetFacet(human=1.0, synthetic=0.0, unknown=0.0)
    mapped = map_event(
        run_event(
            [
                source("table", version="v1", origin=origin, rows=3),
                source("other", rows=5),
                source("other", rows=6),
            ],
            [sink("table", version="v1", rows=10)],
        )
    )

    table = node(mapped, "table")
    assert table.size == 10.0
    assert table.origin is not None
    assert table.origin.human == 1.0
    assert len(mapped.nodes) == 2
    assert mapped.edges == [
        EdgeIntent(
            child=key("table", "v1"),
            parent=key("other", None, fallback=RUN_ID),
            relation="derived_from",
            amount=5.0,
        )
    ]


def test_unversioned_input_of_the_writing_run_is_the_previous_version() -> None:
    mapped = map_event(run_event([source("table")], [sink("table")]))

    assert mapped.edges == [
        EdgeIntent(
            child=key("table", RUN_ID),
            parent=key("table", None, fallback=RUN_ID),
            relation="derived_from",
            amount=None,
        )
    ]


def test_run_event_without_event_type_or_datasets() -> None:
    mapped = map_event(run_event([], [], event_type=None))

    assert mapped.event_type is None
    assert mapped.nodes == []
    assert mapped.edges == []


def test_run_id_is_canonical_and_event_time_defaults_to_utc() -> None:
    event = run_event([], [sink("out")])
    event["run"]["runId"] = RUN_ID.upper()
    event["eventTime"] = "2024-05-01T12:00:00"

    mapped = map_event(event)

    assert mapped.run_id == RUN_ID
    assert mapped.nodes[0].key.version == RUN_ID
    assert mapped.event_time == datetime(2024, 5, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T12:00:00Z", datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("2024-05-01t12:00:00z", datetime(2024, 5, 1, 12, tzinfo=UTC)),
        (
            "2024-05-01T14:00:00.123456789+02:00",
            datetime(2024, 5, 1, 14, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2))),
        ),
        ("2024-05-01 12:00:00+00:00", datetime(2024, 5, 1, 12, tzinfo=UTC)),
    ],
)
def test_event_time_formats(text: str, expected: datetime) -> None:
    event = run_event([], [])
    event["eventTime"] = text

    assert map_event(event).event_time == expected


def test_unknown_facets_and_extra_keys_are_kept() -> None:
    fields = [schema_dataset.SchemaDatasetFacetFields(name="text", type="string")]
    event = run_event(
        [],
        [
            sink(
                "out",
                license=LicenseDatasetFacet(),
                schema=schema_dataset.SchemaDatasetFacet(fields=fields),
            )
        ],
    )
    event["outputs"][0]["facets"]["odd"] = "not even an object"
    event["x-extension"] = {"anything": True}
    event["run"]["facets"] = {"custom": {"_producer": PRODUCER, "_schemaURL": "x", "v": 1}}

    (out,) = map_event(event).nodes

    assert out.facets == event["outputs"][0]["facets"]
    assert out.facets["license"]["spdx"] == "CC-BY-4.0"
    assert out.facets["odd"] == "not even an object"


def test_mapping_does_not_alias_the_payload() -> None:
    event = run_event([], [sink("out", license=LicenseDatasetFacet())])
    before = copy.deepcopy(event)

    (out,) = map_event(event).nodes
    out.facets["license"]["spdx"] = "changed"

    assert event == before


def test_legacy_schema_url_without_event_type_name() -> None:
    event = run_event([source("a")], [sink("b")])
    event["schemaURL"] = "https://openlineage.io/spec/1-0-5/OpenLineage.json"

    assert map_event(event).kind == "run"


@pytest.mark.parametrize("schema_url", ["absent", None])
def test_an_event_without_schema_url_is_accepted_as_marquez_accepts_it(schema_url: Any) -> None:
    event = run_event([source("a")], [sink("b")])
    if schema_url == "absent":
        del event["schemaURL"]
    else:
        event["schemaURL"] = schema_url

    mapped = map_event(event)
    assert mapped.kind == "run"
    assert [e.relation for e in mapped.edges] == ["derived_from"]


# --- origin -------------------------------------------------------------------------------------


def test_origin_fractions() -> None:
    origin = HeadwaterOriginDatasetFacet(
        human=0.7, synthetic=0.3, unknown=0.0, synthetic_depth=2, digitalSourceType=None
    )
    mapped = map_event(run_event([source("crawl", origin=origin)], [sink("out")]))

    assert node(mapped, "crawl").origin == Origin(
        human=0.7, synthetic=0.3, unknown=0.0, synthetic_depth=2
    )
    assert node(mapped, "out").origin is None


@pytest.mark.parametrize(
    ("source_type", "human", "synthetic", "unknown"),
    [
        (CAPTURE, 1.0, 0.0, 0.0),
        (TRAINED, 0.0, 1.0, 0.0),
        (C2PA_TRAINED, 0.0, 1.0, 0.0),
        (C2PA_EMPTY, 0.0, 0.0, 1.0),
    ],
)
def test_digital_source_type_alone(
    source_type: str, human: float, synthetic: float, unknown: float
) -> None:
    origin = HeadwaterOriginDatasetFacet(digitalSourceType=source_type)
    mapped = map_event(run_event([], [sink("out", origin=origin)]))

    resolved = mapped.nodes[0].origin
    assert resolved is not None
    assert (resolved.human, resolved.synthetic, resolved.unknown) == (human, synthetic, unknown)
    assert resolved.digital_source_type == source_type


def test_origin_with_fractions_beside_its_type_and_a_whole_float_depth() -> None:
    event = run_event([], [sink("out")])
    event["outputs"][0]["facets"]["headwater_origin"] = {
        "_producer": PRODUCER,
        "_schemaURL": ORIGIN_SCHEMA_URL,
        "human": 0.6,
        "synthetic": 0.4,
        "synthetic_depth": 2.0,
        "digitalSourceType": IPTC + "compositeWithTrainedAlgorithmicMedia",
    }

    resolved = map_event(event).nodes[0].origin

    assert resolved is not None
    assert (resolved.human, resolved.synthetic, resolved.unknown) == (0.6, 0.4, 0.0)
    assert resolved.synthetic_depth == 2
    assert isinstance(resolved.synthetic_depth, int)


def test_unknown_digital_source_type_suggests_the_term_meant() -> None:
    event = run_event([], [sink("out")])
    event["outputs"][0]["facets"]["headwater_origin"] = {
        "digitalSourceType": IPTC + "DigitalCapture"
    }

    with pytest.raises(EventInvalid) as caught:
        map_event(event)

    (error,) = caught.value.errors
    assert error.loc == (*OUT_ORIGIN, "digitalSourceType")
    assert CAPTURE in error.msg


def test_origin_serialized_by_the_client_carries_producer_and_schema_url() -> None:
    origin = HeadwaterOriginDatasetFacet(digitalSourceType=CAPTURE)
    event = run_event([], [sink("out", origin=origin)])

    facet = event["outputs"][0]["facets"]["headwater_origin"]
    assert facet["_schemaURL"] == ORIGIN_SCHEMA_URL
    assert facet["_producer"]
    assert map_event(event).nodes[0].facets["headwater_origin"] == facet


# --- DatasetEvent and JobEvent ------------------------------------------------------------------


def test_dataset_event_is_one_node_without_edges() -> None:
    origin = HeadwaterOriginDatasetFacet(digitalSourceType=CAPTURE)
    event = wire(
        DatasetEvent(
            eventTime=EVENT_TIME,
            producer=PRODUCER,
            dataset=StaticDataset(
                namespace="s3://corpus", name="letters", facets=facets(origin=origin)
            ),
        )
    )

    mapped = map_event(event)

    assert mapped.kind == "dataset"
    assert (mapped.event_type, mapped.run_id, mapped.job_namespace, mapped.job_name) == (
        None,
        None,
        None,
        None,
    )
    (letters,) = mapped.nodes
    assert letters.key == key("letters", None, fallback=UNVERSIONED)
    assert letters.origin is not None
    assert letters.origin.human == 1.0
    assert mapped.edges == []


def test_dataset_event_with_a_version_names_that_version() -> None:
    event = wire(
        DatasetEvent(
            eventTime=EVENT_TIME,
            producer=PRODUCER,
            dataset=StaticDataset(
                namespace="hf://acme", name="chat", facets=facets(model=True, version="7")
            ),
        )
    )

    (chat,) = map_event(event).nodes

    assert chat.key == key("chat", "7", kind="model", namespace="hf://acme")


def test_job_event_links_newest_versions() -> None:
    event = wire(
        JobEvent(
            eventTime=EVENT_TIME,
            producer=PRODUCER,
            job=Job(namespace="dbt", name="models.mix"),
            inputs=[source("web", rows=10), source("books", version="2")],
            outputs=[sink("mix", rows=12), sink("mix", version="fixed")],
        )
    )

    mapped = map_event(event)

    assert mapped.kind == "job"
    assert (mapped.run_id, mapped.event_type) == (None, None)
    assert (mapped.job_namespace, mapped.job_name) == ("dbt", "models.mix")
    mix = key("mix", None, fallback=UNVERSIONED)
    assert node(mapped, "web").key == key("web", None, fallback=UNVERSIONED)
    assert [n.key for n in mapped.nodes if n.key.name == "mix"] == [mix, key("mix", "fixed")]
    assert next(n for n in mapped.nodes if n.key == mix).size == 12.0
    assert {(e.child, e.parent.name, e.relation, e.amount) for e in mapped.edges} == {
        (mix, "web", "derived_from", 10.0),
        (mix, "books", "derived_from", None),
        (key("mix", "fixed"), "web", "derived_from", 10.0),
        (key("mix", "fixed"), "books", "derived_from", None),
    }


def test_an_event_without_run_is_a_job_event_unless_its_schema_url_says_run_event() -> None:
    event = valid_job_event()
    event["schemaURL"] = "https://openlineage.io/spec/2-0-2/OpenLineage.json"
    assert map_event(event).kind == "job"

    event["schemaURL"] = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
    with pytest.raises(EventInvalid) as caught:
        map_event(event)
    assert [e.loc for e in caught.value.errors] == [("run",)]


def test_job_event_reading_and_writing_the_same_unversioned_dataset_has_no_self_edge() -> None:
    event = wire(
        JobEvent(
            eventTime=EVENT_TIME,
            producer=PRODUCER,
            job=Job(namespace="dbt", name="models.dedupe"),
            inputs=[source("table")],
            outputs=[sink("table")],
        )
    )

    mapped = map_event(event)

    assert [n.key for n in mapped.nodes] == [key("table", None, fallback=UNVERSIONED)]
    assert mapped.edges == []


# --- invalid events -----------------------------------------------------------------------------


def valid_run_event() -> dict[str, Any]:
    return run_event(
        [source("web", rows=10, origin=HeadwaterOriginDatasetFacet(digitalSourceType=CAPTURE))],
        [sink("out", rows=20, origin=HeadwaterOriginDatasetFacet(human=0.5, synthetic=0.5))],
    )


def valid_dataset_event() -> dict[str, Any]:
    return wire(
        DatasetEvent(
            eventTime=EVENT_TIME,
            producer=PRODUCER,
            dataset=StaticDataset(namespace="s3://corpus", name="letters"),
        )
    )


def valid_job_event() -> dict[str, Any]:
    return wire(
        JobEvent(
            eventTime=EVENT_TIME,
            producer=PRODUCER,
            job=Job(namespace="dbt", name="models.mix"),
            inputs=[source("web")],
            outputs=[sink("mix")],
        )
    )


def delete(*path: str | int) -> Callable[[dict[str, Any]], None]:
    def mutate(event: dict[str, Any]) -> None:
        target: Any = event
        for part in path[:-1]:
            target = target[part]
        del target[path[-1]]

    return mutate


def put(value: Any, *path: str | int) -> Callable[[dict[str, Any]], None]:
    def mutate(event: dict[str, Any]) -> None:
        target: Any = event
        for part in path[:-1]:
            target = target.setdefault(part, {}) if isinstance(target, dict) else target[part]
        target[path[-1]] = value

    return mutate


RUN_EVENT_CASES: list[tuple[str, Callable[[dict[str, Any]], None], tuple[str | int, ...]]] = [
    ("no eventTime", delete("eventTime"), ("eventTime",)),
    ("no producer", delete("producer"), ("producer",)),
    ("no run", delete("run"), ("run",)),
    ("no runId", delete("run", "runId"), ("run", "runId")),
    ("no job", delete("job"), ("job",)),
    ("no job namespace", delete("job", "namespace"), ("job", "namespace")),
    ("no job name", delete("job", "name"), ("job", "name")),
    ("no input namespace", delete("inputs", 0, "namespace"), ("inputs", 0, "namespace")),
    ("no input name", delete("inputs", 0, "name"), ("inputs", 0, "name")),
    ("no output namespace", delete("outputs", 0, "namespace"), ("outputs", 0, "namespace")),
    ("no output name", delete("outputs", 0, "name"), ("outputs", 0, "name")),
    ("eventTime number", put(1714564800, "eventTime"), ("eventTime",)),
    ("eventTime text", put("yesterday", "eventTime"), ("eventTime",)),
    ("eventTime date only", put("2024-05-01", "eventTime"), ("eventTime",)),
    ("eventTime month 13", put("2024-13-01T00:00:00Z", "eventTime"), ("eventTime",)),
    ("producer number", put(5, "producer"), ("producer",)),
    ("producer empty", put("", "producer"), ("producer",)),
    ("producer bad URI", put("http://[::1", "producer"), ("producer",)),
    ("schemaURL number", put(5, "schemaURL"), ("schemaURL",)),
    ("eventType unknown", put("DONE", "eventType"), ("eventType",)),
    ("eventType number", put(3, "eventType"), ("eventType",)),
    ("run not object", put("run-1", "run"), ("run",)),
    ("runId number", put(42, "run", "runId"), ("run", "runId")),
    ("runId not uuid", put("run-42", "run", "runId"), ("run", "runId")),
    ("job not object", put(["dbt"], "job"), ("job",)),
    ("job name array", put(["x"], "job", "name"), ("job", "name")),
    ("job namespace empty", put(" ", "job", "namespace"), ("job", "namespace")),
    ("inputs object", put({}, "inputs"), ("inputs",)),
    ("output not object", put("out", "outputs", 0), ("outputs", 0)),
    ("output name null", put(None, "outputs", 0, "name"), ("outputs", 0, "name")),
    ("facets not object", put("x", "outputs", 0, "facets"), ("outputs", 0, "facets")),
    (
        "inputFacets array",
        put([], "inputs", 0, "inputFacets"),
        ("inputs", 0, "inputFacets"),
    ),
    (
        "datasetType facet not object",
        put("MODEL", "outputs", 0, "facets", "datasetType"),
        ("outputs", 0, "facets", "datasetType"),
    ),
    (
        "datasetType missing",
        put({"_producer": PRODUCER}, "outputs", 0, "facets", "datasetType"),
        ("outputs", 0, "facets", "datasetType", "datasetType"),
    ),
    (
        "datasetType number",
        put({"datasetType": 5}, "outputs", 0, "facets", "datasetType"),
        ("outputs", 0, "facets", "datasetType", "datasetType"),
    ),
    (
        "datasetVersion number",
        put({"datasetVersion": 3}, "outputs", 0, "facets", "version"),
        ("outputs", 0, "facets", "version", "datasetVersion"),
    ),
    (
        "datasetVersion empty",
        put({"datasetVersion": ""}, "inputs", 0, "facets", "version"),
        ("inputs", 0, "facets", "version", "datasetVersion"),
    ),
    (
        "output rowCount negative",
        put(-1, "outputs", 0, "outputFacets", "outputStatistics", "rowCount"),
        ("outputs", 0, "outputFacets", "outputStatistics", "rowCount"),
    ),
    (
        "input rowCount negative",
        put(-0.5, "inputs", 0, "inputFacets", "inputStatistics", "rowCount"),
        ("inputs", 0, "inputFacets", "inputStatistics", "rowCount"),
    ),
    (
        "input rowCount text",
        put("10", "inputs", 0, "inputFacets", "inputStatistics", "rowCount"),
        ("inputs", 0, "inputFacets", "inputStatistics", "rowCount"),
    ),
    (
        "output rowCount boolean",
        put(True, "outputs", 0, "outputFacets", "outputStatistics", "rowCount"),
        ("outputs", 0, "outputFacets", "outputStatistics", "rowCount"),
    ),
    (
        "output rowCount infinite",
        put(float("inf"), "outputs", 0, "outputFacets", "outputStatistics", "rowCount"),
        ("outputs", 0, "outputFacets", "outputStatistics", "rowCount"),
    ),
    (
        "output rowCount beyond a float",
        put(10**400, "outputs", 0, "outputFacets", "outputStatistics", "rowCount"),
        ("outputs", 0, "outputFacets", "outputStatistics", "rowCount"),
    ),
    (
        "origin depth beyond a float",
        put(10**400, *OUT_ORIGIN, "synthetic_depth"),
        (*OUT_ORIGIN, "synthetic_depth"),
    ),
    (
        "outputStatistics not object",
        put(7, "outputs", 0, "outputFacets", "outputStatistics"),
        ("outputs", 0, "outputFacets", "outputStatistics"),
    ),
    ("origin not object", put(0.5, *OUT_ORIGIN), OUT_ORIGIN),
    ("origin fractions over one", put(0.9, *OUT_ORIGIN, "human"), OUT_ORIGIN),
    ("origin fraction above one", put(1.5, *OUT_ORIGIN, "human"), (*OUT_ORIGIN, "human")),
    (
        "origin fraction negative",
        put(-0.1, *OUT_ORIGIN, "synthetic"),
        (*OUT_ORIGIN, "synthetic"),
    ),
    (
        "origin declares nothing",
        put({"_producer": PRODUCER, "_schemaURL": ORIGIN_SCHEMA_URL}, *OUT_ORIGIN),
        OUT_ORIGIN,
    ),
    (
        "origin composite type alone",
        put({"digitalSourceType": IPTC + "compositeSynthetic"}, *IN_ORIGIN),
        IN_ORIGIN,
    ),
    ("origin contradicts its type", put(0.5, *IN_ORIGIN, "synthetic"), IN_ORIGIN),
    ("origin depth zero", put(0, *OUT_ORIGIN, "synthetic_depth"), (*OUT_ORIGIN, "synthetic_depth")),
    (
        "origin depth too deep",
        put(MAX_SYNTHETIC_DEPTH + 1, *OUT_ORIGIN, "synthetic_depth"),
        (*OUT_ORIGIN, "synthetic_depth"),
    ),
    ("origin fraction text", put("most", *OUT_ORIGIN, "human"), (*OUT_ORIGIN, "human")),
    ("origin fraction boolean", put(True, *OUT_ORIGIN, "unknown"), (*OUT_ORIGIN, "unknown")),
    (
        "origin depth fractional",
        put(1.5, *OUT_ORIGIN, "synthetic_depth"),
        (*OUT_ORIGIN, "synthetic_depth"),
    ),
    (
        "origin depth text",
        put("2", *OUT_ORIGIN, "synthetic_depth"),
        (*OUT_ORIGIN, "synthetic_depth"),
    ),
    (
        "digitalSourceType unknown",
        put(IPTC + "paintedByHand", *IN_ORIGIN, "digitalSourceType"),
        (*IN_ORIGIN, "digitalSourceType"),
    ),
    (
        "digitalSourceType number",
        put(1, *IN_ORIGIN, "digitalSourceType"),
        (*IN_ORIGIN, "digitalSourceType"),
    ),
]


@pytest.mark.parametrize(
    ("mutate", "loc"),
    [pytest.param(mutate, loc, id=name) for name, mutate, loc in RUN_EVENT_CASES],
)
def test_invalid_run_event_names_the_field(
    mutate: Callable[[dict[str, Any]], None], loc: tuple[str | int, ...]
) -> None:
    event = valid_run_event()
    map_event(event)
    mutate(event)

    with pytest.raises(EventInvalid) as caught:
        map_event(event)

    assert [e.loc for e in caught.value.errors] == [loc]
    assert all(e.msg for e in caught.value.errors)


@pytest.mark.parametrize(
    ("make", "mutate", "loc"),
    [
        pytest.param(valid_dataset_event, delete("dataset"), ("dataset",), id="no dataset"),
        pytest.param(
            valid_dataset_event, delete("dataset", "name"), ("dataset", "name"), id="no name"
        ),
        pytest.param(
            valid_dataset_event,
            put({"datasetVersion": None}, "dataset", "facets", "version"),
            ("dataset", "facets", "version", "datasetVersion"),
            id="null version",
        ),
        pytest.param(valid_dataset_event, delete("eventTime"), ("eventTime",), id="no eventTime"),
        pytest.param(valid_job_event, delete("job"), ("job",), id="job event without job"),
        pytest.param(
            valid_job_event, delete("job", "name"), ("job", "name"), id="job event without name"
        ),
        pytest.param(
            valid_job_event,
            put(5, "outputs", 0, "namespace"),
            ("outputs", 0, "namespace"),
            id="job event output namespace number",
        ),
    ],
)
def test_invalid_dataset_and_job_events_name_the_field(
    make: Callable[[], dict[str, Any]],
    mutate: Callable[[dict[str, Any]], None],
    loc: tuple[str | int, ...],
) -> None:
    event = make()
    map_event(event)
    mutate(event)

    with pytest.raises(EventInvalid) as caught:
        map_event(event)

    assert [e.loc for e in caught.value.errors] == [loc]


def test_every_wrong_field_is_reported_at_once() -> None:
    event = valid_run_event()
    del event["eventTime"]
    event["run"]["runId"] = "nope"
    event["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"] = -5
    event["inputs"][0]["facets"]["headwater_origin"]["digitalSourceType"] = 7

    with pytest.raises(EventInvalid) as caught:
        map_event(event)

    assert {e.loc for e in caught.value.errors} == {
        ("eventTime",),
        ("run", "runId"),
        ("outputs", 0, "outputFacets", "outputStatistics", "rowCount"),
        (*IN_ORIGIN, "digitalSourceType"),
    }
    assert "run/runId" in str(caught.value)


@pytest.mark.parametrize("payload", [[], "event", None, 3])
def test_a_payload_that_is_not_an_object(payload: Any) -> None:
    with pytest.raises(EventInvalid) as caught:
        map_event(payload)

    assert [e.loc for e in caught.value.errors] == [()]


def test_an_empty_object_is_reported_as_a_run_event() -> None:
    with pytest.raises(EventInvalid) as caught:
        map_event({})

    assert {e.loc for e in caught.value.errors} == {
        ("eventTime",),
        ("producer",),
        ("run",),
        ("job",),
    }


# --- the facet's JSON Schema --------------------------------------------------------------------


def test_schema_enumerates_the_digital_source_types() -> None:
    schema = headwater_origin_schema()
    facet = schema["$defs"]["HeadwaterOriginDatasetFacet"]
    properties = facet["allOf"][1]["properties"]

    assert properties["digitalSourceType"]["enum"] == sorted(DIGITAL_SOURCE_TYPES)
    assert properties["synthetic_depth"]["maximum"] == MAX_SYNTHETIC_DEPTH


def test_schema_is_an_openlineage_dataset_facet_schema() -> None:
    schema = headwater_origin_schema()

    assert json.loads(json.dumps(schema)) == schema  # plain JSON, generated from the model
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == HEADWATER_ORIGIN_SCHEMA_ID
    assert schema["properties"] == {
        "headwater_origin": {"$ref": "#/$defs/HeadwaterOriginDatasetFacet"}
    }
    facet = schema["$defs"]["HeadwaterOriginDatasetFacet"]
    assert facet["allOf"][0] == {
        "$ref": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetFacet"
    }
    declared = set(facet["allOf"][1]["properties"])
    client_fields = {a.name for a in attr.fields(HeadwaterOriginDatasetFacet)}
    assert declared == client_fields - {"_producer", "_schemaURL", "_deleted"}


def test_schema_is_not_shared_between_callers() -> None:
    headwater_origin_schema()["$id"] = "changed"

    assert headwater_origin_schema()["$id"] == HEADWATER_ORIGIN_SCHEMA_ID


# --- properties ---------------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            found += paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += paths(v, (*prefix, i))
    return found


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(payload=json_values)
def test_arbitrary_json_maps_or_raises_event_invalid(payload: Any) -> None:
    try:
        map_event(payload)
    except EventInvalid as exc:
        assert exc.errors


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), replacement=json_values)
def test_a_corrupted_event_maps_or_raises_event_invalid(data: Any, replacement: Any) -> None:
    event = data.draw(st.sampled_from([valid_run_event, valid_dataset_event, valid_job_event]))()
    path = data.draw(st.sampled_from(paths(event)[1:]))
    target = event
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = replacement

    try:
        mapped = map_event(event)
    except EventInvalid as exc:
        assert exc.errors
        assert all(isinstance(e.loc, tuple) and e.msg for e in exc.errors)
    else:
        assert isinstance(mapped, MappedEvent)


names = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=6)
names = names.filter(lambda s: s.strip() != "")
versions = st.none() | names
row_counts = st.none() | st.integers(min_value=0, max_value=10**12)
origins = st.none() | st.sampled_from(
    [
        HeadwaterOriginDatasetFacet(digitalSourceType=CAPTURE),
        HeadwaterOriginDatasetFacet(digitalSourceType=TRAINED),
        HeadwaterOriginDatasetFacet(digitalSourceType=C2PA_TRAINED),
        HeadwaterOriginDatasetFacet(human=0.25, synthetic=0.5, unknown=0.25, synthetic_depth=3),
        HeadwaterOriginDatasetFacet(human=1.0),
    ]
)


@st.composite
def datasets(draw: Any, cls: type[InputDataset] | type[OutputDataset]) -> Any:
    build = source if cls is InputDataset else sink
    return build(
        draw(st.sampled_from(["a", "b", "c"])),
        namespace=draw(st.sampled_from(["s3://x", "hf://y"])),
        rows=draw(row_counts),
        model=draw(st.booleans()),
        version=draw(st.none() | st.sampled_from(["1", "2"])),
        origin=draw(origins),
    )


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    inputs=st.lists(datasets(InputDataset), max_size=4),
    outputs=st.lists(datasets(OutputDataset), max_size=3),
    run_id=st.uuids().map(str),
    job_name=names,
    event_type=st.none() | st.sampled_from(list(RunState)),
    seconds=st.integers(min_value=0, max_value=10**9),
)
def test_a_well_formed_run_event_always_maps_consistently(
    inputs: list[InputDataset],
    outputs: list[OutputDataset],
    run_id: str,
    job_name: str,
    event_type: RunState | None,
    seconds: int,
) -> None:
    moment = datetime(2000, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
    event = wire(
        RunEvent(
            eventType=event_type,
            eventTime=moment.isoformat(),
            run=Run(runId=run_id),
            job=Job(namespace="ns", name=job_name),
            producer=PRODUCER,
            inputs=inputs,
            outputs=outputs,
        )
    )

    mapped = map_event(event)

    assert mapped.event_time == moment
    assert mapped.job_name == job_name
    assert mapped.event_type == (event_type.value if event_type else None)

    def expected_key(dataset: dict[str, Any], output: bool) -> NodeKey:
        dataset_facets = dataset.get("facets", {})
        kind = "model" if "datasetType" in dataset_facets else "dataset"
        version = dataset_facets.get("version", {}).get("datasetVersion")
        if version is None and output:
            version = run_id
        fallback = run_id if version is None else None
        return key(
            dataset["name"], version, kind=kind, namespace=dataset["namespace"], fallback=fallback
        )

    def rows(dataset: dict[str, Any], role: str) -> float | None:
        found = dataset.get(role, {}).get(role.replace("Facets", "Statistics"), {})
        return None if found.get("rowCount") is None else float(found["rowCount"])

    ins = [(expected_key(d, False), d) for d in event.get("inputs", [])]
    outs = [(expected_key(d, True), d) for d in event.get("outputs", [])]
    assert [n.key for n in mapped.nodes] == list(dict.fromkeys(k for k, _ in ins + outs))
    for n in mapped.nodes:
        sizes = [rows(d, "outputFacets") for k, d in outs if k == n.key]
        assert n.size == next((s for s in sizes if s is not None), None)

    generator = any(k.kind == "model" for k, _ in ins)
    expected: dict[tuple[NodeKey, NodeKey, str], float | None] = {}
    for child, _ in outs:
        for parent, dataset in ins:
            if child == parent:
                continue
            relation = {
                ("model", "dataset"): "trained_on",
                ("model", "model"): "fine_tuned_from",
                ("dataset", "model"): "generated_by",
                ("dataset", "dataset"): "used" if generator else "derived_from",
            }[(child.kind, parent.kind)]
            if expected.get((child, parent, relation)) is None:
                expected[(child, parent, relation)] = rows(dataset, "inputFacets")
    assert {(e.child, e.parent, e.relation): e.amount for e in mapped.edges} == expected
    assert len(mapped.edges) == len(expected)
