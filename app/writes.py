"""The write sequence, in one place.

Every lineage write (a dataset, model or edge posted natively, alone or in a batch, an origin
corrected, a version or an edge retracted, an OpenLineage event) goes the same way, inside the
request's one transaction (single OpenLineage events: inside their group's, ``ingest_group``),
for the ``actor`` whose token the route's ``Writer`` dependency has checked for the ``write``
scope:

1. **authorise and record** — the domain service checks that the actor may write each
   namespace the write touches (it knows them once it has resolved what the write names),
   checks what was said and stores it, locking only what its rows need: the natural key it
   creates, the parents it hangs below, and, for an edge into an existing node, that node's
   descendants (``app.registration``, ``app.lineage.service``, ``app.lineage.ingest``,
   ``app.retractions.service``);
2. **propagate** — every composition downstream is recomputed under row locks on that subgraph,
   or marked stale and queued when it is too large for one request (``app.composition.service``;
   a worker finishes it, ``app.composition.jobs``);
3. **re-judge** — the training runs downstream are judged again (``app.training.service``), in
   the request when they are few, else queued for a worker, their verdicts reading
   ``rejudging`` until it is done;
4. **audit** — the accepted write is appended to the audit log (``app.audit.service``), in the
   same transaction, so an acknowledged write is always in the log and a rolled-back one never.

Writers in unrelated parts of the graph take no lock in common. Writers whose locks cross can
deadlock; PostgreSQL then aborts one of them, and that one's write runs again
(:func:`retried`): from its savepoint when nothing before it in the transaction holds a lock,
else as a whole transaction, so the client sees the conflict resolved rather than an error.
Routers call these functions, never a domain's write functions directly.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app import registration
from app.artifacts.models import Artifact
from app.artifacts.schemas import DatasetCreate, ModelCreate, OriginIn
from app.artifacts.service import request_content
from app.audit import service as audit
from app.auth.core import Principal
from app.composition import jobs as composition_jobs
from app.composition import service as composition_service
from app.composition.service import LineageChange
from app.config import get_settings
from app.db import unavailable
from app.errors import ProblemError
from app.lineage import batch as lineage_batch
from app.lineage import ingest as lineage_ingest
from app.lineage import service as lineage_service
from app.lineage.models import Edge
from app.lineage.schemas import EdgeCreate, NativeBatch
from app.metrics import WRITE_RETRIES
from app.retractions import service as retraction_service
from app.retractions.models import Retraction
from app.training import service as training_service

log = logging.getLogger("headwater.writes")

T = TypeVar("T")

# SQLSTATEs after which running the same write again can succeed: deadlock_detected,
# serialization_failure
RETRYABLE = frozenset({"40P01", "40001"})
ATTEMPTS = 20
RETRY_PAUSE = 0.005  # seconds; the pause before retry n is drawn from [0, RETRY_PAUSE * 2**n]


@dataclass
class WriteCounters:
    """Totals since the process started, in this process, for the tests to read (retries are
    counted for Prometheus instead: ``headwater_write_retries_total``)."""

    writes: int = 0
    propagated_nodes: int = 0
    deferred_propagations: int = 0


counters = WriteCounters()


def retryable(exc: DBAPIError) -> bool:
    return getattr(exc.orig, "sqlstate", None) in RETRYABLE


def write(
    session: Session,
    record: Callable[[], tuple[T, LineageChange | None]],
    *,
    whole_transaction: bool = False,
    after_locks: bool = False,
) -> T:
    """Record, propagate and re-judge, as one step of the caller's transaction.

    ``whole_transaction``: the write is all the transaction holds (a request that writes one
    thing), so a retry rolls the transaction back instead of a savepoint, and the two statements
    of the savepoint are saved.

    ``after_locks``: earlier steps of the transaction hold locks (the events of a batch recorded
    before this write), so a deadlock is not retried from this write's savepoint but raised, for
    the transaction's owner to retry whole (:func:`retried`). Rolled back to a savepoint, the
    transaction keeps what its earlier steps locked: the writer it deadlocked with would go on
    waiting for that, and the write run again would meet it again, every time."""

    def step() -> T:
        with nullcontext() if whole_transaction else session.begin_nested():
            result, change = record()
            if change is not None:
                follow(session, change)
        counters.writes += 1
        return result

    if after_locks:
        return step()
    return retried(session, step, whole_transaction=whole_transaction)


def retried(session: Session, work: Callable[[], T], *, whole_transaction: bool = True) -> T:
    """``work`` run again after a deadlock or a serialization failure, up to ``ATTEMPTS`` times
    in all: from a rolled-back transaction when it is all the transaction holds
    (``whole_transaction``), else from its own savepoint, which ``work`` rolls back itself."""
    attempt = 1
    while True:
        try:
            return work()
        except DBAPIError as exc:
            if not retryable(exc) or attempt >= ATTEMPTS:
                raise
            if whole_transaction:
                session.rollback()
            error = type(exc.orig).__name__
            WRITE_RETRIES.labels(error).inc()
            log.info("write retried", extra={"attempt": attempt, "error": error})
            # writers that deadlocked on each other and retry at once tend to meet again in the
            # same order: a random, growing pause lets the surviving one finish first
            time.sleep(random.uniform(0.0, RETRY_PAUSE * 2 ** min(attempt, 6)))
            attempt += 1


def follow(session: Session, change: LineageChange) -> None:
    """Propagate a recorded change, then re-judge the training runs it reached."""
    outcome = composition_service.propagate(session, change)
    counters.propagated_nodes += outcome.nodes
    if outcome.job_id is not None:
        counters.deferred_propagations += 1
    if len(outcome.models) > get_settings().rejudge_inline_limit:
        training_service.queue(
            session, outcome.models, cause=change.cause, structural=change.structural
        )
    elif outcome.models:
        training_service.refresh(
            session, outcome.models, cause=change.cause, structural=change.structural
        )
    # propagation writes in bulk, around the ORM: loaded versions must read what it wrote
    session.expire_all()


def finish_deferred(
    session: Session, sessions: Callable[[], Session] | None = None
) -> composition_service.Recomputed | None:
    """Finish the oldest deferred propagation, then queue the re-judging of the runs it reached
    (in batches of their own, after this transaction releases the subgraph). With ``sessions``
    the propagation commits level by level in sessions of its own."""
    outcome = composition_jobs.run_pending_job(session, sessions)
    if outcome is not None and outcome.models:
        training_service.queue(
            session, outcome.models, cause=outcome.cause, structural=outcome.structural
        )
    return outcome


def registered(
    result: registration.Registered,
) -> tuple[tuple[Artifact, bool], LineageChange | None]:
    return (result.artifact, result.is_new), result.change


def register_dataset(
    session: Session, body: DatasetCreate, *, actor: Principal, whole_transaction: bool = False
) -> tuple[Artifact, bool]:
    """A dataset version with its origin, size and parents (or the identical one recorded)."""
    lineage_service.within_edge_limit(len(body.parents), "parents")
    record = partial(registration.record_dataset, session, body, actor=actor)
    return register_version(session, record, body, actor, whole_transaction)


def register_model(
    session: Session, body: ModelCreate, *, actor: Principal, whole_transaction: bool = False
) -> tuple[Artifact, bool]:
    """A model version with its training set, which records its training run."""
    members = len(body.training_set) + (body.base_model is not None)
    lineage_service.within_edge_limit(members, "training-set members")
    record = partial(registration.record_model, session, body, actor=actor)
    return register_version(session, record, body, actor, whole_transaction)


def register_version(
    session: Session,
    record: Callable[[], registration.Registered],
    body: DatasetCreate | ModelCreate,
    actor: Principal,
    whole_transaction: bool,
) -> tuple[Artifact, bool]:
    """Record one native version, then audit it if it is new: an identical version posted
    again is answered with the one recorded, and audited once."""
    artifact, is_new = write(
        session, lambda: registered(record()), whole_transaction=whole_transaction
    )
    if is_new:
        kind = "dataset" if isinstance(body, DatasetCreate) else "model"
        audit.record(session, actor.name, f"{kind}.create", request_content(body))
    return artifact, is_new


def add_edge(session: Session, body: EdgeCreate, *, actor: Principal) -> tuple[Edge, bool]:
    """A later edge between recorded versions; one that would close a cycle is refused."""

    def record() -> tuple[tuple[Edge, bool], LineageChange | None]:
        edge, change = lineage_service.record_edge(session, body, actor=actor)
        return (edge, change is not None and change.structural), change

    edge, is_new = write(session, record)
    if is_new:
        audit.record(session, actor.name, "edge.create", request_content(body))
    return edge, is_new


def correct_origin(
    session: Session,
    dataset_id: uuid.UUID,
    declared: OriginIn,
    reason: str | None,
    *,
    actor: Principal,
) -> Artifact:
    """Replace a dataset version's declared origin; every descendant follows."""
    artifact, changed = write(
        session,
        lambda: registered(
            registration.record_origin(session, dataset_id, declared, reason, actor=actor)
        ),
    )
    if changed:
        content = {"dataset_id": str(dataset_id), **request_content(declared)}
        audit.record(session, actor.name, "origin.correct", content)
    return artifact


