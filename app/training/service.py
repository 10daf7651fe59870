"""Training runs: the training set's composition kept current, and judged under a policy.

A run is judged when its model version is recorded and again whenever a correction upstream
changes its training set's composition; each judgement that changes something is kept in the
run's verdict history beside the earlier ones.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func
from sqlalchemy.orm import Session

from app.artifacts import repository as artifact_repository
from app.artifacts.models import Artifact
from app.composition import repository as composition_repository
from app.composition.core import Composition
from app.composition.schemas import composition_summary
from app.config import get_settings
from app.db import row_as
from app.errors import NotFound
from app.metrics import VERDICTS
from app.pagination import Page, PageRequest
from app.policies import service as policy_service
from app.policies.models import Policy
from app.policies.schemas import (
    FindingRead,
    PolicyRef,
    PreviousGenerationRead,
    RemediationRead,
    SetMember,
)
from app.retractions import repository as retraction_repository
from app.training import repository
from app.training.models import TrainingRun, VerdictRecord
from app.training.schemas import ModelKey, TrainingRunRead, TrainingRunSummary, VerdictRead

REFRESH_BATCH = 500
# runs one worker transaction re-judges: a writer whose change reaches them waits at most this long
REJUDGE_BATCH = 100


def refresh(
    session: Session, model_ids: Sequence[uuid.UUID], *, cause: str, structural: bool = True
) -> None:
    """Record, recompute and re-judge the training run of each model that has a training set.

    ``model_ids`` come in topological order (as propagation visits them): a run is judged
    against its previous generation's run, which sits upstream and so is brought up to date
    first. ``structural=False`` says no edge changed (an origin or size was corrected), so each
    run's self-consuming ancestry is reused instead of walked again. Work goes in batches whose
    loaded rows are released after each, so a correction reaching thousands of training runs
    holds one batch in memory.
    """
    ordered = list(dict.fromkeys(model_ids))
    policy = policy_service.current(session, get_settings().default_policy)
    for start in range(0, len(ordered), REFRESH_BATCH):
        batch = ordered[start : start + REFRESH_BATCH]
        sets = repository.training_sets(session, batch)
        withdraw_retracted(session, [m for m in batch if m not in sets])
        if not sets:
            continue
        runs = repository.by_models(session, list(sets))
        models = artifact_repository.many(session, list(sets))
        datasets = artifact_repository.many(
            session, list({dataset_id for edges in sets.values() for dataset_id, _ in edges})
        )
        lookups = shared_reads(session)
        lookups.prefetch_sources(policy, list(datasets))
        if not structural:
            known = [known_ancestry(run) for run in runs.values()]
            earlier = [a.previous for a in known if a is not None and a.previous is not None]
            lookups.prefetch_runs(earlier)
            artifact_repository.many(session, earlier)
        for model_id in (m for m in batch if m in sets):
            judge_run(
                session,
                models[model_id],
                [policy_service.Member(datasets[d], amount) for d, amount in sets[model_id]],
                runs.get(model_id),
                policy,
                cause=cause,
                structural=structural,
                lookups=lookups,
            )
        session.flush()
        for loaded in [*runs.values(), *models.values(), *datasets.values()]:
            session.expire(loaded)


def withdraw_retracted(session: Session, model_ids: Sequence[uuid.UUID]) -> None:
    """Among these models without a training set, the retracted ones' runs are no longer judged
    (their verdict becomes null): their training did not produce a model anyone should rely on."""
    runs = repository.by_models(session, model_ids) if model_ids else {}
    if not runs:
        return
    for model_id in retraction_repository.of_versions(session, list(runs)):
        runs[model_id].verdict = None
        runs[model_id].judged_at = func.clock_timestamp()
    session.flush()


def queue(
    session: Session, model_ids: Sequence[uuid.UUID], *, cause: str, structural: bool = True
) -> None:
    """Leave the re-judging of these runs to a worker (:func:`rejudge_pending`): their verdicts
    read ``rejudging`` until then, and the write that changed them does not wait for it."""
    repository.enqueue_rejudge(session, list(dict.fromkeys(model_ids)), cause, structural)


def rejudge_pending(session: Session, batch: int = REJUDGE_BATCH) -> int:
    """Re-judge the next queued runs, in queue order, in this session's transaction; how many
    (0 when none is queued or another process is re-judging).

    The models are locked ``FOR SHARE`` first: a writer changing their lineage holds them, and
    is waited for, so a judgement never rests on a composition about to change; a writer that
    comes later waits for this batch only.
    """
    if not repository.take_rejudge_turn(session):
        return 0
    requests = [
        (r.model_id, r.seq, r.cause, r.structural) for r in repository.next_rejudge(session, batch)
    ]
    if not requests:
        return 0
    composition_repository.lock_for_reading(session, [model_id for model_id, *_ in requests])
    start = 0
    while start < len(requests):
        _, _, cause, structural = requests[start]
        end = start
        while end < len(requests) and requests[end][2:] == (cause, structural):
            end += 1
        refresh(session, [r[0] for r in requests[start:end]], cause=cause, structural=structural)
        start = end
    repository.rejudged(session, [(model_id, seq) for model_id, seq, *_ in requests])
    return len(requests)


def rejudging(session: Session, model_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """The models among these whose runs wait to be re-judged."""
    return repository.rejudging(session, model_ids)


def shared_reads(session: Session) -> policy_service.SharedReads:
    """What judgements share, reading earlier generations' runs from this domain."""
    return policy_service.SharedReads(session, repository.by_models)


