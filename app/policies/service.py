"""Policies, and judging a training set under one: the verdict, its findings, the remedy."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import replace as dataclass_replace
from typing import Any, NamedTuple, Protocol

from sqlalchemy.orm import Session

from app.artifacts.models import HUMAN_SOURCE_MIN, Artifact
from app.audit import service as audit
from app.composition.core import (
    Composition,
    NodeComposition,
    Relation,
    Weighting,
    mix_packed,
    weighting,
)
from app.db import row_as
from app.errors import NotFound
from app.pagination import Page, PageRequest
from app.policies import preservation as source_preservation
from app.policies import repository, rules
from app.policies.models import Policy
from app.policies.schemas import (
    PolicyPut,
    PolicyRead,
    PreviousGenerationRead,
    RemediationRead,
    RuleNeed,
    Source,
)

MAX_SOURCES = 10


# --- policies ----------------------------------------------------------------------------------


def current(session: Session, name: str) -> Policy:
    policy = repository.latest(session, name)
    if policy is None:
        raise NotFound(f"No policy is named {name!r}.", missing={"policy": name})
    return policy


def put(session: Session, name: str, body: PolicyPut, *, actor: str) -> tuple[Policy, bool]:
    """A new version of the policy, unless it says exactly what the latest version says."""
    rules_json = body.rules.model_dump(mode="json", exclude_none=True)
    latest = repository.latest(session, name)
    if latest is not None and latest.rules == rules_json and latest.description == body.description:
        return latest, False
    policy = Policy(
        name=name,
        version=1 if latest is None else latest.version + 1,
        description=body.description,
        rules=rules_json,
    )
    added = repository.add(session, policy)
    audit.record(
        session,
        actor,
        "policy.put",
        {"name": name, "version": added.version, **body.model_dump(mode="json")},
    )
    return added, True


def version(session: Session, name: str, number: int | None) -> Policy:
    """A policy's given version (None: its latest), or the 404."""
    if number is None:
        return current(session, name)
    found = repository.version(session, name, number)
    if found is None:
        raise NotFound(
            f"Policy {name!r} has no version {number}.",
            missing={"policy": name, "version": number},
        )
    return found


def listing(session: Session, requested: PageRequest) -> Page[PolicyRead]:
    """The latest version of each policy, by name; a page's cursor is the last name on it."""
    return requested.by_name(
        lambda after, n: repository.names(session, after, n),
        lambda rows: [PolicyRead.model_validate(p) for p in rows],
    )


# --- judging -----------------------------------------------------------------------------------


class MemberVersion(Protocol):
    """What judging a training set reads of a member: an :class:`Artifact`, or the lighter
    row the gate loads a large set as."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def namespace(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def size(self) -> float | None: ...
    @property
    def composition_packed(self) -> bytes: ...
    @property
    def composition_stale(self) -> bool: ...
    @property
    def human_fraction(self) -> float: ...
    @property
    def synthetic_fraction(self) -> float: ...


class Member(NamedTuple):
    """A dataset version in a training set, with the amount the set takes of it (None: its size).
    A tuple: a gate builds one for each of its thousands of members."""

    artifact: MemberVersion
    amount: float | None


@dataclass(frozen=True)
class Judgement:
    policy: Policy
    composition: NodeComposition
    findings: list[rules.Finding]
    verdict: rules.Status
    remediation: RemediationRead | None
    previous: PreviousGenerationRead | None


class TrainedOn(NamedTuple):
    """A member as ``weighting`` reads it: a ``trained_on`` edge into the set's model, which
    has no parent model (a tuple, and no composition: a gate weighs thousands)."""

    amount: float | None
    parent_size: float | None
    relation: Relation = "trained_on"
    parent_total_amount: float | None = None


def _weighting(members: Sequence[Member]) -> Weighting:
    """How the training set weighs its members: as ``compose`` weighs a model's training set."""
    return weighting("model", None, [TrainedOn(m.amount, m.artifact.size) for m in members])


def training_set_composition(members: Sequence[Member]) -> NodeComposition:
    """The mixture of a training set's datasets, by amount (default: the dataset's size):
    ``compose`` for a model's training set, reading each member's packed vector rather than
    building a :class:`Composition` of each (a gate mixes thousands)."""
    weights = _weighting(members)
    mixed = mix_packed(weights.parents, [m.artifact.composition_packed for m in members])
    return NodeComposition(
        Composition.all_unknown() if mixed is None else mixed,
        weights.total_amount,
        weights.weights_assumed,
    )


def member_shares(members: Sequence[Member]) -> dict[uuid.UUID, float]:
    """Each member's share of the training set's mass, weighed as the composition weighs it."""
    shares, _ = _weighting(members).shares()
    found: dict[uuid.UUID, float] = {}
    for member, share in zip(members, shares, strict=True):
        if share > 0.0:
            found[member.artifact.id] = found.get(member.artifact.id, 0.0) + share
    return found


