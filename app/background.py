"""Work that every replica runs in a thread of its own, a round every few seconds."""

from __future__ import annotations

import threading

from app.db import Database


class Poller:
    """Runs :meth:`round` in a daemon thread, then waits ``poll_seconds``, until stopped.

    A round that raises is handed to :meth:`failed` and the next round tries again: the work
    waits in the database, so nothing is lost."""

    name = "poller"
    poll_seconds = 1.0

    def __init__(self, database: Database, poll_seconds: float | None = None) -> None:
        self.database = database
        if poll_seconds is not None:
            self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)

    def round(self) -> None:
        raise NotImplementedError

    def failed(self, exc: Exception) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.round()
            except Exception as exc:
                self.failed(exc)
            self._stop.wait(self.poll_seconds)