def known_ancestry(run: TrainingRun | None) -> policy_service.Ancestry | None:
    """The ancestry a run was last judged with, when it recorded one."""
    if run is None or run.verdict is None:
        return None
    previous = run.previous_generation
    if previous is None:
        return policy_service.Ancestry(None, frozenset())
    if "carried_over" not in previous:
        return None
    return policy_service.Ancestry(
        uuid.UUID(previous["id"]), frozenset(uuid.UUID(i) for i in previous["carried_over"])
    )


def judge_run(
    session: Session,
    model: Artifact,
    members: Sequence[policy_service.Member],
    run: TrainingRun | None,
    policy: Policy,
    *,
    cause: str,
    structural: bool,
    lookups: policy_service.SharedReads | None = None,
) -> None:
    """Judge one model's training set; record the run, and a history entry when the
    composition, the verdict, its findings or the policy changed."""
    judgement = policy_service.judge(
        session,
        members,
        policy,
        model=(model.namespace, model.name),
        exclude=model.id,
        ancestry=None if structural else known_ancestry(run),
        lookups=lookups or shared_reads(session),
    )
    composition = judgement.composition
    stored = composition.composition.to_json()
    findings = [FindingRead.model_validate(f).model_dump(mode="json") for f in judgement.findings]
    if run is None:
        run = TrainingRun(model_id=model.id)
        session.add(run)
    elif (
        run.composition == stored
        and run.total_amount == composition.total_amount
        and run.verdict == judgement.verdict
        and run.findings == findings
        and run.policy_version == policy.version
        and run.policy_name == policy.name
    ):
        return
    run.composition = stored
    run.total_amount = composition.total_amount
    run.weights_assumed = composition.weights_assumed
    run.verdict = judgement.verdict
    run.findings = findings
    run.policy_name = policy.name
    run.policy_version = policy.version
    run.remediation = (
        judgement.remediation.model_dump(mode="json") if judgement.remediation else None
    )
    run.previous_generation = (
        judgement.previous.model_dump(mode="json") if judgement.previous else None
    )
    run.judged_at = func.clock_timestamp()
    session.flush()
    summary = composition_summary(
        composition.composition,
        composition.total_amount,
        weights_assumed=composition.weights_assumed,
        stale=False,
    )
    VERDICTS.labels(judgement.verdict, "training_run").inc()
    session.add(
        VerdictRecord(
            training_run_id=run.id,
            verdict=judgement.verdict,
            policy_name=policy.name,
            policy_version=policy.version,
            composition=summary.model_dump(mode="json"),
            findings=findings,
            cause=cause,
        )
    )


def run_read(session: Session, run: TrainingRun, model: Artifact | None = None) -> TrainingRunRead:
    model = model or session.get(Artifact, run.model_id)
    assert model is not None
    edges = repository.training_sets(session, [run.model_id]).get(run.model_id, [])
    datasets = artifact_repository.many(session, [d for d, _ in edges])
    return TrainingRunRead(
        **dict(summaries(session, [(run, model)])[0]),
        training_set=[
            row_as(
                SetMember, datasets[d], amount=amount if amount is not None else datasets[d].size
            )
            for d, amount in edges
        ],
        findings=[FindingRead.model_validate(f) for f in run.findings],
        remediation=RemediationRead.model_validate(run.remediation) if run.remediation else None,
        previous_generation=(
            PreviousGenerationRead.model_validate(run.previous_generation)
            if run.previous_generation
            else None
        ),
        history=[
            VerdictRead(
                verdict=h.verdict,
                policy=PolicyRef(name=h.policy_name, version=h.policy_version),
                judged_at=h.judged_at,
                cause=h.cause,
                composition=h.composition,
                findings=[FindingRead.model_validate(f) for f in h.findings],
            )
            for h in repository.history(session, run.id)
        ],
    )


def get(session: Session, run_id: uuid.UUID) -> TrainingRunRead:
    run = session.get(TrainingRun, run_id)
    if run is None:
        raise NotFound(f"No training run has id {run_id}.", missing={"id": str(run_id)})
    return run_read(session, run)


def listing(
    session: Session,
    requested: PageRequest,
    *,
    verdict: str | None,
    namespace: str | None,
    model_name: str | None,
    since: datetime | None,
    until: datetime | None,
) -> Page[TrainingRunSummary]:
    """Training runs, newest first, filtered by verdict, model and when they were judged."""
    return requested.newest_first(
        "training runs",
        lambda after, n: repository.page(
            session,
            verdict=verdict,
            namespace=namespace,
            model_name=model_name,
            since=since,
            until=until,
            after=after,
            limit=n,
        ),
        lambda rows: summaries(session, rows),
        lambda r: (r[0].created_at, r[0].id),
    )


def run_ids(session: Session, model_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
    """The id of each model version's training run, for the models that have one."""
    return {model_id: run.id for model_id, run in repository.by_models(session, model_ids).items()}


def summaries(
    session: Session, rows: Sequence[tuple[TrainingRun, Artifact]]
) -> list[TrainingRunSummary]:
    """Training runs as a list shows them: model, verdict, policy and composition."""
    waiting = rejudging(session, [m.id for _, m in rows])
    return [
        TrainingRunSummary(
            id=run.id,
            model=ModelKey.model_validate(m, from_attributes=True),
            created_at=run.created_at,
            judged_at=run.judged_at,
            verdict=run.verdict,
            rejudging=m.id in waiting,
            policy=PolicyRef(name=run.policy_name or "", version=run.policy_version or 0),
            composition=composition_summary(
                Composition.from_stored(run.composition),
                run.total_amount,
                weights_assumed=run.weights_assumed,
                stale=m.composition_stale,
            ),
        )
        for run, m in rows
    ]
