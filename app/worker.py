"""Finishes deferred propagations and queued re-judging in the background, in every replica."""

from __future__ import annotations

import logging
import threading

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from app import writes
from app.db import Database
from app.training import service as training_service

log = logging.getLogger("headwater.worker")


def drain(database: Database) -> int:
    """Run pending propagation jobs, then re-judge queued training runs, until none is left;
    how many jobs and batches ran."""
    done = 0
    while True:
        with database.sessions() as session, session.begin():
            if writes.finish_deferred(session, database.sessions) is None:
                break
        done += 1
    while True:
        with database.sessions() as session, session.begin():
            if training_service.rejudge_pending(session) == 0:
                return done
        done += 1


class PropagationWorker:
    def __init__(self, database: Database, poll_seconds: float = 1.0) -> None:
        self.database = database
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="propagation-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                drain(self.database)
            except (OperationalError, InterfaceError, PoolTimeout) as exc:
                # the database is down or restarting: the jobs wait, and so does the worker
                log.warning("propagation worker waits for the database", extra={"error": repr(exc)})
            except Exception:
                log.exception("propagation job failed; it stays pending and is retried")
            self._stop.wait(self.poll_seconds)
