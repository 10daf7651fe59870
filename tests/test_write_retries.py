"""A deadlock between two writers is resolved by retrying the victim, and retrying it from where
its locks are released.

The victim here is a transaction of several steps, as a batch of OpenLineage events is (its
events recorded, then what they changed propagated): its first step holds a lock the other
writer waits for, and its second step deadlocks. Retried from the second step's savepoint, it
would keep the first step's lock, the other writer would go on waiting for it, and every retry
would deadlock again until the attempts ran out. Retried whole, it lets the other writer finish
and then succeeds. Two threads, each with a connection of its own, on a real PostgreSQL; which
of the two PostgreSQL aborts is settled by their ``deadlock_timeout``.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from app import writes
from app.artifacts.schemas import DatasetCreate
from app.auth.core import NOBODY_IN_PARTICULAR as ANYONE


def lock(session: Session, mode: str, row: uuid.UUID) -> Callable[[], tuple[None, None]]:
    def record() -> tuple[None, None]:
        session.execute(text(f"SELECT 1 FROM artifacts WHERE id = :id FOR {mode}"), {"id": row})
        return None, None

    return record


def waiting(url: str, pid: int) -> bool:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            query = text("SELECT count(*) FROM pg_locks WHERE pid = :pid AND NOT granted")
            return bool(conn.scalar(query, {"pid": pid}))
    finally:
        engine.dispose()


def test_a_deadlocked_step_after_others_is_retried_with_its_whole_transaction(
    committed: str,
) -> None:
    engine = create_engine(committed)
    with engine.connect() as conn:
        if not conn.scalar(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")):
            engine.dispose()
            pytest.skip("the test sets deadlock_timeout, which only a superuser may")
    sessions = sessionmaker(engine)
    with sessions.begin() as session:
        first, second = (
            writes.register_dataset(
                session, DatasetCreate(namespace="retry", name=name, version="1"), actor=ANYONE
            )[0].id
            for name in ("first", "second")
        )
    victim_locked, other_locked, other_done = (threading.Event() for _ in range(3))
    other_pid: list[int] = []
    attempts: list[int] = []
    errors: list[BaseException] = []

    def victim() -> None:
        with sessions() as session:

            def steps() -> None:
                attempts.append(len(attempts) + 1)
                # aborted first: its deadlock check runs 50 ms into a wait, the other's after 10 s
                session.execute(text("SET deadlock_timeout = '50ms'"))
                writes.write(session, lock(session, "SHARE", first), after_locks=True)
                victim_locked.set()
                other_locked.wait(timeout=30)
                deadline = time.monotonic() + 30
                while not (other_done.is_set() or waiting(committed, other_pid[0])):
                    assert time.monotonic() < deadline, "the other writer never waited"
                    time.sleep(0.01)
                writes.write(session, lock(session, "NO KEY UPDATE", second), after_locks=True)

            writes.retried(session, steps)
            session.commit()

    def other() -> None:
        with sessions() as session:
            session.execute(text("SET deadlock_timeout = '10s'"))
            other_pid.append(session.execute(text("SELECT pg_backend_pid()")).scalar_one())
            lock(session, "NO KEY UPDATE", second)()
            other_locked.set()
            victim_locked.wait(timeout=30)
            lock(session, "NO KEY UPDATE", first)()  # waits for the victim's first step
            session.commit()
        other_done.set()

    def guarded(work: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                work()
            except BaseException as exc:
                errors.append(exc)
                other_locked.set()
                victim_locked.set()

        return run

    def deadlock_retries() -> float:
        sample = {"error": "DeadlockDetected"}
        return REGISTRY.get_sample_value("headwater_write_retries_total", sample) or 0.0

    retries_before = deadlock_retries()
    threads = [threading.Thread(target=guarded(w)) for w in (other, victim)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    engine.dispose()
    assert not errors, errors
    assert attempts == [1, 2]
    assert deadlock_retries() == retries_before + 1
