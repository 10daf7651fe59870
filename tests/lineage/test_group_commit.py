"""Single OpenLineage events posted at the same time are committed in groups, and each gets the
answer, and leaves the graph, that posting the events one after the other gives.

Over real HTTP against ``headwater serve``: concurrent clients, each posting its own runs in
order (START then COMPLETE, redeliveries, an invalid event, an event closing a cycle, a failed
run) and all of them one event in common; and groups made certain by holding the advisory lock
of a first event's run, so that the events posted meanwhile wait and then go together: events of
two tokens with different namespaces, an event that fails in the database, a shutdown.
"""

from __future__ import annotations

import copy
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.db import scope_text
from tests.auth.test_live import create_token
from tests.conftest import WORKERS, LiveServer, serving, truncate
from tests.lineage import test_batch_differential as differential
from tests.test_metrics import scrape, value

facet = differential.facet
SOURCES = [f"source-{i}" for i in range(3)]
CLIENTS = 8


def named(
    namespace: str,
    name: str,
    *,
    version: str | None = None,
    rows: int | None = None,
    output: bool = False,
    human: float | None = None,
    model: bool = False,
) -> dict[str, Any]:
    facets: dict[str, Any] = {}
    if version is not None:
        facets["version"] = facet("DatasetVersionDatasetFacet", datasetVersion=version)
    if human is not None:
        facets["headwater_origin"] = facet("headwater_origin", human=human, synthetic=1 - human)
    if model:
        facets["datasetType"] = facet("DatasetTypeDatasetFacet", datasetType="MODEL")
    dataset: dict[str, Any] = {"namespace": namespace, "name": name, "facets": facets}
    if rows is not None:
        statistics = {"rowCount": rows}
        if output:
            dataset["outputFacets"] = {"outputStatistics": facet("s", **statistics)}
        else:
            dataset["inputFacets"] = {"inputStatistics": facet("s", **statistics)}
    return dataset


def run_event(
    state: str, run_id: str, job: str, inputs: list[Any], outputs: list[Any]
) -> dict[str, Any]:
    return {
        "eventType": state,
        "eventTime": "2026-11-26T08:00:00Z",
        "run": {"runId": run_id},
        "job": {"namespace": "jobs", "name": job},
        "inputs": inputs,
        "outputs": outputs,
        "producer": differential.PRODUCER,
    }


def new_run() -> str:
    return str(uuid.uuid4())


def sources() -> list[dict[str, Any]]:
    """Human sources every client reads, at a version they name."""
    return [
        run_event(
            "COMPLETE",
            new_run(),
            "load",
            [],
            [named("s3://shared", s, version="1", rows=1000, output=True, human=1.0)],
        )
        for s in SOURCES
    ]


def linking(namespace: str, parent: str, child: str) -> dict[str, Any]:
    """A run writing version 1 of ``child`` from version 1 of ``parent``: twice, the second
    time the other way round, it closes a cycle."""
    return run_event(
        "COMPLETE",
        new_run(),
        f"{parent}-to-{child}",
        [named(namespace, parent, version="1")],
        [named(namespace, child, version="1")],
    )


def own_runs(namespace: str, source: str) -> list[dict[str, Any]]:
    """What one pipeline sends, in order: a run's START and COMPLETE, the COMPLETE again, an
    invalid event, an edge and the event closing a cycle with it, a training on the newest
    derived version, and a run that starts and fails."""
    derive, train, fail = new_run(), new_run(), new_run()
    read = named("s3://shared", source, version="1")
    counted = named("s3://shared", source, version="1", rows=100)
    complete = run_event(
        "COMPLETE", derive, "derive", [counted], [named(namespace, "derived", rows=80, output=True)]
    )
    return [
        run_event("START", derive, "derive", [read], [named(namespace, "derived")]),
        complete,
        copy.deepcopy(complete),
        {"eventTime": "not a time", "producer": differential.PRODUCER, "run": {"runId": "?"}},
        linking(namespace, "x", "y"),
        linking(namespace, "y", "x"),
        run_event(
            "COMPLETE",
            train,
            "train",
            [named(namespace, "derived", rows=80)],
            [named(namespace, "model", version="v1", model=True)],
        ),
        run_event(
            "START", fail, "doomed", [read], [named(namespace, "doomed", rows=5, output=True)]
        ),
        run_event("FAIL", fail, "doomed", [read], []),
    ]


