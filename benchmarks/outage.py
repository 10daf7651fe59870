"""A database restart under load: how fast refusals come, how soon writes succeed again, and
whether any acknowledged write was lost.

    .venv/bin/python -m benchmarks.outage [--writers 8] [--down-seconds 5]

Starts a PostgreSQL cluster of its own (initdb from /usr/lib/postgresql/*/bin, a free port,
a temporary directory; never the machine's server) and the service on it, runs writers that
post datasets as fast as answers come, stops the cluster for ``--down-seconds``, starts it
again, and prints: answers by status, latency of the 201s before the outage (the baseline)
and of the 503s during it, as milliseconds and as a ratio to the baseline median, the time
from the database's return to the first 201, and how many acknowledged writes are missing.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from sqlalchemy import create_engine, text

from app import migrate
from app.db import normalize_url
from benchmarks.servers import Server
from tests.scratch_postgres import ScratchPostgres


@dataclass
class Answer:
    at: float  # time.monotonic() when the request was sent
    seconds: float
    name: str
    response: httpx.Response

    @property
    def status(self) -> int:
        return self.response.status_code


Post = Callable[[httpx.Client, str], httpx.Response]
"""A write of a version named ``name`` in the namespace ``outage``: its answer."""


def post_dataset(client: httpx.Client, name: str) -> httpx.Response:
    return client.post(
        "/api/v1/datasets", json={"namespace": "outage", "name": name, "version": "1", "size": 1}
    )


class Writers:
    """Threads posting datasets (or what ``post`` writes) as fast as answers come, until
    stopped, recording every answer (when it was sent, how long it took) and every transport
    error; a hanging request hits ``timeout`` and counts as a transport error."""

    def __init__(
        self, url: str, count: int = 8, timeout: float = 30.0, post: Post | None = None
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.post = post or post_dataset
        self.answers: list[Answer] = []
        self.transport_errors: list[str] = []
        self.lock = threading.Lock()
        self.halt = threading.Event()
        self.threads = [threading.Thread(target=self.write, args=(w,)) for w in range(count)]

    def write(self, writer: int) -> None:
        with httpx.Client(base_url=self.url, timeout=self.timeout) as client:
            i = 0
            while not self.halt.is_set():
                name = f"w{writer}-{i}"
                i += 1
                started = time.monotonic()
                try:
                    response = self.post(client, name)
                except httpx.TransportError as exc:
                    with self.lock:
                        self.transport_errors.append(repr(exc))
                    continue
                with self.lock:
                    self.answers.append(Answer(started, time.monotonic() - started, name, response))

    @property
    def acknowledged(self) -> list[str]:
        with self.lock:
            return [a.name for a in self.answers if a.status == 201]

    def count(self, status: int) -> int:
        with self.lock:
            return sum(1 for a in self.answers if a.status == status)

    def wait_for(self, status: int, at_least: int, timeout: float = 120) -> None:
        start = self.count(status)
        deadline = time.monotonic() + timeout
        while self.count(status) < start + at_least:
            assert time.monotonic() < deadline, f"no {at_least} more {status} answers"
            time.sleep(0.05)

    def __enter__(self) -> Writers:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.halt.set()
        for thread in self.threads:
            thread.join(timeout=60)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--down-seconds", type=float, default=5.0)
    parser.add_argument("--warm-seconds", type=float, default=5.0)
    args = parser.parse_args()

    cluster = ScratchPostgres().start()
    try:
        migrate.upgrade(cluster.url)
        server = Server("app", cluster.url, "outage", {"HEADWATER_LOG_LEVEL": "error"}).start()
        with Writers(server.url, args.writers, timeout=60) as writers:
            time.sleep(args.warm_seconds)
            stopping = time.monotonic()
            cluster.stop()
            time.sleep(args.down_seconds)
            cluster.start()
            back = time.monotonic()
            time.sleep(args.warm_seconds)
        server.stop()

        engine = create_engine(normalize_url(cluster.url))
        with engine.connect() as conn:
            stored = set(
                conn.scalars(text("SELECT name FROM artifacts WHERE namespace = 'outage'")).all()
            )
        engine.dispose()
    finally:
        cluster.destroy()

    baseline = [a.seconds for a in writers.answers if a.status == 201 and a.at < stopping]
    refused = [a.seconds for a in writers.answers if a.status == 503]
    recovered = [a.at + a.seconds for a in writers.answers if a.status == 201 and a.at >= back]
    acknowledged = set(writers.acknowledged)
    by_status: dict[int, int] = {}
    for answer in writers.answers:
        by_status[answer.status] = by_status.get(answer.status, 0) + 1
    median = statistics.median(baseline)
    print(f"writers {args.writers}, database down {args.down_seconds:g} s")
    print(
        f"answers by status: {dict(sorted(by_status.items()))}; transport errors: "
        f"{len(writers.transport_errors)}"
    )
    for label, values in (("201 before the outage", baseline), ("503 during it", refused)):
        p50, p99, top = (percentile(values, 0.5), percentile(values, 0.99), max(values))
        print(
            f"{label:>22}: n={len(values)} p50 {p50 * 1000:.1f} ms ({p50 / median:.2f}x),"
            f" p99 {p99 * 1000:.1f} ms ({p99 / median:.2f}x), max {top * 1000:.1f} ms"
        )
    first = min(recovered) - back if recovered else float("nan")
    print(f"first 201 after the database returned: {first:.2f} s")
    print(f"acknowledged writes missing afterwards: {len(acknowledged - stored)}")


if __name__ == "__main__":
    main()
