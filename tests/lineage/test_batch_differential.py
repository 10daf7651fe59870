"""A batch of OpenLineage events records what the same events posted one after the other do.

``POST /lineage/batch`` records the events that stand alone together, set-based, and the
others one by one; either way the stored graph (versions and their compositions, edges, runs,
retractions, aliases, the audit log's length) and every item's result must be those of posting
the events one at a time, in order. The events: windows of the shared corpus of real events
(where it is present) and generated ones that share datasets, runs and redeliveries at random.
"""

from __future__ import annotations

import copy
import random
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from tests.lineage import corpus

PRODUCER = "https://example.com/differential"
FACETS = "https://openlineage.io/spec/facets/"
NAMESPACE = "s3://differential"


def facet(name: str, **fields: Any) -> dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": FACETS + name + ".json", **fields}


def dataset(rng: random.Random, name: str, *, output: bool, origin: bool) -> dict[str, Any]:
    facets: dict[str, Any] = {}
    version = rng.choice(["1", "2", None])
    if version is not None:
        facets["version"] = facet("DatasetVersionDatasetFacet", datasetVersion=version)
    if origin:
        human = rng.choice([0.0, 0.5, 1.0])
        facets["headwater_origin"] = facet("headwater_origin", human=human, synthetic=1 - human)
    named: dict[str, Any] = {"namespace": NAMESPACE, "name": name, "facets": facets}
    if rng.random() < 0.6:
        rows = rng.randint(1, 1000)
        if output:
            named["outputFacets"] = {"outputStatistics": facet("s", rowCount=rows)}
        else:
            named["inputFacets"] = {"inputStatistics": facet("s", rowCount=rows)}
    return named


def fresh(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128)))


def backfill_run(rng: random.Random, n: int) -> list[Any]:
    """A START and a COMPLETE of a new run reading recorded sources, as a backfill sends them."""
    run_id = fresh(rng)
    sources = rng.sample(range(4), k=rng.randint(1, 2))
    events = []
    for state in ("START", "COMPLETE"):
        rows = state == "COMPLETE"
        inputs = []
        for i in sources:
            source: dict[str, Any] = {
                "namespace": NAMESPACE,
                "name": f"source-{i}",
                "facets": {"version": facet("DatasetVersionDatasetFacet", datasetVersion="1")},
            }
            if rows:
                source["inputFacets"] = {"inputStatistics": facet("s", rowCount=10 * (i + 1))}
            inputs.append(source)
        output: dict[str, Any] = {"namespace": NAMESPACE, "name": f"backfilled-{n}", "facets": {}}
        if rows:
            output["outputFacets"] = {"outputStatistics": facet("s", rowCount=100)}
        events.append(
            {
                "eventType": state,
                "eventTime": f"2026-11-26T07:{n % 60:02d}:00Z",
                "run": {"runId": run_id},
                "job": {"namespace": "jobs", "name": "backfill"},
                "inputs": inputs,
                "outputs": [output],
                "producer": PRODUCER,
            }
        )
    return events