def record_batch(
    session: Session, body: NativeBatch, *, actor: Principal
) -> list[lineage_batch.ItemOutcome]:
    """Datasets, models and edges in one request; each item recorded or rejected on its own."""
    outcomes = write(session, lambda: lineage_batch.record_batch(session, body, actor=actor))
    if any(o.status == "created" for o in outcomes):
        audit.record(session, actor.name, "batch.create", request_content(body))
    return outcomes


def retract_version(
    session: Session, artifact_id: uuid.UUID, kind: str, reason: str, *, actor: Principal
) -> tuple[Retraction, bool]:
    """A version retracted with every edge into and out of it; everything below follows."""
    retraction, created = write(
        session,
        lambda: retraction_service.record_version_retraction(
            session, artifact_id, kind, reason, actor=actor
        ),
    )
    if created:
        content = {"id": str(artifact_id), "reason": reason, "retraction_id": str(retraction.id)}
        audit.record(session, actor.name, f"{kind}.retract", content)
    return retraction, created


def retract_edge(
    session: Session, edge_id: uuid.UUID, reason: str, *, actor: Principal
) -> tuple[Retraction, bool]:
    """An edge retracted; its child and everything below follow."""
    retraction, created = write(
        session,
        lambda: retraction_service.record_edge_retraction(session, edge_id, reason, actor=actor),
    )
    if created:
        content = {"id": str(edge_id), "reason": reason, "retraction_id": str(retraction.id)}
        audit.record(session, actor.name, "edge.retract", content)
    return retraction, created


