"""Group commit: single OpenLineage events posted at the same time, committed together.

Every ``POST /api/v1/lineage`` hands its authorised event to its process's ``GroupCommit`` and
waits, holding no thread and no connection, for its own outcome. While no group is being
committed, an event starts one at once, alone; while one is, the events that arrive meanwhile
wait for it and then go together (up to ``HEADWATER_GROUP_COMMIT_MAX_EVENTS``), recorded in one
transaction (``writes.ingest_group``) in a worker thread. An event is acknowledged only once
its group committed, with the answer it would have had alone. The busier the endpoint, the
larger the groups: one commit and one propagation serve many events, and no event waits for a
timer.

Each process (``HEADWATER_WORKERS``) has its own: groups of different processes commit side by
side, as single requests did, under the same locks.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass
from typing import Annotated, Any

import anyio.to_thread
from fastapi import Depends, Request

from app import writes
from app.auth.core import Principal
from app.errors import RETRY_AFTER_SECONDS, ProblemError
from app.lineage.ingest import Ingested
from app.metrics import EVENTS_WAITING, GROUP_EVENTS

log = logging.getLogger("headwater.group_commit")


class ShuttingDown(
    ProblemError,
    status=503,
    slug="unavailable",
    title="Service unavailable",
    headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
):
    """The process is stopping: an event still waiting for its group is not recorded."""


@dataclass
class Waiting:
    event: Any
    actor: Principal
    outcome: asyncio.Future[Ingested]


class GroupCommit:
    """The events of one process waiting for their group, and the group being committed."""

    def __init__(self, transaction: writes.Transaction, max_events: int) -> None:
        self.transaction = transaction
        self.max_events = max_events
        self.waiting: deque[Waiting] = deque()
        self.committing: asyncio.Task[None] | None = None
        self.closed = False

    async def ingest(self, event: Any, actor: Principal) -> Ingested:
        """Record one event with the next group; its outcome once that group committed (or the
        exception it raises: its problem, or what failed)."""
        if self.closed:
            raise ShuttingDown("The service is shutting down; nothing was written. Retry shortly.")
        waiting = Waiting(event, actor, asyncio.get_running_loop().create_future())
        self.waiting.append(waiting)
        EVENTS_WAITING.inc()
        if self.committing is None:
            self.committing = asyncio.create_task(self.commit_all())
        return await waiting.outcome

    async def commit_all(self) -> None:
        """Commit groups until no event waits."""
        group: list[Waiting] = []
        try:
            while self.waiting:
                taken = min(self.max_events, len(self.waiting))
                group = [self.waiting.popleft() for _ in range(taken)]
                EVENTS_WAITING.dec(taken)
                GROUP_EVENTS.observe(taken)
                try:
                    outcomes = await anyio.to_thread.run_sync(
                        writes.ingest_group, self.transaction, [(w.event, w.actor) for w in group]
                    )
                except Exception as exc:
                    # ingest_group answers every event itself: this is a bug, the group's alone
                    log.exception("group commit failed")
                    outcomes = [exc] * taken
                for waiting, outcome in zip(group, outcomes, strict=True):
                    settle(waiting, outcome)
                group = []
        finally:
            # cancelled, as the process stops: nobody may wait for an answer that will not
            # come (what a group in flight committed stays committed, unacknowledged)
            stopped = ShuttingDown("The service stopped before this event was recorded; retry.")
            for waiting in [*group, *self.waiting]:
                settle(waiting, stopped)
            EVENTS_WAITING.dec(len(self.waiting))
            self.waiting.clear()
            self.committing = None

    async def close(self) -> None:
        """Refuse new events and wait until every waiting one has its answer."""
        self.closed = True
        if self.committing is not None:
            await self.committing


def settle(waiting: Waiting, outcome: Ingested | Exception) -> None:
    if waiting.outcome.done():
        return  # its request was cancelled (the client went away)
    if isinstance(outcome, Exception):
        waiting.outcome.set_exception(outcome)
    else:
        waiting.outcome.set_result(outcome)


async def get_group_commit(request: Request) -> GroupCommit:
    """The process's group commit (async: a sync dependency would cost a worker thread)."""
    group_commit: GroupCommit = request.app.state.group_commit
    return group_commit


GroupCommitDep = Annotated[GroupCommit, Depends(get_group_commit)]
