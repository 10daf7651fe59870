"""The baseline of benchmark 2: a from-scratch recomputation of the whole graph in memory
(networkx ``DiGraph``, a topological sort, ``app.composition.core.compose`` on every node;
loading from the database not timed), and a check of every stored composition against it (the
design's 1e-9 correctness bar)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from pydantic import Field

from benchmarks import load
from benchmarks.stats import Result


class Baseline(Result):
    nodes: int
    edges: int
    negligible_mass: float
    kept_every_composition: bool
    load_s_untimed: float
    toposort_s: float
    recompute_s: float
    stored_vs_recomputed_max_bucket_diff: float
    stored_vs_recomputed_max_figure_diff: float
    mismatched_nodes: int
    stored_buckets_per_node: float
    stored_buckets_below_1e_12: float = Field(alias="stored_buckets_below_1e-12")


NETWORKX_KEEP_ALL_UP_TO = 300_000


def compose_in_order(
    graph: Any,
    order: Sequence[Any],
    *,
    keep_all: bool,
    visit: Callable[[Any, Any], None] | None = None,
) -> dict[Any, Any]:
    """``compose`` on every node of a networkx graph in topological order; every result when
    ``keep_all``, else each only until its last child has used it (``visit`` sees each)."""
    from app.composition.core import ParentContribution, compose

    computed: dict[Any, Any] = {}
    uses_left = None if keep_all else {node: graph.out_degree(node) for node in order}
    nodes = graph.nodes
    for node in order:
        attrs = nodes[node]
        parents = []
        for parent, _, data in graph.in_edges(node, data=True):
            parent_attrs = nodes[parent]
            result = computed[parent]
            is_dataset = parent_attrs["kind"] == "dataset"
            for relation, amount in data["rels"]:
                parents.append(
                    ParentContribution(
                        relation=relation,
                        composition=result.composition,
                        amount=amount,
                        parent_size=parent_attrs["size"] if is_dataset else None,
                        parent_total_amount=None if is_dataset else result.total_amount,
                    )
                )
            if uses_left is not None:
                uses_left[parent] -= 1
                if not uses_left[parent]:
                    del computed[parent]
        computed[node] = compose(attrs["kind"], attrs["size"], attrs["origin"], parents)
        if visit is not None:
            visit(node, computed[node])
        if uses_left is not None and not uses_left[node]:
            del computed[node]
    return computed


@dataclass
class StoredCheck:
    """Every stored composition against the recomputation (the design's 1e-9 bar)."""

    worst: float = 0.0
    worst_figure: float = 0.0
    mismatched: int = 0
    buckets: int = 0
    tiny: int = 0

    def check(self, rows: Iterable[tuple[Any, ...]], computed: dict[Any, Any]) -> None:
        from app.composition.core import Composition

        for id_, stored_json, total, assumed in rows:
            stored = Composition.from_json(stored_json)
            fresh = computed[id_]
            self.buckets += len(stored.buckets)
            self.tiny += sum(1 for _, mass in stored.buckets if mass < 1e-12)
            a, b = dict(stored.buckets), dict(fresh.composition.buckets)
            diff = max(
                [abs(a.get(d, 0.0) - b.get(d, 0.0)) for d in a.keys() | b.keys()]
                + [abs(stored.unknown - fresh.composition.unknown)]
            )
            figures = max(
                abs(stored.human_fraction - fresh.composition.human_fraction),
                abs(stored.synthetic_fraction - fresh.composition.synthetic_fraction),
                abs(stored.unknown_fraction - fresh.composition.unknown_fraction),
                abs(stored.depth_load - fresh.composition.depth_load)
                / max(1.0, abs(stored.depth_load)),
            )
            self.worst_figure = max(self.worst_figure, figures)
            total_off = (total is None) != (fresh.total_amount is None) or (
                total is not None
                and fresh.total_amount is not None
                and abs(total - fresh.total_amount) > 1e-9 * max(1.0, abs(total))
            )
            if diff > 1e-9 or total_off or assumed != fresh.weights_assumed:
                self.mismatched += 1
            self.worst = max(self.worst, diff)


STORED = "SELECT id, composition, total_amount, weights_assumed FROM artifacts"


def networkx_baseline(url: str, patch_negligible: float | None = None) -> Baseline:
    """Load the graph into networkx (untimed), then time a topological sort and ``compose`` on
    every node; compare every stored composition with the result (the design's 1e-9 bar)."""
    import networkx as nx

    from app.composition import core
    from app.composition.origin import Origin

    graph = nx.DiGraph()
    started = time.perf_counter()
    with psycopg.connect(load.libpq_url(url)) as conn:
        for row in conn.execute(
            "SELECT id, kind, size, origin_human, origin_synthetic, origin_unknown,"
            " origin_synthetic_depth, origin_digital_source_type FROM artifacts"
        ):
            id_, kind, size, human, synthetic, unknown, depth, dst = row
            origin = None if human is None else Origin(human, synthetic, unknown, depth or 1, dst)
            graph.add_node(id_, kind=kind, size=size, origin=origin)
        for child, parent, relation, amount in conn.execute(
            "SELECT child_id, parent_id, relation, amount FROM edges"
        ):
            if graph.has_edge(parent, child):
                graph.edges[parent, child]["rels"].append((relation, amount))
            else:
                graph.add_edge(parent, child, rels=[(relation, amount)])
    load_s = time.perf_counter() - started
    keep_all = graph.number_of_nodes() <= NETWORKX_KEEP_ALL_UP_TO

    saved = core.NEGLIGIBLE_MASS
    if patch_negligible is not None:
        core.NEGLIGIBLE_MASS = patch_negligible
    check = StoredCheck()
    try:
        started = time.perf_counter()
        order = list(nx.topological_sort(graph))
        sort_s = time.perf_counter() - started
        started = time.perf_counter()
        computed = compose_in_order(graph, order, keep_all=keep_all)
        recompute_s = time.perf_counter() - started
        if keep_all:
            with psycopg.connect(load.libpq_url(url)) as conn, conn.cursor(name="stored") as cur:
                cur.itersize = 5000
                cur.execute(STORED)
                check.check(cur, computed)
        else:  # again, untimed, checking the stored compositions 5,000 at a time
            with psycopg.connect(load.libpq_url(url)) as conn:
                pending: dict[Any, Any] = {}

                def flush() -> None:
                    rows = conn.execute(STORED + " WHERE id = ANY(%s)", (list(pending),))
                    check.check(rows, pending)
                    pending.clear()

                def visit(node: Any, result: Any) -> None:
                    pending[node] = result
                    if len(pending) >= 5000:
                        flush()

                compose_in_order(graph, order, keep_all=False, visit=visit)
                flush()
    finally:
        core.NEGLIGIBLE_MASS = saved
    return Baseline(
        nodes=graph.number_of_nodes(),
        edges=graph.number_of_edges(),
        negligible_mass=patch_negligible if patch_negligible is not None else saved,
        kept_every_composition=keep_all,
        load_s_untimed=load_s,
        toposort_s=sort_s,
        recompute_s=recompute_s,
        stored_vs_recomputed_max_bucket_diff=check.worst,
        stored_vs_recomputed_max_figure_diff=check.worst_figure,
        mismatched_nodes=check.mismatched,
        stored_buckets_per_node=check.buckets / max(1, graph.number_of_nodes()),
        stored_buckets_below_1e_12=check.tiny / max(1, check.buckets),
    )
