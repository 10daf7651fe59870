"""Seals audit entries in the background, in every replica; the advisory lock lets one at a time."""

from __future__ import annotations

import logging
import threading

from app.audit import service
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


class AuditSealer:
    def __init__(self, database: Database, poll_seconds: float = 0.25) -> None:
        self.database = database
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audit-sealer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        try:
            drain(self.database)  # a clean stop leaves nothing of this replica's unsealed
        except Exception:
            log.exception("sealing audit entries at shutdown failed; the next start seals them")

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                drain(self.database)
            except Exception:
                log.exception("sealing audit entries failed; they stay pending and are retried")
            self._stop.wait(self.poll_seconds)
