"""A PostgreSQL cluster of a test's own, in a temporary directory on a free port, that the test
may stop and start at will (never the machine's server)."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from app.serve_probe import free_port


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.skip("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
    return Path(found[-1]).parent


class ScratchPostgres:
    def __init__(self) -> None:
        self.bin = _bin_dir()
        self.port = free_port()
        # initdb refuses to run as root; the cluster then belongs to the postgres account
        self.user = "postgres" if os.geteuid() == 0 else None
        self.root = Path(tempfile.mkdtemp(prefix="headwater-pg-"))
        self.pgdata = self.root / "data"
        if self.user is not None:
            shutil.chown(self.root, self.user)
        self._run("initdb", "-D", str(self.pgdata), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, program: str, *args: str) -> None:
        options: dict[str, Any] = {"user": self.user} if self.user is not None else {}
        subprocess.run(
            [str(self.bin / program), *args],
            check=True,
            capture_output=True,
            cwd=self.root,
            **options,
        )

    def start(self) -> ScratchPostgres:
        server_options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root}"
        self._run(
            "pg_ctl", "-D", str(self.pgdata), "-o", server_options, "-l",
            str(self.root / "log"), "-w", "start",
        )  # fmt: skip
        return self

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.pgdata), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