def with_preservation(
    set_figures: rules.SetFigures, members: Sequence[Member], lookups: SharedReads
) -> rules.SetFigures:
    """The figures with the share of human data whose original sources were checked, and of
    those still verified, when any source has been checked at all."""
    if not lookups.any_source_checked():
        return set_figures
    found = lookups.preservation(member_shares(members))
    return dataclass_replace(
        set_figures,
        checked_human_fraction=found.checked_human_fraction,
        verified_human_fraction=found.verified_human_fraction,
    )


def figures(result: NodeComposition) -> rules.SetFigures:
    c = result.composition
    return rules.SetFigures(
        human_fraction=c.human_fraction,
        synthetic_fraction=c.synthetic_fraction,
        unknown_fraction=c.unknown_fraction,
        depth_load=c.depth_load,
        depth_histogram=dict(c.buckets),
        total_amount=None if result.weights_assumed else result.total_amount,
    )


class EarlierRun(Protocol):
    """What a judgement reads of a previous generation's training run (``app.training`` records
    the runs, and judges them here: it hands the judge a :data:`RunReader`)."""

    @property
    def composition(self) -> dict[str, Any]: ...

    @property
    def total_amount(self) -> float | None: ...

    @property
    def weights_assumed(self) -> bool: ...


RunReader = Callable[[Session, Sequence[uuid.UUID]], Mapping[uuid.UUID, EarlierRun]]
"""The recorded training runs of these model versions, by model version id."""


class SharedReads:
    """Reads that many judgements share (one gate call, or a batch of re-judged runs): the
    previous generations' training runs and the human-origin dataset versions."""

    def __init__(self, session: Session, runs: RunReader) -> None:
        self.session = session
        self.read_runs = runs
        self.runs: dict[uuid.UUID, EarlierRun | None] = {}
        self.candidates: list[repository.HumanSource] | None = None
        self.candidates_limit = 0
        self.sources_checked: bool | None = None
        self.region: source_preservation.Region | None = None

    def any_source_checked(self) -> bool:
        if self.sources_checked is None:
            self.sources_checked = repository.any_checked(self.session)
        return self.sources_checked

    def prefetch_sources(self, policy: Policy, dataset_ids: Sequence[uuid.UUID]) -> None:
        """Load, for all the given datasets at once, what judging their sources needs."""
        if policy.rules.get("sources_preserved") and self.any_source_checked():
            self.region = source_preservation.load_region(self.session, dataset_ids)

    def preservation(self, shares: dict[uuid.UUID, float]) -> source_preservation.Preservation:
        region = self.region
        if region is None or not region.covers(list(shares)):
            region = source_preservation.load_region(self.session, list(shares))
        return source_preservation.preservation(region, shares)

    def prefetch_runs(self, model_ids: Sequence[uuid.UUID]) -> None:
        wanted = [m for m in model_ids if m not in self.runs]
        found = self.read_runs(self.session, wanted)
        for model_id in wanted:
            self.runs[model_id] = found.get(model_id)

    def run(self, model_id: uuid.UUID) -> EarlierRun | None:
        self.prefetch_runs([model_id])
        return self.runs[model_id]

    def human_sources(
        self, exclude: Sequence[uuid.UUID], limit: int
    ) -> list[repository.HumanSource]:
        """The largest all-human dataset versions, leaving out ``exclude``.

        Read largest first, as many as leaving out those excluded among them still gives
        ``limit`` (or all there are): a training set of a thousand human sources rarely holds
        the very largest, and reading a thousand rows more for each gate costs more than the
        judgement. The first read takes up to ``limit`` rows more when there are that many to
        leave out: a few rows more cost nothing beside a second query, which three gates in
        four of 1,000 random dataset versions needed when the first read took ``limit``."""
        excluded = set(exclude)
        needed = limit + min(len(excluded), limit)
        while True:
            if self.candidates is None or self.candidates_limit < needed:
                self.candidates = list(repository.human_sources(self.session, [], needed))
                self.candidates_limit = needed
            read = self.candidates[:needed]
            found = [a for a in read if a.id not in excluded]
            if len(found) >= limit or len(read) < needed:
                return found[:limit]
            needed = limit + sum(1 for a in read if a.id in excluded)


@dataclass(frozen=True)
class Ancestry:
    """What the lineage's structure says about self-consumption: the previous generation (if
    any) and which training-set members it carried over. It changes only when edges do, so a
    re-judgement after a correction of origins can reuse it."""

    previous: uuid.UUID | None
    carried_over: frozenset[uuid.UUID]


