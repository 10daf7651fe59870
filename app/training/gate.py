"""The gate: a proposed training set judged as its training run would be, writing nothing."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import TypeAdapter
from sqlalchemy.orm import Session

from app.composition.schemas import composition_summary
from app.errors import Conflict, NotFound
from app.metrics import VERDICTS
from app.policies import service as policy_service
from app.policies.schemas import FindingRead, GateRequest, GateResponse, PolicyRef, SetMember
from app.training import repository
from app.training import service as training_service

# a gate answers with thousands of members: validated in one call, not one model at a time
MEMBERS_READ = TypeAdapter(list[SetMember])


def resolve_training_set(session: Session, request: GateRequest) -> list[policy_service.Member]:
    """The member each proposed one names, or a 404 naming every one that is not recorded."""
    proposed = request.training_set
    found = repository.proposed_members(
        session, [(p.namespace, p.name, p.version or None) for p in proposed]
    )
    missing = [
        {"index": index, "namespace": p.namespace, "name": p.name, "version": p.version}
        for index, (p, version) in enumerate(zip(proposed, found, strict=True))
        if version is None
    ]
    if missing:
        named = ", ".join(
            f"{m['namespace']}/{m['name']}" + (f"@{m['version']}" if m["version"] else "")
            for m in missing[:5]
        )
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise NotFound(
            f"The training set names dataset versions that are not recorded: {named}{more}."
            " The gate never guesses; record them first.",
            missing=missing,
        )
    versions = [version for version in found if version is not None]
    refuse_retracted(versions)
    return [
        policy_service.Member(version, p.amount)
        for version, p in zip(versions, proposed, strict=True)
    ]


def refuse_retracted(versions: Sequence[repository.ProposedMember]) -> None:
    """A retracted version is lineage declared wrong: judging it would judge nothing real."""
    named = [a for a in versions if a.retracted is not None]
    if not named:
        return
    raise Conflict(
        "The training set names retracted dataset versions: "
        + ", ".join(f"{a.namespace}/{a.name}@{a.version} ({a.retracted})" for a in named[:5])
        + ". Name a version that was not retracted, or none for the newest.",
        retracted=[
            {"id": str(a.id), "namespace": a.namespace, "name": a.name, "version": a.version}
            for a in named
        ],
    )


def gate(session: Session, request: GateRequest) -> GateResponse:
    """Judge a proposed training set under a policy, as its training run would be judged."""
    policy = policy_service.current(session, request.policy)
    members = resolve_training_set(session, request)
    model = (request.model.namespace, request.model.name) if request.model else None
    judgement = policy_service.judge(
        session, members, policy, model=model, lookups=training_service.shared_reads(session)
    )
    VERDICTS.labels(judgement.verdict, "gate").inc()
    composition = judgement.composition
    return GateResponse(
        verdict=judgement.verdict,
        policy=PolicyRef(name=policy.name, version=policy.version),
        composition=composition_summary(
            composition.composition,
            composition.total_amount,
            weights_assumed=composition.weights_assumed,
            stale=any(m.artifact.composition_stale for m in members),
        ),
        findings=[FindingRead.model_validate(f) for f in judgement.findings],
        remediation=judgement.remediation,
        previous_generation=judgement.previous,
        training_set=MEMBERS_READ.validate_python(
            [
                {
                    "id": m.artifact.id,
                    "namespace": m.artifact.namespace,
                    "name": m.artifact.name,
                    "version": m.artifact.version,
                    "amount": m.amount if m.amount is not None else m.artifact.size,
                }
                for m in members
            ]
        ),
    )