Answer = tuple[int, Any]


def as_result(session: Session, answer: Answer) -> Any:
    """An answer with its version ids replaced by natural keys (``differential.result``)."""
    status, body = answer
    if status in (200, 201):
        return status, differential.result(session, body["status"], body)
    body.pop("instance", None)
    return status, body


def stored(engine: Engine) -> dict[str, Any]:
    """The stored graph (``differential.graph``), and who declared each origin and wrote what."""
    with Session(engine) as session:
        graph = differential.graph(session)
        graph["declared by"] = sorted(
            session.execute(
                text("SELECT namespace, name, version, origin_declared_by FROM artifacts")
            ).all()
        )
        graph["audited"] = sorted(
            session.execute(
                text("SELECT actor, operation, count(*) FROM audit_entries GROUP BY 1, 2")
            ).all()
        )
    return graph


def one_after_another(url: str, events: list[tuple[Any, dict[str, str]]]) -> list[Answer]:
    with httpx.Client(base_url=url, timeout=60) as client:
        return [post_as(client, event, headers) for event, headers in events]


def post_as(client: httpx.Client, event: Any, headers: dict[str, str]) -> Answer:
    response = client.post("/api/v1/lineage", json=event, headers=headers)
    return response.status_code, response.json()


# --- many clients at once ---------------------------------------------------------------------


@pytest.mark.parametrize("live_server", WORKERS, indirect=True)
def test_concurrent_clients_get_the_answers_and_the_graph_of_one_event_after_another(
    live_server: LiveServer, committed: str
) -> None:
    engine = create_engine(committed)
    setup = sources()
    common = run_event("COMPLETE", new_run(), "common", [], [named("s3://shared", "common")])
    work: list[list[tuple[Any, dict[str, str]]]] = []
    at: list[int] = []
    for k in range(CLIENTS):
        mine = own_runs(f"s3://client-{k}", SOURCES[k % len(SOURCES)])
        at.append(k % len(mine))
        mine.insert(at[-1], common)
        work.append([(event, {}) for event in mine])

    one_after_another(live_server.url, [(event, {}) for event in setup])
    start = threading.Barrier(CLIENTS)
    answers: list[list[Answer]] = [[] for _ in work]

    def client(k: int) -> None:
        start.wait()
        answers[k] = one_after_another(live_server.url, work[k])

    threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    concurrently = results(engine, answers)
    graph_concurrently = stored(engine)

    truncate(committed)
    one_after_another(live_server.url, [(event, {}) for event in setup])
    singly = results(engine, [one_after_another(live_server.url, events) for events in work])
    graph_singly = stored(engine)
    engine.dispose()

    # the event every client sent: accepted once, a redelivery for all the others
    common_answers = [
        sorted((r.pop(at[k]) for k, r in enumerate(o)), key=repr) for o in (concurrently, singly)
    ]
    assert common_answers[0] == common_answers[1]
    assert Counter(status for status, _ in common_answers[0]) == {201: 1, 200: CLIENTS - 1}
    assert concurrently == singly
    statuses = Counter(status for each in singly for status, _ in each)
    assert statuses.keys() == {200, 201, 409, 422}, statuses
    for part, graph in graph_singly.items():
        assert graph_concurrently[part] == graph, part


def results(engine: Engine, answers: list[list[Answer]]) -> list[list[Any]]:
    with Session(engine) as session:
        return [[as_result(session, answer) for answer in each] for each in answers]


# --- groups made certain -----------------------------------------------------------------------


@contextmanager
def held(engine: Engine, run_id: str) -> Iterator[None]:
    """The advisory lock a run's events take (``ingest.scopes_of``), held until the block ends."""
    with engine.connect() as conn, conn.begin():
        conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:scope, 0))"),
            {"scope": scope_text("openlineage-run", run_id)},
        )
        yield


def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.02)


