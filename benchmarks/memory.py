"""Benchmarks 4a and 4b: the server's memory during a phase (sampled, and capped when the run
says so), and the database's bytes per node."""

from __future__ import annotations

import threading
import time

import psycopg

from benchmarks import load
from benchmarks.servers import Server
from benchmarks.stats import Result


class DatabaseSize(Result):
    """``pg_total_relation_size`` (heap, TOAST, indexes) of ``artifacts`` and ``edges``."""

    artifacts_total_bytes: int
    edges_total_bytes: int
    artifacts_heap_bytes: int
    artifacts_index_bytes: int
    artifacts_toast_bytes: int
    edges_heap_bytes: int
    edges_index_bytes: int
    nodes: int
    edges: int
    bytes_per_node: float


class MemorySampler:
    """Samples VmRSS and VmHWM of a server (and its children) every `interval` seconds."""

    def __init__(self, server: Server, interval: float = 0.1, cap_mib: float | None = None) -> None:
        self.server = server
        self.interval = interval
        self.cap_kib = None if cap_mib is None else cap_mib * 1024
        self.capped = False  # the server passed the cap and was stopped
        self.samples: list[tuple[float, int]] = []
        self.hwm = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)

    def __enter__(self) -> MemorySampler:
        self.started = time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        # bounded: it stops with the phase, and never runs longer than 2 hours
        deadline = time.monotonic() + 7200
        while not self._stop.is_set() and time.monotonic() < deadline:
            rss, hwm = self.server.rss_kib()
            self.samples.append((time.perf_counter() - self.started, rss))
            self.hwm = max(self.hwm, hwm)
            if self.cap_kib is not None and rss > self.cap_kib and self.server.process:
                self.capped = True
                self.server.process.kill()  # our own child, past the memory the run allows it
                return
            self._stop.wait(self.interval)

    @property
    def peak_rss_mib(self) -> float:
        return max((rss for _, rss in self.samples), default=0) / 1024.0


def database_size(url: str) -> DatabaseSize:
    with psycopg.connect(load.libpq_url(url)) as conn:
        row = conn.execute(
            "SELECT pg_total_relation_size('artifacts'), pg_total_relation_size('edges'),"
            " pg_relation_size('artifacts'), pg_indexes_size('artifacts'),"
            " pg_relation_size('edges'), pg_indexes_size('edges'),"
            " (SELECT count(*) FROM artifacts), (SELECT count(*) FROM edges)"
        ).fetchone()
    assert row is not None
    total = row[0] + row[1]
    return DatabaseSize(
        artifacts_total_bytes=row[0],
        edges_total_bytes=row[1],
        artifacts_heap_bytes=row[2],
        artifacts_index_bytes=row[3],
        artifacts_toast_bytes=row[0] - row[2] - row[3],
        edges_heap_bytes=row[4],
        edges_index_bytes=row[5],
        nodes=row[6],
        edges=row[7],
        bytes_per_node=total / max(1, row[6]),
    )