def ingest(
    session: Session, event: Any, *, actor: Principal, whole_transaction: bool = False
) -> lineage_ingest.Ingested:
    """One OpenLineage event (``whole_transaction``: and nothing else in this transaction)."""

    def record() -> tuple[lineage_ingest.Ingested, LineageChange | None]:
        result = lineage_ingest.ingest(session, event, actor=actor)
        return result, result.change

    result = write(session, record, whole_transaction=whole_transaction)
    if result.status == "accepted":
        audit.record(session, actor.name, "lineage.event", event)
    return result


def ingest_batch(
    session: Session, events: Sequence[Any], *, actor: Principal, whole_transaction: bool = False
) -> list[lineage_ingest.Ingested | ProblemError]:
    """OpenLineage events, each recorded or rejected on its own, as if posted one after the
    other: those that stand alone recorded together, set-based, the others one by one in order
    on savepoints of their own (a rejected event's work is rolled back to its savepoint, the
    others' stays; ``lineage_ingest.ingest_together``); then what they changed propagated and
    re-judged once for all of them: each descendant is recomputed once, however many of the
    batch's events reach it.

    Each step writes after the locks of the steps before it, so a deadlock is not retried step
    by step (``write``'s ``after_locks``): with ``whole_transaction`` (the batch is all the
    transaction holds) the whole batch is rolled back and recorded again; otherwise the
    transaction's owner decides (a group of single events is recorded event by event)."""
    if whole_transaction:
        return retried(session, lambda: ingest_batch(session, events, actor=actor))
    settled = write(
        session,
        lambda: (lineage_ingest.ingest_together(session, events, actor=actor), None),
        after_locks=True,
    )
    outcomes = dict(settled.outcomes)
    for index in settled.left:

        def record(event: Any = events[index]) -> tuple[lineage_ingest.Ingested, None]:
            return lineage_ingest.ingest(session, event, actor=actor), None

        try:
            outcomes[index] = write(session, record, after_locks=True)
        except ProblemError as exc:
            outcomes[index] = exc
    ordered = [outcomes[index] for index in range(len(events))]
    changes: list[LineageChange] = []
    for event, outcome in zip(events, ordered, strict=True):
        if isinstance(outcome, ProblemError):
            continue
        if outcome.status == "accepted":
            audit.record(session, actor.name, "lineage.event", event)
        if outcome.change is not None:
            changes.append(outcome.change)
    if changes:
        write(session, lambda: (None, together(changes)), after_locks=True)
    return ordered


