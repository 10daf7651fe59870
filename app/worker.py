"""Finishes deferred propagations and queued re-judging in the background, in every replica."""

from __future__ import annotations

import logging

from app import writes
from app.background import Poller
from app.db import Database, unavailable
from app.training import service as training_service

log = logging.getLogger("headwater.worker")


def drain(database: Database) -> int:
    """Run pending propagation jobs and re-judge queued training runs until none is left; how
    many jobs and batches ran.

    A pending job goes before every batch of re-judging: a correction queues thousands of runs,
    and a job queued behind them would leave its compositions stale for as long as they take,
    while a run judged before the job is done is judged on stale figures and queued again."""
    done = 0
    while True:
        with database.sessions() as session, session.begin():
            ran = writes.finish_deferred(session, database.sessions) is not None
        if not ran:
            with database.sessions() as session, session.begin():
                if training_service.rejudge_pending(session) == 0:
                    return done
        done += 1


class PropagationWorker(Poller):
    name = "propagation-worker"

    def round(self) -> None:
        drain(self.database)

    def failed(self, exc: Exception) -> None:
        if unavailable(exc):
            # the database is down or restarting: the jobs wait, and so does the worker
            log.warning("propagation worker waits for the database", extra={"error": repr(exc)})
        else:
            log.error("propagation job failed; it stays pending and is retried", exc_info=exc)
