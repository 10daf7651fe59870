"""The correctness bar of design section 2, as a check any test can run against the database.

Every stored composition (the ``artifacts`` table's ``composition``, ``total_amount`` and
``weights_assumed``, with ``composition_packed`` the JSON's packed doubles) and every training
run's stored composition must equal a from-scratch recomputation of the whole graph by
``tests.composition.reference``, to 1e-9. The check reads the tables directly, so it trusts
nothing the propagation engine keeps in memory, and reports every difference, named by
artifact, rather than the first.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from app.artifacts import repository as artifact_repository
from app.composition.core import Composition
from app.composition.origin import Origin
from app.policies import repository as policy_repository
from app.policies import service as policy_service
from app.training import repository as training_repository
from app.training import service as training_service
from app.training.models import TrainingRun
from tests.composition.reference import RefEdge, RefNode, recompute_all

TOLERANCE = 1e-9

Db = Session | Connection
Expected = Mapping[str, tuple[dict[int, float], float, float | None, bool]]


class GraphMismatch(AssertionError):
    """Stored compositions that a from-scratch recomputation does not reproduce."""


@dataclass(frozen=True)
class Stored:
    composition: Composition
    total_amount: float | None
    weights_assumed: bool
    fractions: tuple[float, float, float]
    stale: bool
    # the packed vector is the JSON's, as the database's own pack_composition makes it
    packed_matches: bool = True


@dataclass(frozen=True)
class Run:
    id: str
    model_id: str
    composition: Composition
    total_amount: float | None
    weights_assumed: bool
    verdict: str | None


@dataclass
class Graph:
    nodes: list[RefNode]
    edges: list[RefEdge]
    labels: dict[str, str]
    stored: dict[str, Stored]
    runs: list[Run]

    def label(self, node_id: str) -> str:
        return self.labels.get(node_id, node_id)


# Ancestors are loaded with the nodes asked for: a composition depends on nothing else.
_SCOPE = """
    WITH RECURSIVE scope(id) AS (
        SELECT id FROM artifacts WHERE CAST(:namespaces AS text[]) IS NULL
            OR namespace = ANY(CAST(:namespaces AS text[]))
        UNION
        SELECT e.parent_id FROM edges e JOIN scope s ON e.child_id = s.id
    )
