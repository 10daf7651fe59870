"""A pipeline that reports its lineage to Headwater through the official OpenLineage client.

Events are built with ``openlineage.client.event_v2`` and sent by ``OpenLineageClient`` over
its ``HttpTransport``, so what Headwater receives is byte for byte what a real pipeline sends.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import attr
import requests
from openlineage.client import OpenLineageClient
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
)
from openlineage.client.serde import Serde
from openlineage.client.uuid import generate_new_uuid

from app.lineage.events import HEADWATER_ORIGIN_SCHEMA_ID

PRODUCER = "https://github.com/example/pipelines/tree/v1"
JOB_NAMESPACE = "training-pipeline"
API_KEY = "hw-test-token"
ORIGIN_DEFINITION = "#/$defs/HeadwaterOriginDatasetFacet"

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
HUMAN_EDITS = IPTC + "humanEdits"
TRAINED = IPTC + "trainedAlgorithmicMedia"


def origin_schema_url(base_url: str) -> str:
    """The ``_schemaURL`` of the ``headwater_origin`` facet on a service at ``base_url``."""
    return base_url.rstrip("/") + HEADWATER_ORIGIN_SCHEMA_ID + ORIGIN_DEFINITION


@attr.define
class HeadwaterOriginDatasetFacet(DatasetFacet):
    """The custom facet, declared the way the OpenLineage client's own facets are."""

    human: float | None = attr.field(default=None)
    synthetic: float | None = attr.field(default=None)
    unknown: float | None = attr.field(default=None)
    synthetic_depth: int | None = attr.field(default=None)
    digitalSourceType: str | None = attr.field(default=None)


@attr.define
class LicenseDatasetFacet(DatasetFacet):
    """A third-party facet Headwater knows nothing about."""

    spdx: str = attr.field(default="CC-BY-4.0")

    @staticmethod
    def _get_schema() -> str:
        return "https://example.com/facets/LicenseDatasetFacet.json"


@dataclass
class Sent:
    """One request the client's transport sent, and the answer it got."""

    headers: Mapping[str, str]
    body: bytes
    status: int
    answer: Any


@dataclass
class Builder:
    """Builds events the way a pipeline would: datasets in ``namespace``, models in
    ``model_namespace``, origins pointing at the facet schema served at ``base_url``."""

    base_url: str
    namespace: str = "s3://corpus"
    model_namespace: str = "hf://acme"

    # --- datasets and facets ---------------------------------------------------------------

    def origin(self, **declared: Any) -> HeadwaterOriginDatasetFacet:
        facet = HeadwaterOriginDatasetFacet(producer=PRODUCER, **declared)
        facet._schemaURL = origin_schema_url(self.base_url)
        return facet

    def facets(
        self,
        *,
        model: bool = False,
        version: str | None = None,
        origin: HeadwaterOriginDatasetFacet | None = None,
        **extra: DatasetFacet,
    ) -> dict[str, DatasetFacet]:
        result: dict[str, DatasetFacet] = dict(extra)
        if model:
            result["datasetType"] = dataset_type_dataset.DatasetTypeDatasetFacet(
                datasetType="MODEL", producer=PRODUCER
            )
        if version is not None:
            result["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(
                datasetVersion=version, producer=PRODUCER
            )
        if origin is not None:
            result["headwater_origin"] = origin
        return result

    def reads(
        self, name: str, *, rows: int | None = None, model: bool = False, **facet_args: Any
    ) -> InputDataset:
        input_facets = {}
        if rows is not None:
            input_facets["inputStatistics"] = (
                input_statistics_input_dataset.InputStatisticsInputDatasetFacet(
                    rowCount=rows, producer=PRODUCER
                )
            )
        return InputDataset(
            namespace=self.model_namespace if model else self.namespace,
            name=name,
            facets=self.facets(model=model, **facet_args),
            inputFacets=input_facets,
        )

    def writes(
        self, name: str, *, rows: int | None = None, model: bool = False, **facet_args: Any
    ) -> OutputDataset:
        output_facets = {}
        if rows is not None:
            output_facets["outputStatistics"] = (
                output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
                    rowCount=rows, producer=PRODUCER
                )
            )
        return OutputDataset(
            namespace=self.model_namespace if model else self.namespace,
            name=name,
            facets=self.facets(model=model, **facet_args),
            outputFacets=output_facets,
        )

    # --- events ----------------------------------------------------------------------------

    def run_event(
        self,
        job: str,
        inputs: list[InputDataset],
        outputs: list[OutputDataset],
        *,
        run_id: str | None = None,
        state: RunState = RunState.COMPLETE,
    ) -> RunEvent:
        return RunEvent(
            eventType=state,
            eventTime=now(),
            run=Run(runId=run_id or new_run_id()),
            job=Job(namespace=JOB_NAMESPACE, name=job),
            producer=PRODUCER,
            inputs=inputs,
            outputs=outputs,
        )

    def dataset_event(self, dataset: StaticDataset) -> DatasetEvent:
        return DatasetEvent(eventTime=now(), producer=PRODUCER, dataset=dataset)

    def job_event(
        self, job: str, inputs: list[InputDataset], outputs: list[OutputDataset]
    ) -> JobEvent:
        return JobEvent(
            eventTime=now(),
            producer=PRODUCER,
            job=Job(namespace=JOB_NAMESPACE, name=job),
            inputs=inputs,
            outputs=outputs,
        )


