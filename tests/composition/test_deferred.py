"""Corrections too large for one request: stale until finished, never lost across a restart."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from app import worker, writes
from app.artifacts.models import Artifact
from app.artifacts.schemas import DatasetCreate, ModelCreate, OriginIn, ParentIn, TrainingSetItem
from app.auth.core import NOBODY_IN_PARTICULAR as ANYONE
from app.composition import jobs
from app.composition import passes as composition_passes
from app.composition import repository as composition_repository
from app.composition import writer as composition_writer
from app.composition.models import PropagationJob
from app.composition.passes import Pass, recompute
from app.composition.writer import CompositionWriter
from app.config import get_settings
from app.db import Database
from app.training import service as training_service
from tests import graph_check
from tests.artifacts.test_api import dataset, ref
from tests.conftest import LiveServer


@pytest.fixture
def small_inline_limit(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("HEADWATER_PROPAGATION_INLINE_LIMIT", "3")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def chain(client: TestClient, length: int) -> list[dict[str, object]]:
    nodes = [dataset(client, "root", size=100, origin={"human": 1})]
    for i in range(length):
        nodes.append(
            dataset(client, f"n{i}", parents=[{**ref(nodes[-1]), "relation": "derived_from"}])
        )
    return nodes


@pytest.mark.usefixtures("small_inline_limit")
def test_a_large_correction_reads_stale_until_a_worker_finishes_it(
    client: TestClient, session: Session
) -> None:
    nodes = chain(client, 6)
    corrected = client.put(f"/api/v1/datasets/{nodes[0]['id']}/origin", json={"synthetic": 1})
    assert corrected.status_code == 200
    assert corrected.json()["composition"]["stale"] is True
    for node in nodes[1:]:
        composition = client.get(f"/api/v1/datasets/{node['id']}").json()["composition"]
        assert composition["stale"] is True
        assert composition["human_fraction"] == 1.0  # the old value, said to be stale

    # a write below a stale node is stale too, not silently current
    late = dataset(client, "late", parents=[{**ref(nodes[-1]), "relation": "derived_from"}])
    assert late["composition"]["stale"] is True

    pending = client.get("/api/v1/propagations", params={"status": "pending"}).json()["items"]
    assert [(job["status"], job["roots"]) for job in pending] == [("pending", [nodes[0]["id"]])]
    assert "corrected" in pending[0]["cause"]

    assert writes.finish_deferred(session) is not None
    assert writes.finish_deferred(session) is None
    done = client.get(f"/api/v1/propagations/{pending[0]['id']}").json()
    assert done["status"] == "done"
    assert done["nodes_done"] == done["nodes_total"] == len(nodes) + 1
    for node in [*nodes, late]:
        composition = client.get(f"/api/v1/datasets/{node['id']}").json()["composition"]
        assert composition["stale"] is False
        assert composition["synthetic_fraction"] == 1.0


@pytest.mark.usefixtures("small_inline_limit")
@pytest.mark.parametrize("workers", [1, 4])
def test_a_pending_correction_survives_a_restart(
    committed: str, tmp_path: Path, workers: int
) -> None:
    engine = create_engine(committed)
    sessions = sessionmaker(engine)
    with sessions.begin() as session:
        previous = None
        for i in range(5):
            node, _ = writes.register_dataset(
                session,
                DatasetCreate(
                    namespace="r",
                    name=f"n{i}",
                    version="1",
                    size=10,
                    origin=OriginIn(human=1) if previous is None else None,
                    parents=[]
                    if previous is None
                    else [ParentIn(id=previous, relation="derived_from")],
                ),
                actor=ANYONE,
            )
            previous = node.id
            if i == 0:
                root_id = node.id
        leaf_id = previous
    # the correction is accepted and deferred; no worker runs before the service stops
    with sessions.begin() as session:
        writes.correct_origin(session, root_id, OriginIn(synthetic=1), "relabelled", actor=ANYONE)
    with Session(engine) as session:
        pending = session.scalars(select(PropagationJob).where(PropagationJob.status == "pending"))
        assert len(pending.all()) == 1

    env = {"DATABASE_URL": committed, "HEADWATER_LOG_LEVEL": "warning"}
    server = LiveServer({**env, "HEADWATER_WORKERS": str(workers)}, tmp_path)
    server.start()
    try:
        with server.client() as client:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                composition = client.get(f"/api/v1/datasets/{leaf_id}").json()["composition"]
                if not composition["stale"]:
                    break
                time.sleep(0.2)
            assert composition["stale"] is False
            assert composition["synthetic_fraction"] == 1.0
    finally:
        server.stop()
        engine.dispose()


def record_graph(sessions: sessionmaker[Session]) -> uuid.UUID:
    """A human root with a chain of six datasets below it, a model trained on the third and a
    dataset generated by the model: seven levels, all human (the generated one synthetic)."""
    with sessions.begin() as session:

        def add(name: str, parents: list[ParentIn], origin: OriginIn | None = None) -> uuid.UUID:
            node, _ = writes.register_dataset(
                session,
                DatasetCreate(
                    namespace="r", name=name, version="1", size=10, origin=origin, parents=parents
                ),
                actor=ANYONE,
            )
            return node.id

        root = add("root", [], OriginIn(human=1))
        previous = root
        for i in range(6):
            previous = add(f"n{i}", [ParentIn(id=previous, relation="derived_from")])
            if i == 2:
                model, _ = writes.register_model(
                    session,
                    ModelCreate(
                        namespace="r",
                        name="m",
                        version="1",
                        training_set=[TrainingSetItem(id=previous)],
                    ),
                    actor=ANYONE,
                )
                add("g", [ParentIn(id=model.id, relation="generated_by")])
    return root


def states(engine: Engine) -> dict[str, tuple[bool, float]]:
    """name -> (stale, human_fraction) for every node."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT name, composition_stale, human_fraction FROM artifacts"))
        return {name: (stale, human) for name, stale, human in rows}