def lock_waiters(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock' AND wait_event = 'advisory'"
                )
            )
            or 0
        )


def metrics(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return scrape(httpx.get(url + "/metrics", timeout=30).text)


def waiting(url: str) -> float:
    return value(metrics(url), "headwater_openlineage_events_waiting")


class Groups:
    """The groups committed while the block ran: how many, and how many events in all."""

    count = 0.0
    events = 0.0


@contextmanager
def groups(url: str) -> Iterator[Groups]:
    before = metrics(url)
    counted = Groups()
    yield counted
    after = metrics(url)
    for field, sample in (("count", "_count"), ("events", "_sum")):
        name = "headwater_openlineage_group_events" + sample
        setattr(counted, field, value(after, name) - value(before, name))


def in_one_group(
    url: str,
    engine: Engine,
    first: tuple[Any, dict[str, str]],
    events: list[tuple[Any, dict[str, str]]],
    *,
    meanwhile: Callable[[], None] = lambda: None,
) -> tuple[Answer, list[Answer]]:
    """Post ``first`` and hold its run's lock, so that its group waits; post ``events`` one
    after another, each once the one before waits for the next group; call ``meanwhile``;
    release the lock: ``events`` are committed in one group, in the order posted."""
    answers: list[Answer | None] = [None] * (len(events) + 1)

    def send(index: int, event: Any, headers: dict[str, str]) -> threading.Thread:
        def post() -> None:
            answers[index] = one_after_another(url, [(event, headers)])[0]

        thread = threading.Thread(target=post)
        thread.start()
        return thread

    with held(engine, first[0]["run"]["runId"]):
        threads = [send(0, *first)]
        until(lambda: lock_waiters(engine) == 1, "the first group to wait for the lock")
        for index, (event, headers) in enumerate(events, start=1):
            threads.append(send(index, event, headers))

            def queued(count: int = index) -> bool:
                return waiting(url) == count

            until(queued, f"event {index} to wait for the next group")
        meanwhile()
    for thread in threads:
        thread.join(timeout=120)
    assert all(answer is not None for answer in answers), answers
    return answers[0], answers[1:]  # type: ignore[return-value]


@pytest.fixture
def secured(committed: str, tmp_path: Path) -> Iterator[LiveServer]:
    yield from serving(committed, tmp_path, {"HEADWATER_AUTH": "required"})


def tokens(committed: str) -> dict[str, dict[str, str]]:
    """Two writers, each limited to its own namespaces: headers to send as each."""
    env = {"DATABASE_URL": committed}
    return {
        team: {
            "Authorization": "Bearer "
            + create_token(env, team, "--scope", "write", "--namespace", f"s3://{team}/*")
        }
        for team in ("team-a", "team-b")
    }


def two_teams() -> tuple[Any, list[tuple[Any, str]]]:
    """A first event of team-a's, then events of both teams, interleaved: a run's START and
    COMPLETE, that COMPLETE again, a write into the other team's namespace, an invalid event,
    an edge and the event closing a cycle with it, a training on the newest derived version."""
    a, b = "s3://team-a", "s3://team-b"
    derive = new_run()
    source = named(a, "source", version="1", rows=100, human=1.0)
    complete = run_event(
        "COMPLETE", derive, "derive", [source], [named(a, "derived", rows=60, output=True)]
    )
    events = [
        ("team-a", run_event("START", derive, "derive", [source], [named(a, "derived")])),
        ("team-b", run_event("COMPLETE", new_run(), "raw", [], [named(b, "raw", human=0.0)])),
        ("team-a", complete),
        ("team-a", run_event("COMPLETE", new_run(), "intrude", [], [named(b, "intruder")])),
        ("team-b", linking(b, "x", "y")),
        ("team-a", copy.deepcopy(complete)),
        ("team-a", {"eventTime": "not a time", "producer": differential.PRODUCER}),
        ("team-b", linking(b, "y", "x")),
        (
            "team-a",
            run_event(
                "COMPLETE",
                new_run(),
                "train",
                [named(a, "derived", rows=60)],
                [named(a, "model", version="v1", model=True)],
            ),
        ),
    ]
    first = run_event("COMPLETE", new_run(), "first", [], [named(a, "first", human=1.0)])
    return first, [(event, team) for team, event in events]


def test_a_group_of_two_writers_events_answers_each_as_one_after_another(
    secured: LiveServer, committed: str
) -> None:
    engine = create_engine(committed)
    first, events = two_teams()
    headers = tokens(committed)

    with groups(secured.url) as grouped:
        _, together = in_one_group(
            secured.url,
            engine,
            (first, headers["team-a"]),
            [(event, headers[team]) for event, team in events],
        )
    in_groups = results(engine, [together])[0]
    graph_in_groups = stored(engine)

    truncate(committed)
    headers = tokens(committed)
    sequence = [(first, headers["team-a"])] + [(event, headers[team]) for event, team in events]
    singly = results(engine, [one_after_another(secured.url, sequence)[1:]])[0]
    graph_singly = stored(engine)
    engine.dispose()

    # the first event alone, then all the others in one group
    assert (grouped.count, grouped.events) == (2, 1 + len(events))
    assert in_groups == singly
    assert [status for status, _ in singly] == [201, 201, 201, 403, 201, 200, 422, 409, 201]
    for part, graph in graph_singly.items():
        assert graph_in_groups[part] == graph, part
    assert ("team-b", "lineage.event", 2) in graph_singly["audited"]


@pytest.fixture
def poisoned(committed: str) -> Iterator[None]:
    """Inserting a version named ``poison`` fails in the database, as no check foresees."""
    engine = create_engine(committed)
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE FUNCTION test_poison() RETURNS trigger LANGUAGE plpgsql AS"
                " $$ BEGIN RAISE EXCEPTION 'poisoned'; END $$"
            )
        )
        conn.execute(
            text(
                "CREATE TRIGGER test_poison BEFORE INSERT ON artifacts FOR EACH ROW"
                " WHEN (NEW.name = 'poison') EXECUTE FUNCTION test_poison()"
            )
        )
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(text("DROP TRIGGER test_poison ON artifacts"))
            conn.execute(text("DROP FUNCTION test_poison()"))
        engine.dispose()