def find_ancestry(
    session: Session,
    members: Sequence[Member],
    model: tuple[str, str] | None,
    exclude: uuid.UUID | None,
) -> Ancestry:
    if model is None or not members:
        return Ancestry(None, frozenset())
    earlier = repository.previous_generation(
        session, [m.artifact.id for m in members], model[0], model[1], exclude
    )
    if earlier is None:
        return Ancestry(None, frozenset())
    carried = repository.carried_over(session, earlier)
    return Ancestry(earlier, frozenset(m.artifact.id for m in members if m.artifact.id in carried))


def previous_generation(
    session: Session,
    members: Sequence[Member],
    ancestry: Ancestry,
    amounts_known: bool,
    lookups: SharedReads,
) -> tuple[rules.PreviousGeneration | None, PreviousGenerationRead | None]:
    """Self-consuming lineage: the nearest earlier version of the same model upstream of the
    training set, its human amount, and what the set adds beyond what that generation had."""
    if ancestry.previous is None:
        return None, None
    earlier = session.get(Artifact, ancestry.previous)
    if earlier is None:
        return None, None
    run = lookups.run(earlier.id)
    human_amount: float | None = None
    human_fraction: float | None = None
    if run is not None:
        run_composition = Composition.from_json(run.composition)
        human_fraction = run_composition.human_fraction
        if run.total_amount is not None and not run.weights_assumed:
            human_amount = human_fraction * run.total_amount
    added_human: float | None = 0.0
    added_synthetic: float | None = 0.0
    for member in members:
        if member.artifact.id in ancestry.carried_over:
            continue
        amount = member.amount if member.amount is not None else member.artifact.size
        if amount is None or not amounts_known:
            added_human = added_synthetic = None
            break
        assert added_human is not None and added_synthetic is not None
        added_human += amount * member.artifact.human_fraction
        added_synthetic += amount * member.artifact.synthetic_fraction
    facts = rules.PreviousGeneration(
        model_version_id=str(earlier.id),
        version=earlier.version,
        human_amount=human_amount,
        added_human_amount=added_human,
        added_synthetic_amount=added_synthetic,
        human_fraction=human_fraction,
    )
    read = PreviousGenerationRead(
        id=earlier.id,
        namespace=earlier.namespace,
        name=earlier.name,
        version=earlier.version,
        human_amount=human_amount,
        added_human_amount=added_human,
        added_synthetic_amount=added_synthetic,
        carried_over=sorted(ancestry.carried_over),
    )
    return facts, read


def remedy(
    session: Session,
    policy_rules: rules.PolicyRules,
    set_figures: rules.SetFigures,
    previous: rules.PreviousGeneration | None,
    members: Sequence[Member],
    lookups: SharedReads,
) -> RemediationRead:
    plan = rules.remediation(policy_rules, set_figures, previous, "pass")
    wanted = plan.additional_human_amount
    # only members that are human sources themselves can be among the candidates to leave out
    human = [m.artifact.id for m in members if m.artifact.human_fraction >= HUMAN_SOURCE_MIN]
    candidates = lookups.human_sources(human, MAX_SOURCES)
    sources: list[Source] = []
    supplied = 0.0
    for candidate in candidates:
        if wanted is not None and supplied >= wanted:
            break
        sources.append(row_as(Source, candidate, size=candidate.size or 0.0))
        supplied += candidate.size or 0.0
    return RemediationRead(
        target=plan.target,
        additional_human_amount=wanted,
        additional_human_ratio=plan.additional_human_ratio,
        rules=[RuleNeed.model_validate(r) for r in plan.rules],
        not_fixable=[RuleNeed.model_validate(r) for r in plan.not_fixable],
        message=plan.message,
        sources=sources,
    )


def judge(
    session: Session,
    members: Sequence[Member],
    policy: Policy,
    *,
    model: tuple[str, str] | None,
    exclude: uuid.UUID | None = None,
    ancestry: Ancestry | None = None,
    lookups: SharedReads,
) -> Judgement:
    """Judge a training set; ``ancestry`` when already known (see :class:`Ancestry`)."""
    composition = training_set_composition(members)
    set_figures = figures(composition)
    policy_rules = rules.PolicyRules.model_validate(policy.rules)
    if policy_rules.sources_preserved is not None:
        set_figures = with_preservation(set_figures, members, lookups)
    if ancestry is None:
        ancestry = find_ancestry(session, members, model, exclude)
    previous, previous_read = previous_generation(
        session, members, ancestry, amounts_known=not composition.weights_assumed, lookups=lookups
    )
    findings = rules.evaluate(policy_rules, set_figures, previous)
    outcome = rules.verdict(findings)
    remediation = (
        None
        if outcome == "pass"
        else remedy(session, policy_rules, set_figures, previous, members, lookups)
    )
    return Judgement(policy, composition, findings, outcome, remediation, previous_read)
