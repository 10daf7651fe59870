"""The embedded PostgreSQL used when no DATABASE_URL is configured.

The server (PyPI ``pgserver``) runs in a process session of its own inside the data directory,
so it outlives a service that was killed; a later start reuses it, and a clean stop shuts it down.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

log = logging.getLogger("headwater.embedded")


class DataDirBusy(RuntimeError):
    """Another process already serves this data directory."""


class DataDirLock:
    """One service per data directory: the embedded PostgreSQL in it is shared, and a second
    service stopping it would break the first. The lock is an advisory ``flock`` on
    ``headwater.lock``, released by the kernel however the holder ends, even by kill -9."""

    def __init__(self, data_dir: Path) -> None:
        self.path = (data_dir / "headwater.lock").resolve()
        self._file: IO[str] | None = None

    def acquire(self) -> DataDirLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        file = open(self.path, "a+")  # noqa: SIM115 - held for the life of the service
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.seek(0)
            holder = file.read().strip() or "unknown"
            file.close()
            raise DataDirBusy(
                f"Another headwater (pid {holder}) is already using the data folder"
                f" {self.path.parent}; it is left running. Stop it first, or set"
                " HEADWATER_DATA_DIR (or DATABASE_URL) to serve elsewhere."
            ) from None
        file.truncate(0)
        file.write(f"{os.getpid()}\n")
        file.flush()
        self._file = file
        return self

    def release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class EmbeddedPostgres:
    def __init__(self, data_dir: Path) -> None:
        self.pgdata = (data_dir / "postgres").resolve()
        self._server: Any = None
        self.started_here = False

    def running(self) -> bool:
        from pgserver.utils import PostmasterInfo

        info = PostmasterInfo.read_from_pgdata(self.pgdata)
        return info is not None and bool(info.is_running())

    def start(self) -> str:
        """Start the server, or reuse the one already running on this data directory."""
        import pgserver

        self.pgdata.mkdir(parents=True, exist_ok=True)
        self.started_here = not self.running()
        self._server = pgserver.get_server(self.pgdata, cleanup_mode=None)
        uri: str = self._server.get_uri()
        log.info("embedded PostgreSQL ready", extra={"pgdata": str(self.pgdata)})
        return uri

    def stop(self, *, only_if_started_here: bool = False) -> None:
        if self._server is None or (only_if_started_here and not self.started_here):
            return
        from pgserver._commands import pg_ctl

        try:
            pg_ctl(["-w", "stop"], pgdata=self.pgdata, user=self._server.system_user)
        finally:
            self._server = None
            log.info("embedded PostgreSQL stopped", extra={"pgdata": str(self.pgdata)})


@contextmanager
def service_database(database_url: str | None, data_dir: Path) -> Iterator[str]:
    """The URL of the database the service uses, for commands run beside it: ``database_url``,
    or the embedded server in ``data_dir`` (reused while the service runs, and stopped after
    the command only if the command started it)."""
    if database_url is not None:
        yield database_url
        return
    embedded = EmbeddedPostgres(data_dir)
    url = embedded.start()
    try:
        yield url
    finally:
        embedded.stop(only_if_started_here=True)