def test_a_group_that_fails_as_a_whole_fails_only_the_event_at_fault(
    live_server: LiveServer, committed: str, poisoned: None
) -> None:
    engine = create_engine(committed)
    first = run_event("COMPLETE", new_run(), "first", [], [named("s3://p", "first")])
    events = [
        run_event("COMPLETE", new_run(), name, [], [named("s3://p", name)])
        for name in ("good-1", "poison", "good-2")
    ]

    with groups(live_server.url) as grouped:
        _, answers = in_one_group(live_server.url, engine, (first, {}), [(e, {}) for e in events])

    assert (grouped.count, grouped.events) == (2, 4)
    assert [status for status, _ in answers] == [201, 500, 201]
    assert answers[1][1]["type"].endswith("/internal")
    with engine.connect() as conn:
        names = conn.scalars(text("SELECT name FROM artifacts WHERE namespace = 's3://p'")).all()
    assert sorted(names) == ["first", "good-1", "good-2"]
    engine.dispose()


def test_events_waiting_when_the_service_stops_are_committed_and_answered(
    live_server: LiveServer, committed: str
) -> None:
    engine = create_engine(committed)
    first = run_event("COMPLETE", new_run(), "first", [], [named("s3://stop", "first")])
    events = [
        run_event("COMPLETE", new_run(), f"late-{i}", [], [named("s3://stop", f"late-{i}")])
        for i in range(3)
    ]
    assert live_server.process is not None
    stopping = live_server.process

    answered, answers = in_one_group(
        live_server.url,
        engine,
        (first, {}),
        [(e, {}) for e in events],
        meanwhile=lambda: stopping.send_signal(signal.SIGTERM),
    )

    assert [answered[0], *(status for status, _ in answers)] == [201] * 4
    assert stopping.wait(timeout=60) == 0
    with engine.connect() as conn:
        count = conn.scalar(text("SELECT count(*) FROM artifacts WHERE namespace = 's3://stop'"))
    assert count == 4
    engine.dispose()
