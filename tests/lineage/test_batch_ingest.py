"""A batch of OpenLineage events: each recorded or rejected on its own, what they changed
propagated once for all of them."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import writes
from app.artifacts.models import Artifact
from app.auth.core import NOBODY_IN_PARTICULAR as ANYONE
from app.lineage.ingest import Ingested

PRODUCER = "https://example.com/pipelines"
FACETS = "https://openlineage.io/spec/facets/"
NAMESPACE = "s3://batch-ingest"


def origin(human: float) -> dict[str, Any]:
    return {
        "headwater_origin": {
            "_producer": PRODUCER,
            "_schemaURL": FACETS + "headwater_origin.json",
            "human": human,
            "synthetic": 1 - human,
        }
    }


def dataset(name: str, rows: int, *, output: bool, facets: dict[str, Any] | None = None) -> Any:
    version = {"_producer": PRODUCER, "_schemaURL": FACETS + "v.json", "datasetVersion": "1"}
    statistics = {"_producer": PRODUCER, "_schemaURL": FACETS + "s.json", "rowCount": rows}
    role = "outputFacets" if output else "inputFacets"
    measured = "outputStatistics" if output else "inputStatistics"
    return {
        "namespace": NAMESPACE,
        "name": name,
        "facets": {"version": version, **(facets or {})},
        role: {measured: statistics},
    }


def run(inputs: list[Any], outputs: list[Any]) -> dict[str, Any]:
    return {
        "eventType": "COMPLETE",
        "eventTime": "2026-11-26T06:00:00Z",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": "jobs", "name": "job"},
        "inputs": inputs,
        "outputs": outputs,
        "producer": PRODUCER,
    }


def human_fraction(session: Session, name: str) -> float:
    return session.scalars(
        select(Artifact.human_fraction).where(
            Artifact.namespace == NAMESPACE, Artifact.name == name
        )
    ).one()


def test_a_batch_propagates_once_and_keeps_the_good_events(session: Session) -> None:
    events = [
        run([], [dataset("a", 100, output=True, facets=origin(1.0))]),
        run([dataset("a", 100, output=False)], [dataset("b", 100, output=True)]),
        {"eventTime": "not a time", "producer": PRODUCER, "run": {"runId": "?"}},
        run([dataset("b", 100, output=False)], [dataset("c", 100, output=True)]),
        # a correction of the first event's origin reaches everything the batch recorded
        run([], [dataset("a", 100, output=True, facets=origin(0.25))]),
    ]
    before = writes.counters.propagated_nodes

    outcomes = writes.ingest_batch(session, events, actor=ANYONE)

    assert [isinstance(o, Ingested) and o.status for o in outcomes] == [
        "accepted",
        "accepted",
        False,
        "accepted",
        "accepted",
    ]
    # a, b and c once each, not once for every event that reached them
    assert writes.counters.propagated_nodes - before == 3
    for name in ("a", "b", "c"):
        assert human_fraction(session, name) == 0.25