@dataclass
class Pipeline(Builder):
    """A :class:`Builder` that emits through ``client``.

    Every request the transport sends is recorded in ``sent`` by a response hook on the
    transport's own ``requests`` session, so tests see the headers and body on the wire.
    """

    client: OpenLineageClient | None = None
    sent: list[Sent] = field(default_factory=list)

    def __post_init__(self) -> None:
        assert self.client is not None
        self.client.transport.session.hooks["response"].append(self._record)

    def _record(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        try:
            answer = response.json()
        except ValueError:
            answer = None
        body = response.request.body
        assert body is None or isinstance(body, str | bytes)
        self.sent.append(
            Sent(
                headers={str(k): str(v) for k, v in response.request.headers.items()},
                body=body.encode() if isinstance(body, str) else body or b"",
                status=response.status_code,
                answer=answer,
            )
        )

    def emit(self, event: RunEvent | DatasetEvent | JobEvent) -> Sent:
        """Send one event; the client raises ``requests.HTTPError`` on a 4xx or 5xx answer."""
        assert self.client is not None
        before = len(self.sent)
        self.client.emit(event)
        assert len(self.sent) == before + 1, "the transport retried or did not send"
        return self.sent[-1]

    def run(
        self,
        job: str,
        inputs: list[InputDataset],
        outputs: list[OutputDataset],
        *,
        run_id: str | None = None,
    ) -> str:
        """A run as a scheduler reports it: START naming its datasets, then COMPLETE with the
        statistics; returns the run id."""
        run_id = run_id or new_run_id()
        started = self.run_event(
            job,
            [strip_statistics(d) for d in inputs],
            [strip_statistics(d) for d in outputs],
            run_id=run_id,
            state=RunState.START,
        )
        for event in (started, self.run_event(job, inputs, outputs, run_id=run_id)):
            sent = self.emit(event)
            assert sent.status == 201, sent.answer
        return run_id


def strip_statistics(dataset: InputDataset | OutputDataset) -> Any:
    """The dataset as a START event names it: before the run, nothing was counted."""
    if isinstance(dataset, InputDataset):
        return InputDataset(namespace=dataset.namespace, name=dataset.name, facets=dataset.facets)
    return OutputDataset(namespace=dataset.namespace, name=dataset.name, facets=dataset.facets)


def wire(event: RunEvent | DatasetEvent | JobEvent) -> dict[str, Any]:
    """The JSON body that the client's HttpTransport posts for ``event``."""
    body: dict[str, Any] = json.loads(Serde.to_json(event))
    return body


def now() -> str:
    return datetime.now(UTC).isoformat()


def new_run_id() -> str:
    return str(generate_new_uuid())
