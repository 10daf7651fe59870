"""SQL for training runs and their verdict history."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app.artifacts.models import NATURAL_KEY_HASH, Artifact
from app.db import equals_any, json_dumps
from app.lineage.models import Edge
from app.pagination import newest_first, where_given
from app.training.models import RejudgeRequest, TrainingRun, VerdictRecord


def by_models(session: Session, model_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, TrainingRun]:
    rows = session.scalars(
        select(TrainingRun).where(equals_any(TrainingRun.model_id, model_ids))
    ).all()
    return {run.model_id: run for run in rows}


def training_sets(
    session: Session, model_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[uuid.UUID, float | None]]]:
    """Each model's training set: (dataset id, amount) of its trained_on edges."""
    rows = session.execute(
        select(Edge.child_id, Edge.parent_id, Edge.amount)
        .where(Edge.relation == "trained_on", equals_any(Edge.child_id, model_ids))
        .order_by(Edge.created_at, Edge.id)
    ).all()
    sets: dict[uuid.UUID, list[tuple[uuid.UUID, float | None]]] = {}
    for child, parent, amount in rows:
        sets.setdefault(child, []).append((parent, amount))
    return sets


def page(
    session: Session,
    *,
    verdict: str | None,
    namespace: str | None,
    model_name: str | None,
    since: datetime | None,
    until: datetime | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[tuple[TrainingRun, Artifact]]:
    query = where_given(
        select(TrainingRun, Artifact).join(Artifact, Artifact.id == TrainingRun.model_id),
        (TrainingRun.verdict, verdict),
        (Artifact.namespace, namespace),
        (Artifact.name, model_name),
    )
    if since is not None:
        query = query.where(TrainingRun.judged_at >= since)
    if until is not None:
        query = query.where(TrainingRun.judged_at < until)
    query = newest_first(query, TrainingRun.created_at, TrainingRun.id, after, limit)
    return [(run, model) for run, model in session.execute(query).all()]


def history(session: Session, run_id: uuid.UUID) -> Sequence[VerdictRecord]:
    return session.scalars(
        select(VerdictRecord)
        .where(VerdictRecord.training_run_id == run_id)
        .order_by(VerdictRecord.judged_at, VerdictRecord.id)
    ).all()


def enqueue_rejudge(
    session: Session, model_ids: Sequence[uuid.UUID], cause: str, structural: bool
) -> None:
    """Queue the models' runs for re-judging, in the order given. One already queued moves to
    the back, after the upstream runs this change queues before it."""
    session.execute(
        text(
            """
            INSERT INTO rejudge_queue (model_id, cause, structural)
            SELECT m.id, :cause, :structural
            FROM unnest(CAST(:ids AS uuid[])) WITH ORDINALITY AS m(id, position)
            ORDER BY m.position
            ON CONFLICT (model_id) DO UPDATE SET
                seq = excluded.seq,
                cause = excluded.cause,
                structural = rejudge_queue.structural OR excluded.structural
            """
        ),
        {"ids": list(model_ids), "cause": cause, "structural": structural},
    )


def take_rejudge_turn(session: Session) -> bool:
    """One re-judger at a time across every process (the queue's order is the judging order),
    until this transaction ends; False when another holds the turn."""
    return bool(
        session.execute(
            text("SELECT pg_try_advisory_xact_lock(hashtextextended('rejudge-queue', 0))")
        ).scalar_one()
    )


def next_rejudge(session: Session, limit: int) -> Sequence[RejudgeRequest]:
    return session.scalars(select(RejudgeRequest).order_by(RejudgeRequest.seq).limit(limit)).all()


def rejudged(session: Session, requests: Sequence[tuple[uuid.UUID, int]]) -> None:
    """Remove the requests judged, unless a later change queued the run again meanwhile."""
    session.execute(
        text(
            """
            DELETE FROM rejudge_queue q
            USING unnest(CAST(:ids AS uuid[]), CAST(:seqs AS bigint[])) AS d(model_id, seq)
            WHERE q.model_id = d.model_id AND q.seq = d.seq
            """
        ),
        {"ids": [m for m, _ in requests], "seqs": [s for _, s in requests]},
    )


def rejudging(session: Session, model_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these models' runs are waiting to be re-judged."""
    if not model_ids:
        return set()
    return set(
        session.scalars(
            select(RejudgeRequest.model_id).where(equals_any(RejudgeRequest.model_id, model_ids))
        )
    )


def rejudge_queue_depth(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(RejudgeRequest)) or 0)


class ProposedMember(NamedTuple):
    """A dataset version a proposed training set names, as the gate mixes and judges it: its
    key, size, packed composition and figures, and why it was retracted (None while it is
    live). A row tuple, no ORM object: a proposed set of 100,000 is read at once."""

    id: uuid.UUID
    namespace: str
    name: str
    version: str
    size: float | None
    composition_packed: bytes
    composition_stale: bool
    human_fraction: float
    synthetic_fraction: float
    retracted: str | None


def proposed_members(
    session: Session, items: Sequence[tuple[str, str, str | None]]
) -> list[ProposedMember | None]:
    """The dataset version each (namespace, name, version) names, None where none is recorded,
    in one statement. A name that is an alias is looked up under the identifier it leads to;
    no version means the newest one not retracted; a version named is found retracted or not.
    """
    rows = session.execute(
        text(
            f"""
            WITH asked AS MATERIALIZED (
                SELECT position, namespace, name, version, {NATURAL_KEY_HASH} AS natural_key_hash
                FROM (
                    SELECT k.position, 'dataset' AS kind, n.namespace, n.name,
                           coalesce(k.version, newest.version) AS version
                    FROM jsonb_to_recordset(CAST(:items AS jsonb))
                        AS k(position int, namespace text, name text, version text)
                    LEFT JOIN aliases al
                        ON al.kind = 'dataset' AND al.namespace = k.namespace
                        AND al.name = k.name
                    CROSS JOIN LATERAL (
                        SELECT coalesce(al.canonical_namespace, k.namespace) AS namespace,
                               coalesce(al.canonical_name, k.name) AS name
                    ) n
                    LEFT JOIN LATERAL (
                        SELECT v.version FROM artifacts v
                        WHERE k.version IS NULL AND v.kind = 'dataset'
                          AND v.namespace = n.namespace AND v.name = n.name
                          AND NOT EXISTS (SELECT FROM retractions x WHERE x.artifact_id = v.id)
                        ORDER BY v.created_at DESC, v.id DESC
                        LIMIT 1
                    ) newest ON true
                ) named
            )
            -- materialized: each version is then found by the hash of its key, not among its
            -- name's; the key's text is compared on the row found, as two keys may hash alike
            SELECT a.id, a.namespace, a.name, a.version, a.size, a.composition_packed,
                   a.composition_stale, a.human_fraction, a.synthetic_fraction, r.reason
            FROM asked
            LEFT JOIN artifacts a
                ON a.natural_key_hash = asked.natural_key_hash
                AND a.kind = 'dataset' AND a.namespace = asked.namespace
                AND a.name = asked.name AND a.version = asked.version
            LEFT JOIN retractions r ON r.artifact_id = a.id
            ORDER BY asked.position
            """
        ),
        {
            "items": json_dumps(
                [
                    {"position": i, "namespace": namespace, "name": name, "version": version}
                    for i, (namespace, name, version) in enumerate(items)
                ]
            )
        },
    )
    return [None if row[0] is None else ProposedMember._make(row) for row in rows.all()]
