"""The region a composition read explains: what it holds, and that reading it walks the graph by
index lookups only, however large the edges table."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.composition.reads import _MASS_REGION, load_mass_region


def add_nodes(session: Session, *names: str) -> dict[str, uuid.UUID]:
    ids = {name: uuid.uuid4() for name in names}
    session.execute(
        text(
            """
            INSERT INTO artifacts (id, kind, namespace, name, version, composition,
                                   composition_packed, human_fraction, synthetic_fraction,
                                   unknown_fraction)
            SELECT i, CASE WHEN n LIKE 'model%' THEN 'model' ELSE 'dataset' END, 'test', n, '1',
                   '{}'::jsonb, decode('3ff0000000000000', 'hex'), 0, 0, 1
            FROM unnest(CAST(:ids AS uuid[]), CAST(:names AS text[])) AS g(i, n)
            """
        ),
        {"ids": list(ids.values()), "names": list(ids)},
    )
    return ids


def add_edges(session: Session, ids: dict[str, uuid.UUID], *edges: tuple[str, str, str]) -> None:
    session.execute(
        text(
            """
            INSERT INTO edges (id, child_id, parent_id, relation)
            SELECT gen_random_uuid(), c, p, r
            FROM unnest(CAST(:c AS uuid[]), CAST(:p AS uuid[]), CAST(:r AS text[])) AS g(c, p, r)
            """
        ),
        {
            "c": [ids[child] for child, _, _ in edges],
            "p": [ids[parent] for _, parent, _ in edges],
            "r": [relation for _, _, relation in edges],
        },
    )


def test_the_region_stops_at_generations_and_holds_each_edge_once(session: Session) -> None:
    ids = add_nodes(session, "mix", "left", "right", "root", "generated", "model", "human", "p")
    add_edges(
        session,
        ids,
        ("mix", "left", "derived_from"),
        ("mix", "right", "derived_from"),
        ("left", "root", "derived_from"),  # a diamond: root is reached twice
        ("right", "root", "derived_from"),
        ("root", "generated", "derived_from"),
        ("generated", "model", "generated_by"),  # the walk stops at a generation
        ("generated", "p", "used"),
        ("model", "human", "trained_on"),
    )
    region = load_mass_region(session, ids["mix"])

    assert region is not None
    assert region.target.id == ids["mix"]
    assert set(region.nodes) == {ids[n] for n in ("mix", "left", "right", "root", "generated")}
    incoming = {
        child: sorted((e.parent_id, e.relation) for e in edges)
        for child, edges in region.incoming.items()
    }
    assert incoming == {
        ids["mix"]: sorted([(ids["left"], "derived_from"), (ids["right"], "derived_from")]),
        ids["left"]: [(ids["root"], "derived_from")],
        ids["right"]: [(ids["root"], "derived_from")],
        ids["root"]: [(ids["generated"], "derived_from")],
        ids["generated"]: sorted([(ids["model"], "generated_by"), (ids["p"], "used")]),
    }
    assert set(region.labels) == {ids[n] for n in ids if n != "human"}
    assert region.labels[ids["model"]].kind == "model"


def test_no_node_is_a_region_of_none(session: Session) -> None:
    assert load_mass_region(session, uuid.uuid4()) is None


def plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from plan_nodes(child)


def test_reading_a_region_never_scans_the_edges_table(session: Session) -> None:
    """A walk over node ids joined to the edges afterwards was planned as a hash join over a
    scan of every edge: a read that grows with the whole graph, not with the region."""
    bulk = [f"bulk{i}" for i in range(3000)]
    ids = add_nodes(session, "a", "b", "c", *bulk)
    add_edges(
        session,
        ids,
        ("a", "b", "derived_from"),
        ("b", "c", "derived_from"),
        *[(bulk[i], bulk[i - step], "derived_from") for i in range(3, 3000) for step in (1, 2, 3)],
    )
    # statistics as a graph of this size has them (ANALYZE counts this transaction's rows); left
    # from whatever the tables held when autovacuum last looked, the planner may see an edges
    # table of a few rows, where a scan of it is the cheapest plan
    session.execute(text("ANALYZE artifacts, edges"))
    plan = session.execute(
        text("EXPLAIN (FORMAT JSON) " + _MASS_REGION.text), {"target": ids["a"]}
    ).scalar_one()[0]["Plan"]

    scans = [n for n in plan_nodes(plan) if n.get("Relation Name") == "edges"]
    assert scans, "the plan reads edges"
    assert all(n["Node Type"] != "Seq Scan" for n in scans), scans