@pytest.fixture
def corrected_in_chunks_of_two(
    committed: str, monkeypatch: pytest.MonkeyPatch, small_inline_limit: None
) -> Iterator[tuple[Engine, sessionmaker[Session]]]:
    """The recorded graph with its root's origin corrected and the job left deferred; the job
    will recompute two nodes a chunk."""
    engine = create_engine(committed)
    sessions = sessionmaker(engine)
    root = record_graph(sessions)
    with sessions.begin() as session:
        writes.correct_origin(session, root, OriginIn(synthetic=1), "relabelled", actor=ANYONE)
    monkeypatch.setattr(jobs, "CHUNK_NODES", 2)
    yield engine, sessions
    engine.dispose()


def test_a_job_commits_chunk_by_chunk_and_a_crash_part_way_leaves_nothing_wrong(
    corrected_in_chunks_of_two: tuple[Engine, sessionmaker[Session]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine, sessions = corrected_in_chunks_of_two
    assert all(stale for name, (stale, _) in states(engine).items())

    real = recompute
    passes: list[int] = []

    def dies_in_the_third_chunk(*args: Any, **kwargs: Any) -> Pass:
        passes.append(len(args[1]))
        if len(passes) == 3:
            raise RuntimeError("killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(composition_passes, "recompute", dies_in_the_third_chunk)
    with pytest.raises(RuntimeError), sessions.begin() as session:
        writes.finish_deferred(session, sessions)
    # the first two chunks are committed and current; the rest still says it is stale
    part_way = states(engine)
    current = {name for name, (stale, _) in part_way.items() if not stale}
    assert {"root", "n0"} <= current < set(part_way)
    assert all(part_way[name][1] == 0.0 for name in current)
    assert all(human == 1.0 for name, (stale, human) in part_way.items() if stale and name != "g")
    with Session(engine) as session:
        job = session.scalars(select(PropagationJob)).one()
        assert job.status == "pending"

    # after the restart the job runs again from its roots
    monkeypatch.setattr(composition_passes, "recompute", real)
    with sessions.begin() as session:
        assert writes.finish_deferred(session, sessions) is not None
    assert states(engine) == {name: (False, 0.0) for name in part_way}


def test_a_node_recorded_below_a_stale_one_while_a_job_runs_is_finished_by_it(
    corrected_in_chunks_of_two: tuple[Engine, sessionmaker[Session]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine, sessions = corrected_in_chunks_of_two

    real = recompute
    passes: list[int] = []

    def with_a_writer_between_chunks(*args: Any, **kwargs: Any) -> Pass:
        passes.append(len(args[1]))
        if len(passes) == 2:
            # another writer hangs a dataset below the deepest node, not yet recomputed
            with sessions.begin() as other:
                deepest = other.scalars(select(Artifact.id).where(Artifact.name == "n5")).one()
                late, _ = writes.register_dataset(
                    other,
                    DatasetCreate(
                        namespace="r",
                        name="late",
                        version="1",
                        parents=[ParentIn(id=deepest, relation="derived_from")],
                    ),
                    actor=ANYONE,
                )
                assert late.composition_stale
        return real(*args, **kwargs)

    monkeypatch.setattr(composition_passes, "recompute", with_a_writer_between_chunks)
    with sessions.begin() as session:
        assert writes.finish_deferred(session, sessions) is not None
    # four chunks (the late node's own write among them), then the sweep that finds it
    assert passes == [2, 2, 1, 2, 3, 1]
    after = states(engine)
    assert "late" in after
    assert after == {name: (False, 0.0) for name in after}


@dataclass
class Batches:
    """The sizes of the batches a writer sent, and how long each waits in the database first."""

    sent: list[int] = field(default_factory=list)
    pause_s: float = 0.0


@pytest.fixture
def one_row_a_batch(monkeypatch: pytest.MonkeyPatch) -> Batches:
    """Every row written in a batch of its own: each is in flight while the next node is
    composed."""
    monkeypatch.setattr(composition_writer, "WRITE_BYTES", 1)
    batches = Batches()
    real_send = CompositionWriter._send

    def send(writer: CompositionWriter, parameters: dict[str, Any]) -> None:
        batches.sent.append(len(parameters["ids"]))
        if batches.pause_s:
            writer.session.execute(text("SELECT pg_sleep(:s)"), {"s": batches.pause_s})
        real_send(writer, parameters)

    monkeypatch.setattr(CompositionWriter, "_send", send)
    return batches


def test_a_job_writing_one_row_a_batch_while_it_computes_the_next_is_exact(
    corrected_in_chunks_of_two: tuple[Engine, sessionmaker[Session]], one_row_a_batch: Batches
) -> None:
    engine, sessions = corrected_in_chunks_of_two
    with sessions.begin() as session:
        outcome = writes.finish_deferred(session, sessions)
    assert outcome is not None and outcome.changed == outcome.nodes == len(one_row_a_batch.sent)
    assert set(one_row_a_batch.sent) == {1}
    after = states(engine)
    assert after == {name: (False, 0.0) for name in after}
    with sessions.begin() as session:
        while training_service.rejudge_pending(session):
            pass
        graph_check.check_graph(session, ["r"])


def test_a_pass_that_fails_with_a_batch_in_flight_waits_for_it_before_rolling_back(
    corrected_in_chunks_of_two: tuple[Engine, sessionmaker[Session]],
    one_row_a_batch: Batches,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine, sessions = corrected_in_chunks_of_two
    one_row_a_batch.pause_s = 0.5
    real_compose = composition_passes.compose_streamed

    def fails_once_a_batch_is_sent(*args: Any, **kwargs: Any) -> Any:
        if one_row_a_batch.sent:
            raise RuntimeError("composing failed")
        return real_compose(*args, **kwargs)

    monkeypatch.setattr(composition_passes, "compose_streamed", fails_once_a_batch_is_sent)
    # the error is the pass's own, not one of a connection used by two threads at once
    with pytest.raises(RuntimeError, match="composing failed"), sessions.begin() as session:
        writes.finish_deferred(session, sessions)
    assert all(stale for stale, _ in states(engine).values())
    with Session(engine) as session:
        assert session.scalars(select(PropagationJob.status)).one() == "pending"


def test_a_job_queued_while_runs_are_re_judged_goes_before_the_next_batch(
    committed: str, monkeypatch: pytest.MonkeyPatch, small_inline_limit: None
) -> None:
    database = Database.connect(committed)
    root = record_graph(database.sessions)
    with database.sessions.begin() as session:
        model = session.scalars(select(Artifact.id).where(Artifact.kind == "model")).one()
        training_service.queue(session, [model], cause="earlier change")
    real_rejudge = training_service.rejudge_pending
    pending_at_each_batch: list[int] = []

    def rejudge(session: Session, *args: Any, **kwargs: Any) -> int:
        with database.sessions() as other:
            pending_at_each_batch.append(
                other.scalar(
                    select(func.count())
                    .select_from(PropagationJob)
                    .where(PropagationJob.status == "pending")
                )
                or 0
            )
        if len(pending_at_each_batch) == 1:
            # a correction arrives while the first batch is being judged
            with database.sessions.begin() as other:
                relabelled = OriginIn(synthetic=1)
                writes.correct_origin(other, root, relabelled, "relabelled", actor=ANYONE)
        return real_rejudge(session, *args, **kwargs)

    monkeypatch.setattr(training_service, "rejudge_pending", rejudge)
    try:
        worker.drain(database)
        assert pending_at_each_batch[0] == 0
        assert pending_at_each_batch[1:] and set(pending_at_each_batch[1:]) == {0}
        assert all(stale is False for stale, _ in states(database.engine).values())
    finally:
        database.dispose()


def test_a_write_of_one_batch_starts_no_writer_thread(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[str] = []
    real = composition_writer.ThreadPoolExecutor

    def executor(*args: Any, **kwargs: Any) -> Any:
        started.append(kwargs["thread_name_prefix"])
        return real(*args, **kwargs)

    monkeypatch.setattr(composition_writer, "ThreadPoolExecutor", executor)
    root, _ = writes.register_dataset(
        session, DatasetCreate(namespace="t", name="root", version="1", size=1), actor=ANYONE
    )
    assert started == []
    # a batch closed before the last one is sent from the writer's thread
    monkeypatch.setattr(composition_writer, "WRITE_BYTES", 1)
    writes.register_dataset(
        session,
        DatasetCreate(
            namespace="t",
            name="child",
            version="1",
            parents=[ParentIn(id=root.id, relation="derived_from")],
        ),
        actor=ANYONE,
    )
    assert started == ["composition-writer"]


def test_a_wide_node_reads_its_parents_in_pages_once_the_batch_in_flight_is_written(
    session: Session, monkeypatch: pytest.MonkeyPatch, one_row_a_batch: Batches
) -> None:
    """A node whose outside parents are read in pages reads them on the session, after the
    writer's batch in flight (paused in the database here) is written, and composes exactly."""

    def add(name: str, parents: list[ParentIn], origin: OriginIn | None = None) -> uuid.UUID:
        body = DatasetCreate(
            namespace="w", name=name, version="1", size=10, origin=origin, parents=parents
        )
        node, _ = writes.register_dataset(session, body, actor=ANYONE)
        return node.id

    root = add("root", [], OriginIn(human=1))
    below = add("below", [ParentIn(id=root, relation="derived_from")])
    others = [add(f"x{i}", [], OriginIn(synthetic=1)) for i in range(3)]
    parents = [ParentIn(id=p, relation="derived_from", amount=10) for p in [below, *others]]
    add("wide", parents)

    writers: list[CompositionWriter] = []
    enter = CompositionWriter.__enter__

    def entering(writer: CompositionWriter) -> CompositionWriter:
        writers.append(writer)
        return enter(writer)

    # each page read: how many parents, and whether a batch was in flight as it began
    paged: list[tuple[int, bool]] = []
    real = composition_repository.stored_texts

    def stored_texts(session: Session, ids: Any, page: int = 1_000) -> Iterator[str]:
        sending = writers[-1]._sending
        paged.append((len(ids), sending is not None and not sending.done()))
        yield from real(session, ids, page)

    monkeypatch.setattr(CompositionWriter, "__enter__", entering)
    monkeypatch.setattr(composition_repository, "stored_texts", stored_texts)
    monkeypatch.setattr(composition_passes, "WIDE_PARENTS", 0)
    one_row_a_batch.sent.clear()
    one_row_a_batch.pause_s = 0.05
    writes.correct_origin(session, root, OriginIn(synthetic=1), "relabelled", actor=ANYONE)
    # the wide node's three parents outside the pass, in one page, read with nothing in flight
    assert paged == [(3, False)]
    assert one_row_a_batch.sent == [1, 1, 1]
    graph_check.check_graph(session, ["w"])
