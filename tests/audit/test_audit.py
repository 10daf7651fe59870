"""The record of writes: every accepted write once, none rolled back, and a chain that names
the first entry altered, removed or reordered."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from app import writes as write_sequence
from app.artifacts.schemas import DatasetCreate
from app.audit import chain
from app.audit import service as audit
from app.audit.sealer import drain
from app.auth.core import Principal
from app.db import Database
from app.main import create_app
from app.policies import service as policy_service
from app.policies.schemas import PolicyPut
from tests.auth.conftest import Issue, bearer
from tests.auth.test_tokens import ol_dataset, run_event
from tests.conftest import free_port, headwater


def entries(client: TestClient, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    answer = client.get("/api/v1/audit", headers=headers, params=params)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def test_every_accepted_write_is_recorded_once_with_its_actor(
    secured: TestClient, issue: Issue, session: Session
) -> None:
    admin = bearer(issue("root", "admin"))
    writer = bearer(issue("pipeline", "write"))
    author = bearer(issue("author", "policy"))
    first = {"namespace": "n", "name": "a", "version": "1", "size": 10, "origin": {"human": 1}}
    a = secured.post("/api/v1/datasets", headers=writer, json=first).json()["id"]
    # the same version again changes nothing; a different one is refused: neither is recorded
    assert secured.post("/api/v1/datasets", headers=writer, json=first).status_code == 200
    changed = {**first, "size": 11}
    assert secured.post("/api/v1/datasets", headers=writer, json=changed).status_code == 409
    b = secured.post(
        "/api/v1/datasets", headers=writer, json={"namespace": "n", "name": "b", "version": "1"}
    ).json()["id"]
    model = {"namespace": "n", "name": "m", "version": "1", "training_set": [{"id": a}]}
    assert secured.post("/api/v1/models", headers=writer, json=model).status_code == 201
    edge = {"child": {"id": b}, "parent": {"id": a}, "relation": "derived_from"}
    assert secured.post("/api/v1/edges", headers=writer, json=edge).status_code == 201
    correction = {"synthetic": 1.0, "reason": "relabelled"}
    assert secured.put(f"/api/v1/datasets/{a}/origin", headers=writer, json=correction).is_success
    event = run_event(outputs=[ol_dataset("n", "ol")])
    assert secured.post("/api/v1/lineage", headers=writer, json=event).status_code == 201
    assert secured.post("/api/v1/lineage", headers=writer, json=event).status_code == 200
    batch = [run_event(outputs=[ol_dataset("n", "ol2")]), {"not": "an event"}]
    assert secured.post("/api/v1/lineage/batch", headers=writer, json=batch).status_code == 207
    policy = {"rules": {}, "description": "strict"}
    assert secured.put("/api/v1/policies/strict", headers=author, json=policy).status_code == 201
    assert secured.put("/api/v1/policies/strict", headers=author, json=policy).status_code == 200
    assert secured.delete("/api/v1/tokens/author", headers=admin).status_code == 200

    log = entries(secured, admin, limit=500)
    assert [(e["operation"], e["actor"]) for e in log] == [
        ("token.create", "test"),
        ("token.create", "test"),
        ("token.create", "test"),
        ("dataset.create", "pipeline"),
        ("dataset.create", "pipeline"),
        ("model.create", "pipeline"),
        ("edge.create", "pipeline"),
        ("origin.correct", "pipeline"),
        ("lineage.event", "pipeline"),
        ("lineage.event", "pipeline"),
        ("policy.put", "author"),
        ("token.revoke", "root"),
    ]
    assert [e["sequence"] for e in log] == list(range(1, 13))
    assert log[3]["content"] == first
    assert log[7]["content"] == {"dataset_id": a, **correction}
    assert log[8]["content"] == event
    assert all(log[i]["previous_hash"] == log[i - 1]["hash"] for i in range(1, len(log)))
    assert "token" not in json.dumps(
        [e["content"] for e in log if e["operation"] == "token.create"]
    )

    by_actor = entries(secured, admin, actor="author")
    assert [e["operation"] for e in by_actor] == ["policy.put"]
    later = entries(secured, admin, since=log[-1]["recorded_at"])
    assert [e["sequence"] for e in later] == [12]
    page = secured.get("/api/v1/audit", headers=admin, params={"limit": 5}).json()
    rest = secured.get(
        "/api/v1/audit", headers=admin, params={"limit": 50, "cursor": page["next_cursor"]}
    ).json()
    assert [e["sequence"] for e in page["items"] + rest["items"]] == list(range(1, 13))
    assert rest["next_cursor"] is None
    assert secured.get("/api/v1/audit", headers=admin, params={"cursor": "x"}).status_code == 422

    assert audit.verify(session).breach is None


# --- tampering, checked by the command ------------------------------------------------------


def verify_command(url: str) -> tuple[int, dict[str, Any]]:
    done = headwater("audit", "verify", "--json", env={"DATABASE_URL": url})
    return done.returncode, json.loads(done.stdout)


def write_entries(url: str, count: int, *, seal: bool = True) -> None:
    engine = create_engine(url)
    with Session(engine) as session, session.begin():
        for i in range(count):
            audit.record(session, f"actor-{i % 2}", "test.write", {"i": i, "text": "é\u2028"})
    if seal:
        with Session(engine) as session, session.begin():
            assert audit.seal(session) == count
    engine.dispose()


def sql(url: str, *statements: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
    engine.dispose()


TAMPERING = {
    "altered content": (
        ["UPDATE audit_entries SET content = replace(content, 'i', 'j') WHERE sequence = 3"],
        ("altered", 3),
    ),
    "altered actor": (
        ["UPDATE audit_entries SET actor = 'someone-else' WHERE sequence = 4"],
        ("altered", 4),
    ),
    "rehashed entry": (
        [
            "UPDATE audit_entries SET content = '{}', content_hash = repeat('a', 64),"
            " hash = repeat('b', 64) WHERE sequence = 2"
        ],
        ("altered", 2),
    ),
    "removed entry": (["DELETE FROM audit_entries WHERE sequence = 2"], ("removed", 2)),
    "removed first entry": (["DELETE FROM audit_entries WHERE sequence = 1"], ("removed", 1)),
    "removed newest entries": (["DELETE FROM audit_entries WHERE sequence >= 5"], ("removed", 5)),
    "swapped entries": (
        [
            "UPDATE audit_entries SET sequence = -1 WHERE sequence = 2",
            "UPDATE audit_entries SET sequence = 2 WHERE sequence = 3",
            "UPDATE audit_entries SET sequence = 3 WHERE sequence = -1",
        ],
        ("reordered", 2),
    ),
    "removed and renumbered": (
        [
            "DELETE FROM audit_entries WHERE sequence = 3",
            "UPDATE audit_entries SET sequence = sequence - 1 WHERE sequence > 3",
            "UPDATE audit_head SET sequence = sequence - 1",
        ],
        ("altered", 3),
    ),
}


def test_an_intact_chain_verifies(committed: str) -> None:
    write_entries(committed, 6)
    write_entries(committed, 2, seal=False)
    code, result = verify_command(committed)
    assert code == 0, result
    assert result["intact"] is True and result["sealed"] == 6 and result["pending"] == 2


@pytest.mark.parametrize("case", list(TAMPERING))
def test_tampering_is_named(committed: str, case: str) -> None:
    statements, (kind, sequence) = TAMPERING[case]
    write_entries(committed, 6)
    sql(committed, *statements)
    code, result = verify_command(committed)
    assert code == 1, result
    assert result["intact"] is False
    assert (result["breach"]["kind"], result["breach"]["sequence"]) == (kind, sequence), result


def test_an_altered_entry_not_sealed_yet_is_named(committed: str) -> None:
    write_entries(committed, 3)
    write_entries(committed, 1, seal=False)
    sql(committed, "UPDATE audit_entries SET operation = 'x' WHERE sequence IS NULL")
    code, result = verify_command(committed)
    assert code == 1 and result["breach"]["kind"] == "altered"
    assert result["breach"]["sequence"] is None and result["breach"]["entry_id"]


def test_an_unreachable_database_is_exit_2() -> None:
    code, result = verify_command(f"postgresql://postgres@127.0.0.1:{free_port()}/nothing")
    assert code == 2 and result["intact"] is None


# --- concurrency -------------------------------------------------------------------------------


def test_the_listing_waits_for_a_busy_sealer_and_lists_what_it_sealed(committed: str) -> None:
    """Entries the background sealer is chaining when the log is listed are listed too: the
    listing waits for that sealer to commit rather than skip them, and its own sealing runs in
    a transaction (a GET's session has none, and a lock taken outside one is let go at once)."""
    write_entries(committed, 3, seal=False)
    engine = create_engine(committed)
    answers: list[Any] = []
    with TestClient(create_app(committed, run_worker=False)) as client, Session(engine) as busy:
        assert audit.seal(busy) == 3  # the sealer's lock held, its chain not committed yet
        listing = threading.Thread(target=lambda: answers.append(client.get("/api/v1/audit")))
        listing.start()
        with engine.connect() as watcher:
            while listing.is_alive() and not waiting_for_an_advisory_lock(watcher):
                listing.join(0.01)
        assert listing.is_alive(), "the listing answered without waiting for the sealer"
        busy.commit()
        listing.join()
    engine.dispose()
    assert answers[0].status_code == 200, answers[0].text
    assert [entry["sequence"] for entry in answers[0].json()["items"]] == [1, 2, 3]


def waiting_for_an_advisory_lock(conn: Connection) -> bool:
    return bool(
        conn.execute(
            text(
                "SELECT EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory'"
                " AND NOT granted AND database = (SELECT oid FROM pg_database"
                " WHERE datname = current_database()))"
            )
        ).scalar()
    )


def test_concurrent_writers_and_sealers_leave_one_valid_chain(committed: str) -> None:
    """Writers in parallel transactions (policies take no lineage lock), two sealers racing
    them, and some writes rolled back: the chain holds exactly the committed ones."""
    database = Database.connect(committed, pool_size=12)
    sessions: sessionmaker[Session] = database.sessions
    writers, writes = 6, 15
    stop = threading.Event()
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for i in range(writes):
                with sessions.begin() as session:
                    policy_service.put(
                        session, f"p-{worker}-{i}", PolicyPut(rules={}), actor=f"w{worker}"
                    )
                with sessions() as session:
                    write_sequence.register_dataset(
                        session,
                        DatasetCreate(namespace=f"w{worker}", name=str(i), version="1"),
                        actor=Principal(f"w{worker}", frozenset({"write"})),
                    )
                    session.rollback()  # never acknowledged: never audited
        except BaseException as exc:
            errors.append(exc)

    def seal() -> None:
        try:
            while not stop.is_set():
                drain(database)
        except BaseException as exc:
            errors.append(exc)

    sealers = [threading.Thread(target=seal) for _ in range(2)]
    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in sealers + threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    stop.set()
    for t in sealers:
        t.join(timeout=60)
    assert errors == []
    drain(database)
    with sessions.begin() as session:
        verdict = audit.verify(session)
        rows = session.execute(
            text("SELECT sequence, operation FROM audit_entries ORDER BY sequence")
        ).all()
    database.dispose()
    assert verdict.breach is None and verdict.pending == 0
    assert verdict.sealed == writers * writes
    assert [r.sequence for r in rows] == list(range(1, writers * writes + 1))
    assert {r.operation for r in rows} == {"policy.put"}


def test_chain_functions_are_pure_and_stable() -> None:
    from datetime import UTC, datetime

    at = datetime(2026, 11, 26, tzinfo=UTC)
    content = chain.canonical({"b": 1, "a": [1.5, "é"]})
    assert content == '{"a":[1.5,"é"],"b":1}'
    one = chain.content_hash(at, "x", "op", content)
    assert one == chain.content_hash(at.astimezone(), "x", "op", content)
    assert chain.link(chain.GENESIS, one) != chain.link(chain.GENESIS, one[::-1])
