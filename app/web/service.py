"""What each page shows, gathered from the domains' services and the pages' own queries."""

from __future__ import annotations

import io
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from sqlalchemy.orm import Session

from app import gate_input, gate_report, reads
from app.artifacts import reads as artifact_reads
from app.artifacts import repository as artifact_repository
from app.artifacts import service as artifact_service
from app.artifacts.models import Artifact
from app.artifacts.schemas import DatasetRead, ModelRead
from app.composition.schemas import CompositionDetail, CompositionRead
from app.db import row_as
from app.lineage import repository as lineage_repository
from app.pagination import next_cursor
from app.policies.schemas import GateRequest, GateResponse
from app.training import gate as training_gate
from app.training import repository as training_repository
from app.training import service as training_service
from app.training.schemas import TrainingRunRead
from app.web import repository
from app.web.graph import GraphEdge, GraphNode, Layout, layout

SEARCH_PAGE = 25
# the name search cursors carry: a cursor of another list starts the search over
SEARCH_LIST = "search results"
VERSIONS_SHOWN = 20
CONTRIBUTORS_SHOWN = 10
# The first view of a graph: the nearest nodes only; the rest is one click away.
FIRST_VIEW_UPSTREAM = 40
FIRST_VIEW_DOWNSTREAM = 20
EXPAND_LIMIT = 40
MAX_EXPANSIONS = 40
MAX_GENERATIONS = 20


# --- the composition bar -----------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    label: str
    css: str
    fraction: float


def depth_segments(composition: CompositionRead) -> list[Segment]:
    """The composition as bar segments: human (depth 0), each synthetic depth, unknown."""
    segments = []
    for key, value in sorted(composition.depth_histogram.items(), key=lambda kv: int(kv[0])):
        depth = int(key)
        if value <= 0:
            continue
        if depth == 0:
            segments.append(Segment("human (depth 0)", "d0", value))
        else:
            segments.append(Segment(f"synthetic, depth {depth}", f"d{min(depth, 5)}", value))
    if composition.unknown_fraction > 0:
        segments.append(Segment("unknown origin", "unknown", composition.unknown_fraction))
    return segments


def origin_segments(composition: CompositionRead) -> list[Segment]:
    """The three summary fractions as bar segments."""
    parts = [
        Segment("human", "d0", composition.human_fraction),
        Segment("synthetic", "d2", composition.synthetic_fraction),
        Segment("unknown", "unknown", composition.unknown_fraction),
    ]
    return [p for p in parts if p.fraction > 0]


# --- search ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    id: uuid.UUID
    kind: str
    namespace: str
    name: str
    version: str
    created_at: Any
    composition: CompositionRead


@dataclass(frozen=True)
class Hits:
    items: list[Hit]
    next_cursor: str | None


def search(
    session: Session,
    *,
    text: str | None,
    namespace: str | None,
    kinds: Sequence[str],
    match: repository.Match,
    after: tuple[Any, uuid.UUID] | None,
    limit: int = SEARCH_PAGE,
) -> Hits:
    rows = repository.search(
        session,
        kinds=kinds,
        text_=text,
        namespace=namespace,
        match=match,
        after=after,
        limit=limit + 1,
    )
    items = [
        Hit(a.id, a.kind, a.namespace, a.name, a.version, a.created_at, composition(a))
        for a in rows[:limit]
    ]
    return Hits(items, next_cursor(SEARCH_LIST, rows, limit, lambda a: (a.created_at, a.id)))


def composition(artifact: Artifact) -> CompositionRead:
    return artifact_reads.composition_read(artifact)


# --- a dataset or model version ----------------------------------------------------------------


@dataclass(frozen=True)
class ArtifactPage:
    artifact: DatasetRead | ModelRead
    detail: CompositionDetail
    versions: list[Hit]
    more_versions: bool
    training_run: TrainingRunRead | None


def artifact_page(session: Session, artifact: Artifact) -> ArtifactPage:
    kind = artifact.kind
    run = None
    read: DatasetRead | ModelRead
    if kind == "model":
        found = training_repository.by_models(session, [artifact.id]).get(artifact.id)
        read = artifact_reads.model_read(artifact, found.id if found else None)
        run = training_service.run_read(session, found, artifact) if found else None
    else:
        read = artifact_reads.dataset_read(artifact)
    siblings = artifact_repository.page(
        session,
        kind,
        namespace=artifact.namespace,
        name=artifact.name,
        version=None,
        after=None,
        limit=VERSIONS_SHOWN + 1,
    )
    return ArtifactPage(
        artifact=read,
        detail=reads.composition_detail(session, artifact.id, artifact.kind, CONTRIBUTORS_SHOWN),
        versions=[
            Hit(a.id, a.kind, a.namespace, a.name, a.version, a.created_at, composition(a))
            for a in siblings[:VERSIONS_SHOWN]
        ],
        more_versions=len(siblings) > VERSIONS_SHOWN,
        training_run=run,
    )


# --- the lineage graph -------------------------------------------------------------------------


@dataclass(frozen=True)
class GraphRequest:
    upstream: int = 3
    downstream: int = 2
    parents_of: tuple[uuid.UUID, ...] = ()
    children_of: tuple[uuid.UUID, ...] = ()


@dataclass(frozen=True)
class GraphView:
    layout: Layout
    request: GraphRequest
    ancestors: int
    descendants: int
    shown_ancestors: int
    shown_descendants: int
    shown_others: int
    hidden_edges: int
    labels: dict[uuid.UUID, str]

    @property
    def hidden_ancestors(self) -> int:
        return self.ancestors - self.shown_ancestors

    @property
    def hidden_descendants(self) -> int:
        return self.descendants - self.shown_descendants