Transaction = Callable[[], AbstractContextManager[Session]]
"""A new session in a transaction of its own, committed when the block ends
(``Database.transaction``)."""


def ingest_group(
    transaction: Transaction, group: Sequence[tuple[Any, Principal]]
) -> list[lineage_ingest.Ingested | Exception]:
    """Single OpenLineage events posted at the same time, each with the actor whose token
    posted it, committed together (``app.group_commit``); each one's outcome as if they had
    been posted one after the other: an ``Ingested`` or the exception its request raises.

    One transaction records them: each actor's events as one batch (``ingest_batch``), so each
    event is authorised, recorded and audited for its own actor, and a rejected event is rolled
    back to its own savepoint, the others kept. When the transaction fails as a whole, each
    event is recorded again in a transaction of its own, and only the one at fault fails; when
    it failed because the database is unreachable, they all fail as each alone would."""
    by_actor: dict[Principal, list[int]] = {}
    for index, (_, actor) in enumerate(group):
        by_actor.setdefault(actor, []).append(index)
    outcomes: dict[int, lineage_ingest.Ingested | Exception] = {}
    try:
        with transaction() as session:
            for actor, indexes in by_actor.items():
                recorded = ingest_batch(session, [group[i][0] for i in indexes], actor=actor)
                outcomes.update(zip(indexes, recorded, strict=True))
    except Exception as exc:
        if unavailable(exc):
            return [exc] * len(group)
        log.warning(
            "a group of events failed together; each is recorded alone",
            extra={"events": len(group), "error": repr(exc)},
        )
        return [ingest_alone(transaction, event, actor) for event, actor in group]
    return [outcomes[index] for index in range(len(group))]


def ingest_alone(
    transaction: Transaction, event: Any, actor: Principal
) -> lineage_ingest.Ingested | Exception:
    """One OpenLineage event in a transaction of its own; its outcome or what it raised."""
    try:
        with transaction() as session:
            return ingest(session, event, actor=actor, whole_transaction=True)
    except Exception as exc:
        return exc


def together(changes: Sequence[LineageChange]) -> LineageChange:
    """One change for several recorded writes: every root, and structural if any was."""
    cause = (
        changes[0].cause
        if len(changes) == 1
        else f"{len(changes)} OpenLineage events recorded together"
    )
    return LineageChange.of(
        (root for change in changes for root in change.roots),
        cause,
        structural=any(change.structural for change in changes),
    )