"""


def load_graph(db: Db, namespaces: Sequence[str] | None = None) -> Graph:
    """Every node and edge (or those in ``namespaces`` and their ancestors) and what is stored."""
    params: dict[str, Any] = {"namespaces": None if namespaces is None else list(namespaces)}
    rows = db.execute(
        text(
            _SCOPE
            + """
            SELECT a.id, a.kind, a.namespace, a.name, a.version, a.size, a.origin_human,
                   a.origin_synthetic, a.origin_unknown, a.origin_synthetic_depth, a.composition,
                   a.total_amount, a.weights_assumed, a.human_fraction, a.synthetic_fraction,
                   a.unknown_fraction, a.composition_stale,
                   a.composition_packed IS NOT DISTINCT FROM pack_composition(a.composition)
                       AS packed_matches
            FROM artifacts a JOIN scope USING (id)
            """
        ),
        params,
    ).all()
    nodes: list[RefNode] = []
    labels: dict[str, str] = {}
    stored: dict[str, Stored] = {}
    for row in rows:
        node_id = str(row.id)
        origin = (
            None
            if row.origin_human is None
            else Origin(
                human=row.origin_human,
                synthetic=row.origin_synthetic,
                unknown=row.origin_unknown,
                synthetic_depth=row.origin_synthetic_depth or 1,
            )
        )
        nodes.append(RefNode(node_id, row.kind, row.size, origin))
        labels[node_id] = f"{row.kind} {row.namespace}/{row.name}@{row.version}"
        stored[node_id] = Stored(
            Composition.from_json(row.composition),
            row.total_amount,
            row.weights_assumed,
            (row.human_fraction, row.synthetic_fraction, row.unknown_fraction),
            row.composition_stale,
            row.packed_matches,
        )
    edge_rows = db.execute(
        text(
            _SCOPE
            + """
            SELECT e.child_id, e.parent_id, e.relation, e.amount
            FROM edges e JOIN scope s ON s.id = e.child_id
            ORDER BY e.created_at, e.id
            """
        ),
        params,
    ).all()
    edges = [RefEdge(str(r.child_id), str(r.parent_id), r.relation, r.amount) for r in edge_rows]
    run_rows = db.execute(
        text(
            _SCOPE
            + """
            SELECT r.id, r.model_id, r.composition, r.total_amount, r.weights_assumed, r.verdict
            FROM training_runs r JOIN scope s ON s.id = r.model_id
            -- a run no longer judged (its model was retracted) claims nothing
            WHERE r.verdict IS NOT NULL
            """
        ),
        params,
    ).all()
    runs = [
        Run(
            str(r.id),
            str(r.model_id),
            Composition.from_json(r.composition),
            r.total_amount,
            r.weights_assumed,
            r.verdict,
        )
        for r in run_rows
    ]
    return Graph(nodes, edges, labels, stored, runs)


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=TOLERANCE, abs_tol=TOLERANCE)


def _vector_diff(
    composition: Composition, buckets: Mapping[int, float], unknown: float
) -> list[str]:
    stored = dict(composition.buckets)
    wrong = [
        f"depth {d}: stored {stored.get(d, 0.0)!r}, expected {buckets.get(d, 0.0)!r}"
        for d in sorted(set(stored) | set(buckets))
        if abs(stored.get(d, 0.0) - buckets.get(d, 0.0)) > TOLERANCE
    ]
    if abs(composition.unknown - unknown) > TOLERANCE:
        wrong.append(f"unknown: stored {composition.unknown!r}, expected {unknown!r}")
    return wrong


def _node_diff(
    stored: Stored, expected: tuple[dict[int, float], float, float | None, bool]
) -> list[str]:
    buckets, unknown, total, assumed = expected
    wrong = _vector_diff(stored.composition, buckets, unknown)
    if not _close(stored.total_amount, total):
        wrong.append(f"total_amount: stored {stored.total_amount!r}, expected {total!r}")
    if stored.weights_assumed != assumed:
        wrong.append(f"weights_assumed: stored {stored.weights_assumed}, expected {assumed}")
    c = stored.composition
    columns = (c.human_fraction, c.synthetic_fraction, c.unknown_fraction)
    if any(abs(a - b) > TOLERANCE for a, b in zip(stored.fractions, columns, strict=True)):
        wrong.append(f"fraction columns {stored.fractions} disagree with the JSON {columns}")
    if stored.stale:
        wrong.append("marked stale")
    if not stored.packed_matches:
        wrong.append("composition_packed is not pack_composition(composition)")
    return wrong


def training_set_graph(graph: Graph) -> tuple[list[RefNode], list[RefEdge]]:
    """The graph plus, for each training run, a node mixing just its model's trained_on edges.

    A training set is the model's ``trained_on`` edges alone: a base model's weights are part
    of the model's composition but not of the set it was trained on.
    """
    nodes = list(graph.nodes)
    edges = list(graph.edges)
    for run in graph.runs:
        node = f"run:{run.id}"
        nodes.append(RefNode(node, "model", None, None))
        edges += [
            RefEdge(node, e.parent, e.relation, e.amount)
            for e in graph.edges
            if e.child == run.model_id and e.relation == "trained_on"
        ]
    return nodes, edges


def mismatches(graph: Graph, expected: Expected | None = None) -> list[str]:
    """Every node and training run whose stored composition differs from ``expected``
    (default: a from-scratch recomputation of ``graph``), one line per node."""
    nodes, edges = training_set_graph(graph)
    computed = recompute_all(nodes, edges)
    wanted = computed if expected is None else {**computed, **expected}
    lines: list[str] = []
    for node in graph.nodes:
        if node.id not in wanted:
            lines.append(f"{graph.label(node.id)}: no expected composition")
            continue
        wrong = _node_diff(graph.stored[node.id], wanted[node.id])
        if wrong:
            lines.append(f"{graph.label(node.id)}: " + "; ".join(wrong))
    with_runs = {run.model_id for run in graph.runs}
    for node in graph.nodes:
        trained = any(e.child == node.id and e.relation == "trained_on" for e in graph.edges)
        if trained and node.id not in with_runs:
            lines.append(f"{graph.label(node.id)}: has a training set but no training run")
    for run in graph.runs:
        stored = Stored(
            run.composition,
            run.total_amount,
            run.weights_assumed,
            (
                run.composition.human_fraction,
                run.composition.synthetic_fraction,
                run.composition.unknown_fraction,
            ),
            False,
        )
        wrong = _node_diff(stored, computed[f"run:{run.id}"])
        if wrong:
            lines.append(f"training run of {graph.label(run.model_id)}: " + "; ".join(wrong))
    return lines


def check_graph(db: Db, namespaces: Sequence[str] | None = None) -> Graph:
    """Load the graph and raise :class:`GraphMismatch`, listing every difference, unless every
    stored composition equals the from-scratch one. Returns the graph it checked."""
    graph = load_graph(db, namespaces)
    lines = mismatches(graph)
    if lines:
        raise GraphMismatch(
            f"{len(lines)} differences from a from-scratch recomputation among"
            f" {len(graph.nodes)} nodes and {len(graph.runs)} training runs:\n  "
            + "\n  ".join(lines)
        )
    return graph


def verdict_mismatches(session: Session, namespaces: Sequence[str] | None = None) -> list[str]:
    """Training runs whose stored verdict or findings are not what judging their training set
    now, under the policy that judged them, gives: a verdict left behind by a later write."""
    graph = load_graph(session, namespaces)
    ids = [uuid.UUID(run.id) for run in graph.runs]
    stored_runs = {
        str(r.id): r for r in session.scalars(select(TrainingRun).where(TrainingRun.id.in_(ids)))
    }
    lines: list[str] = []
    for run_id, run in stored_runs.items():
        sets = training_repository.training_sets(session, [run.model_id])
        edges = sets.get(run.model_id, [])
        artifacts = artifact_repository.many(session, [run.model_id, *(d for d, _ in edges)])
        model = artifacts[run.model_id]
        policy = policy_repository.version(session, run.policy_name or "", run.policy_version or 0)
        if policy is None:
            lines.append(f"training run {run_id}: judged by an unrecorded policy")
            continue
        judgement = policy_service.judge(
            session,
            [policy_service.Member(artifacts[d], amount) for d, amount in edges],
            policy,
            model=(model.namespace, model.name),
            exclude=model.id,
            lookups=training_service.shared_reads(session),
        )
        now = [(f.rule, f.status) for f in judgement.findings]
        then = [(f["rule"], f["status"]) for f in run.findings]
        if run.verdict != judgement.verdict or now != then:
            lines.append(
                f"training run of {graph.label(str(run.model_id))}: stored {run.verdict} {then},"
                f" judged now {judgement.verdict} {now}"
            )
    return lines
