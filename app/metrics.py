"""Prometheus metrics (the ``prometheus_client`` library): what the service counts, and
``GET /metrics``.

Counters and histograms live in the process that observes them. With several worker processes,
set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory before the service starts: every process
then writes its values there and ``/metrics`` (in whichever process answers) adds them up. The
propagation queue's depth is read from the database at each scrape, so it is the same in every
process.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import Scope

if TYPE_CHECKING:
    from app.db import Database

REQUESTS = Counter(
    "headwater_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
REQUEST_SECONDS = Histogram(
    "headwater_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
EVENTS = Counter(
    "headwater_openlineage_events",
    "OpenLineage events received, by outcome: accepted, duplicate or rejected.",
    ["outcome"],
)
GROUP_EVENTS = Histogram(
    "headwater_openlineage_group_events",
    "Single OpenLineage events committed together in one transaction (group commit).",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
)
EVENTS_WAITING = Gauge(
    "headwater_openlineage_events_waiting",
    "Single OpenLineage events waiting for the group being committed to finish.",
    multiprocess_mode="livesum",
)
LOCK_WAIT_SECONDS = Histogram(
    "headwater_lineage_lock_wait_seconds",
    "Time a write spent taking the locks on what it changes (natural keys, its subgraph's rows).",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
WRITE_RETRIES = Counter(
    "headwater_write_retries",
    "Writes run again after they deadlocked with another writer or failed to serialize, by the"
    " error (DeadlockDetected, SerializationFailure).",
    ["error"],
)
VERDICTS = Counter(
    "headwater_verdicts",
    "Verdicts given, by outcome and by what was judged: a training_run or a gate request.",
    ["verdict", "judged"],
)

UNMATCHED = "unmatched"


def route_template(scope: Scope) -> str:
    """The path template the request matched (``/api/v1/datasets/{dataset_id}``), which the
    router leaves in the scope, so that series stay few; ``unmatched`` when none did."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


def observe_request(scope: Scope, status: int, seconds: float) -> None:
    route = route_template(scope)
    REQUESTS.labels(scope["method"], route, str(status)).inc()
    REQUEST_SECONDS.labels(scope["method"], route).observe(seconds)


class QueueDepth(Collector):
    """Propagations waiting to be finished, read from the database at each scrape."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def collect(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily(
            "headwater_propagation_queue_depth",
            "Deferred propagations not yet done (their nodes read stale meanwhile).",
        )
        rejudging = GaugeMetricFamily(
            "headwater_rejudge_queue_depth",
            "Training runs waiting to be judged again (they read rejudging meanwhile).",
        )
        try:
            with self.database.engine.connect() as conn:
                depth = conn.scalar(
                    text("SELECT count(*) FROM propagation_jobs WHERE status <> 'done'")
                )
                waiting = conn.scalar(text("SELECT count(*) FROM rejudge_queue"))
        except SQLAlchemyError:
            return  # the database is unreachable: the other metrics still answer
        gauge.add_metric([], float(depth or 0))
        yield gauge
        rejudging.add_metric([], float(waiting or 0))
        yield rejudging


router = APIRouter(tags=["health"])


@router.get(
    "/metrics",
    summary="Prometheus metrics: requests, ingestion, propagation queue, lock waits, verdicts",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
def metrics(request: Request) -> PlainTextResponse:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        processes = CollectorRegistry()
        multiprocess.MultiProcessCollector(processes)  # type: ignore[no-untyped-call]
        counted = generate_latest(processes)
    else:
        counted = generate_latest(REGISTRY)
    database = CollectorRegistry()
    database.register(QueueDepth(request.app.state.database))
    return PlainTextResponse(counted + generate_latest(database), media_type=CONTENT_TYPE_LATEST)
