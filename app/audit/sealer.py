"""Seals audit entries in the background, in every replica; the advisory lock lets one at a time."""

from __future__ import annotations

import logging

from app.audit import service
from app.background import Poller
from app.db import Database

log = logging.getLogger("headwater.audit")


def drain(database: Database) -> int:
    """Seal until nothing committed is left unsealed (or another sealer holds the lock)."""
    done = 0
    while True:
        with database.sessions() as session, session.begin():
            sealed = service.seal(session)
        done += sealed
        if sealed < service.SEAL_BATCH:
            return done


class AuditSealer(Poller):
    name = "audit-sealer"
    poll_seconds = 0.25

    def round(self) -> None:
        drain(self.database)

    def failed(self, exc: Exception) -> None:
        log.error("sealing audit entries failed; they stay pending and are retried", exc_info=exc)

    def stop(self) -> None:
        super().stop()
        try:
            drain(self.database)  # a clean stop leaves nothing of this replica's unsealed
        except Exception:
            log.exception("sealing audit entries at shutdown failed; the next start seals them")
