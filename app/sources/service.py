"""Original human sources: listing them, recording what a check found, and re-judging the
training runs downstream when a source's status changes.

The service never reads the data itself: ``headwater sources verify`` runs where the storage
credentials are, checks each source and reports the results here.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy.orm import Session

from app.artifacts import service as artifact_service
from app.artifacts.models import Artifact
from app.audit import service as audit
from app.auth.core import Principal, require_namespace
from app.composition import repository as composition_repository
from app.db import lock_scope
from app.errors import InvalidInput, NotFound
from app.pagination import Page, PageRequest
from app.sources import repository
from app.sources.models import SourceState
from app.sources.schemas import (
    ArchivePut,
    ChecksRecorded,
    ChecksReport,
    DependentRun,
    SourceRead,
)
from app.training import service as training_service
from app.training.schemas import ModelKey

RUNS_PER_SOURCE = 100
CAUSES_NAMED = 3


def source_reads(
    session: Session,
    rows: Sequence[tuple[Artifact, SourceState | None]],
    *,
    with_runs: bool = True,
) -> list[SourceRead]:
    """``with_runs=False`` leaves ``training_runs`` empty and skips the walk downstream."""
    ids = [a.id for a, _ in rows]
    runs = repository.dependent_runs(session, ids, RUNS_PER_SOURCE) if with_runs else {}
    return [
        SourceRead(
            id=artifact.id,
            namespace=artifact.namespace,
            name=artifact.name,
            version=artifact.version,
            uri=artifact.uri or "",
            checksum=artifact.checksum,
            archive_uri=state.archive_uri if state else None,
            size=artifact.size,
            human=artifact.origin_human or 0.0,
            status=state.status if state else "unchecked",
            reason=(state.reason if state else None) or (None if state else "not checked yet"),
            answered_by=state.answered_by if state else None,
            observed_checksum=state.observed_checksum if state else None,
            checked_at=state.checked_at if state else None,
            verified_at=state.verified_at if state else None,
            training_runs=[
                DependentRun(
                    id=run.id,
                    model=ModelKey(
                        id=model.id,
                        namespace=model.namespace,
                        name=model.name,
                        version=model.version,
                    ),
                    verdict=run.verdict,
                )
                for run, model in runs.get(artifact.id, [])
            ],
        )
        for artifact, state in rows
    ]


def listing(
    session: Session,
    requested: PageRequest,
    *,
    status: str | None,
    namespace: str | None,
    with_runs: bool,
) -> Page[SourceRead]:
    """Sources, newest first, with what was last found at each."""
    return requested.newest_first(
        "sources",
        lambda after, n: repository.page(
            session, status=status, namespace=namespace, after=after, limit=n
        ),
        lambda rows: source_reads(session, rows, with_runs=with_runs),
        lambda r: (r[0].created_at, r[0].id),
    )


def found_sources(
    session: Session, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[Artifact, SourceState | None]]:
    """The sources named, or a 404 naming each id that is not a source."""
    found = repository.sources(session, ids)
    missing = [str(i) for i in ids if i not in found]
    if missing:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise NotFound(
            f"Not sources (a dataset version with human data and a uri): "
            f"{', '.join(missing[:5])}{more}.",
            missing=[{"id": i} for i in missing],
        )
    return found


def get(session: Session, source_id: uuid.UUID) -> SourceRead:
    found = found_sources(session, [source_id])
    return source_reads(session, [found[source_id]])[0]


def name_archive(
    session: Session, source: Artifact, archive_uri: str | None, *, actor: Principal
) -> SourceState:
    """Record where a source's preserved copy is (None forgets it)."""
    require_namespace(actor, source.namespace)
    state = repository.states_for_update(session, [source.id])[source.id]
    if state.archive_uri != archive_uri:
        state.archive_uri = archive_uri
        state.updated_at = func.clock_timestamp()
        session.flush()
        audit.record(
            session,
            actor.name,
            "source.archive",
            {"source_id": str(source.id), "archive_uri": archive_uri},
        )
    return state


def set_archive(
    session: Session, source_id: uuid.UUID, body: ArchivePut, *, actor: Principal
) -> SourceRead:
    source = found_sources(session, [source_id])[source_id][0]
    state = name_archive(session, source, body.archive_uri, actor=actor)
    return source_reads(session, [(source, state)])[0]


@dataclass(frozen=True)
class StatusChange:
    source: Artifact
    before: str
    after: str
    reason: str | None

    def sentence(self) -> str:
        said = f"source {artifact_service.label(self.source)} {self.before} → {self.after}"
        return f"{said}: {self.reason}" if self.reason else said


def record_checks(session: Session, body: ChecksReport, *, actor: Principal) -> ChecksRecorded:
    """Record what each check found; re-judge the training runs downstream of every source
    whose status changed."""
    ids = [check.id for check in body.checks]
    duplicates = sorted({str(i) for i, n in Counter(ids).items() if n > 1})
    if duplicates:
        raise InvalidInput.at(
            "body.checks",
            "duplicate id",
            f"Each source may be reported once per request; repeated: {', '.join(duplicates[:5])}.",
        )
    found = found_sources(session, ids)
    for artifact, _ in found.values():
        require_namespace(actor, artifact.namespace)
    # reports one at a time: two reaching one training run must not each judge it without the
    # other's news (lineage writers are kept apart by the models' row locks, below)
    lock_scope(session, "source-checks")
    states = repository.states_for_update(session, ids)
    now = session.scalar(func.clock_timestamp())
    changes: list[StatusChange] = []
    for check in body.checks:
        state = states[check.id]
        before = state.status
        state.status = check.status
        state.reason = check.reason
        verified = check.status == "verified"
        state.answered_by = check.answered_by or ("original" if verified else None)
        state.observed_checksum = check.observed_checksum
        state.checked_at = now
        state.updated_at = now
        if verified:
            state.verified_at = now
        if before != check.status:
            changes.append(StatusChange(found[check.id][0], before, check.status, check.reason))
    session.flush()
    rejudged = rejudge_downstream(session, changes)
    audit.record(session, actor.name, "sources.checks", artifact_service.request_content(body))
    rows = [(found[i][0], states[i]) for i in ids]
    return ChecksRecorded(
        items=source_reads(session, rows), changed=len(changes), rejudged_models=rejudged
    )


def rejudge_downstream(session: Session, changes: Sequence[StatusChange]) -> int:
    """Re-judge each training run downstream of a changed source, with the changes upstream of
    it as the cause in its history. Runs with the same upstream changes are re-judged together.
    """
    if not changes:
        return 0
    by_source = {change.source.id: change for change in changes}
    reached = repository.downstream_models(session, list(by_source))
    upstream: dict[uuid.UUID, list[uuid.UUID]] = {}
    for source, models in reached.items():
        for model in models:
            upstream.setdefault(model, []).append(source)
    groups: dict[tuple[uuid.UUID, ...], list[uuid.UUID]] = {}
    for model, sources in upstream.items():
        groups.setdefault(tuple(sorted(sources)), []).append(model)
    # a lineage writer changing one of these models holds it: wait, and judge what it wrote
    composition_repository.lock_for_reading(session, list(upstream))
    for changed, models in groups.items():
        named = [by_source[s].sentence() for s in changed[:CAUSES_NAMED]]
        more = len(changed) - CAUSES_NAMED
        cause = "; ".join(named) + (f"; and {more} more sources" if more > 0 else "")
        # No edge and no composition changed, so each run's self-consuming ancestry and its
        # previous generation's figures stand, and the order of the runs does not matter.
        training_service.refresh(session, models, cause=cause, structural=False)
    return len(upstream)