def graph(session: Session, root: Artifact, request: GraphRequest) -> GraphView:
    """The nearest ancestors and descendants, plus the neighbours of the nodes a person expanded,
    with how many of each node's parents and children are not on the page."""
    up, _, _ = lineage_repository.walk(
        session,
        root.id,
        upstream=True,
        depth=request.upstream,
        max_nodes=FIRST_VIEW_UPSTREAM + 1,  # and the root
    )
    down, _, _ = lineage_repository.walk(
        session,
        root.id,
        upstream=False,
        depth=request.downstream,
        max_nodes=FIRST_VIEW_DOWNSTREAM + 1,
    )
    distance: dict[uuid.UUID, int] = {}
    for node, hops in up:
        distance[node] = -hops
    for node, hops in down:
        distance.setdefault(node, hops)
    ancestors = {node for node, _ in up} - {root.id}
    descendants = {node for node, _ in down} - {root.id}
    for expanded, upstream in [
        *((n, True) for n in request.parents_of[:MAX_EXPANSIONS]),
        *((n, False) for n in request.children_of[:MAX_EXPANSIONS]),
    ]:
        if expanded not in distance:
            continue  # only nodes on the page expand; a stale link changes nothing
        # a parent of an ancestor is an ancestor, a child of a descendant a descendant; the
        # other neighbours are related by expanding only
        lineal = ancestors if upstream else descendants
        for node in repository.neighbours(session, expanded, upstream=upstream, limit=EXPAND_LIMIT):
            distance.setdefault(node, distance[expanded] + (-1 if upstream else 1))
            if expanded == root.id or expanded in lineal:
                lineal.add(node)
    ids = list(distance)
    found = artifact_repository.many(session, ids)
    edges = repository.edges_among(session, ids)
    parent_count, child_count = repository.neighbour_counts(session, ids)
    shown_parents: dict[uuid.UUID, set[uuid.UUID]] = {n: set() for n in ids}
    shown_children: dict[uuid.UUID, set[uuid.UUID]] = {n: set() for n in ids}
    for e in edges:
        shown_parents[e.child_id].add(e.parent_id)
        shown_children[e.parent_id].add(e.child_id)
    nodes = [
        row_as(
            GraphNode,
            a,
            max_depth=composition(a).max_depth,
            hidden_parents=parent_count.get(a.id, 0) - len(shown_parents[a.id]),
            hidden_children=child_count.get(a.id, 0) - len(shown_children[a.id]),
        )
        for a in (found[n] for n in ids)
    ]
    seed = {
        n: i
        for i, n in enumerate(
            sorted(ids, key=lambda n: (abs(distance[n]), found[n].namespace, found[n].name))
        )
    }
    placed = layout(
        root.id,
        nodes,
        [GraphEdge(e.child_id, e.parent_id, e.relation, e.amount) for e in edges],
        first_order=seed,
    )
    return GraphView(
        layout=placed,
        request=request,
        ancestors=repository.reach_size(session, root.id, upstream=True),
        descendants=repository.reach_size(session, root.id, upstream=False),
        shown_ancestors=len(ancestors),
        shown_descendants=len(descendants),
        shown_others=len(ids) - 1 - len(ancestors) - len(descendants),
        hidden_edges=sum(n.hidden_parents + n.hidden_children for n in nodes),
        labels={a.id: artifact_service.label(a) for a in found.values()},
    )


# --- the gate ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pick:
    artifact: Artifact
    amount: float | None


def picks(session: Session, wanted: Sequence[tuple[uuid.UUID, float | None]]) -> list[Pick]:
    """The dataset versions chosen for the gate, in order; ids no longer recorded drop out."""
    found = artifact_repository.many(session, [i for i, _ in wanted])
    chosen: dict[uuid.UUID, Pick] = {}
    for i, amount in wanted:
        if i in found and found[i].kind == "dataset" and i not in chosen:
            chosen[i] = Pick(found[i], amount)
    return list(chosen.values())


def gate_request(chosen: Sequence[Pick], model: tuple[str, str] | None, policy: str) -> GateRequest:
    return GateRequest.model_validate(
        {
            "training_set": [
                {
                    "namespace": p.artifact.namespace,
                    "name": p.artifact.name,
                    "version": p.artifact.version,
                    "amount": p.amount,
                }
                for p in chosen
            ],
            "model": {"namespace": model[0], "name": model[1]} if model else None,
            "policy": policy,
        }
    )


def gate(session: Session, request: GateRequest) -> GateResponse:
    return training_gate.gate(session, request)


def cli_report(answer: GateResponse, *, strict: bool) -> str:
    """The verdict exactly as ``headwater gate`` prints it."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=110, color_system=None, force_terminal=False)
    gate_report.render_report(answer, console, strict=strict)
    return buffer.getvalue()


def cli_command(request: GateRequest, *, strict: bool) -> str:
    """The ``headwater gate`` command that asks the same question from a shell."""
    parts = ["headwater gate"]
    for item in request.training_set:
        spec = gate_input.DatasetSpec(item.namespace, item.name, item.version, item.amount)
        parts.append(f"--dataset {_quoted(gate_input.format_dataset(spec))}")
    if request.model is not None:
        model = f"{request.model.namespace}::{request.model.name}"
        parts.append(f"--model {_quoted(model)}")
    if request.policy != "default":
        parts.append(f"--policy {_quoted(request.policy)}")
    if strict:
        parts.append("--strict")
    return " \\\n    ".join(parts)


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def exit_code(answer: GateResponse, *, strict: bool) -> int:
    return gate_report.exit_code(answer.verdict, strict=strict)