def generated(rng: random.Random, count: int) -> list[Any]:
    """Runs over a few shared datasets and many of their own: START and COMPLETE of one run,
    FAILs, unversioned inputs, corrections of an origin, redeliveries and invalid events."""
    shared = [f"shared-{i}" for i in range(5)]
    runs = [fresh(rng) for _ in range(count // 3 + 1)]
    events: list[Any] = []
    for n in range(count):
        roll = rng.random()
        if events and roll < 0.08:
            events.append(copy.deepcopy(rng.choice(events)))
            continue
        if roll < 0.12:
            events.append({"eventTime": "not a time", "producer": PRODUCER, "run": {"runId": "?"}})
            continue
        if roll < 0.3:
            events += backfill_run(rng, n)
            continue
        pool = shared if rng.random() < 0.4 else [f"own-{n}-{i}" for i in range(3)]
        names = rng.sample(pool, k=min(len(pool), rng.randint(1, 3)))
        inputs = [dataset(rng, name, output=False, origin=False) for name in names[:-1]]
        output = dataset(rng, names[-1], output=True, origin=rng.random() < 0.5)
        events.append(
            {
                "eventType": rng.choices(["START", "COMPLETE", "FAIL"], [4, 5, 1])[0],
                "eventTime": f"2026-11-26T06:{n % 60:02d}:00Z",
                "run": {"runId": rng.choice(runs) if rng.random() < 0.5 else fresh(rng)},
                "job": {"namespace": "jobs", "name": f"job-{rng.randint(0, 3)}"},
                "inputs": inputs,
                "outputs": [output],
                "producer": PRODUCER,
            }
        )
    return events


def corpus_windows(rng: random.Random, windows: int, size: int) -> list[Any]:
    bodies = [body for _, body in corpus.events()]
    picked: list[Any] = []
    for _ in range(windows):
        start = rng.randrange(0, len(bodies) - size)
        picked += bodies[start : start + size]
    return picked


def mixed(seed: int, with_corpus: bool) -> list[Any]:
    rng = random.Random(seed)
    events = generated(rng, 60)
    if with_corpus:
        # the corpus windows keep their order (a run's events stay in sequence); the generated
        # events are spread among them
        windows = corpus_windows(rng, 3, 15)
        for event in windows:
            events.insert(rng.randint(0, len(events)), event)
    return events


def graph(session: Session) -> dict[str, Any]:
    """What is stored, without the ids, times and hashes each recording draws anew."""

    def rows(sql: str) -> list[tuple[Any, ...]]:
        return sorted((tuple(r) for r in session.execute(text(sql)).all()), key=lambda r: repr(r))

    key = "{0}.kind || ':' || {0}.namespace || '/' || {0}.name || '@' || {0}.version"
    return {
        "versions": rows(
            """SELECT kind, namespace, name, version, size, uri, checksum, facets,
                origin_human, origin_synthetic, origin_unknown, declared_origin,
                round(human_fraction::numeric, 9), round(synthetic_fraction::numeric, 9),
                round(unknown_fraction::numeric, 9), round(total_amount::numeric, 6),
                weights_assumed, composition_stale
            FROM artifacts"""
        ),
        "edges": rows(
            f"""SELECT {key.format("c")}, {key.format("p")}, e.relation, e.amount,
                e.amount_source
            FROM edges e JOIN artifacts c ON c.id = e.child_id
            JOIN artifacts p ON p.id = e.parent_id"""
        ),
        "retracted": rows(
            f"""SELECT {key.format("a")}, r.reason FROM retractions r
            JOIN artifacts a ON a.id = r.artifact_id"""
        ),
        # a run's events in the order they were received (events of no run are unordered:
        # the batch stores those it records together before those it records one by one)
        "runs": rows(
            """SELECT run_id, array_agg(fingerprint ORDER BY
                CASE WHEN run_id IS NULL THEN fingerprint END, received_at, id)
            FROM lineage_events GROUP BY run_id"""
        ),
        "aliases": rows(
            "SELECT kind, namespace, name, canonical_namespace, canonical_name FROM aliases"
        ),
        "audit entries": session.execute(text("SELECT count(*) FROM audit_entries")).scalar(),
    }


def named(session: Session, ids: list[str]) -> list[str]:
    """Versions by natural key, in the order given."""
    if not ids:
        return []
    found: dict[str, str] = dict(
        session.execute(
            text(
                "SELECT id::text, kind || ':' || namespace || '/' || name || '@' || version"
                " FROM artifacts WHERE id = ANY(CAST(:ids AS uuid[]))"
            ),
            {"ids": ids},
        ).all()
    )
    return [found[i] for i in ids]


def result(session: Session, status: str, body: dict[str, Any]) -> dict[str, Any]:
    """One item's result, its version ids replaced by their natural keys."""
    if status == "rejected":
        return {"status": status, "problem": body}
    return {
        "status": status,
        "run_id": body["run_id"],
        "event_id": body["event_id"] is not None,
        "datasets": named(session, body["datasets"]),
        "models": named(session, body["models"]),
        "edges": body["edges"],
    }


def one_by_one(client: TestClient, session: Session, events: list[Any]) -> list[Any]:
    results = []
    for event in events:
        response = client.post("/api/v1/lineage", json=event)
        assert response.status_code < 500, response.text
        if response.status_code in (200, 201):
            results.append(result(session, response.json()["status"], response.json()))
        else:
            problem = response.json()
            problem.pop("instance", None)
            results.append(result(session, "rejected", problem))
    return results


def as_batch(client: TestClient, session: Session, events: list[Any]) -> tuple[int, list[Any]]:
    response = client.post("/api/v1/lineage/batch", json=events)
    assert response.status_code in (200, 207), response.text[:500]
    results = []
    for item in response.json()["items"]:
        body = item["problem"] if item["status"] == "rejected" else item["result"]
        results.append(result(session, item["status"], body))
    return response.status_code, results


@pytest.mark.parametrize(
    ("seed", "with_corpus"), [(1, False), (2, False), (3, False), (4, True), (5, True)]
)
def test_a_batch_records_what_its_events_one_by_one_do(
    client: TestClient, session: Session, connection: Connection, seed: int, with_corpus: bool
) -> None:
    events = mixed(seed, with_corpus)

    before = connection.begin_nested()
    status, batched = as_batch(client, session, events)
    stored_by_batch = graph(session)
    session.rollback()
    before.rollback()
    session.expunge_all()

    singly = one_by_one(client, session, events)
    stored_singly = graph(session)

    assert batched == singly
    assert status == (207 if any(r["status"] == "rejected" for r in singly) else 200)
    for part, stored in stored_singly.items():
        assert stored_by_batch[part] == stored, part
    assert stored_singly["versions"], "the events recorded nothing to compare"


def test_the_differential_covers_both_ways_of_recording(session: Session) -> None:
    """The generated batches hold events that stand alone and events that depend on others."""
    from app.auth.core import NOBODY_IN_PARTICULAR
    from app.lineage import ingest

    events = mixed(1, False)
    together = ingest.ingest_together(session, events, actor=NOBODY_IN_PARTICULAR)
    recorded = [i for i, o in together.outcomes.items() if isinstance(o, ingest.Ingested)]
    assert recorded and together.left
    # runs whose START and COMPLETE are both in the batch are among those recorded together
    chained = [
        i
        for i in recorded
        if sum(e.get("run", {}).get("runId") == events[i]["run"]["runId"] for e in events) > 1
    ]
    assert chained
