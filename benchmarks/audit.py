"""What the audit log and token checks cost OpenLineage ingestion, measured in one run.

Three servers on one database, each ``python -m benchmarks.server`` on loopback: the service
as shipped (``audit``), the same with ``app.audit.service.record`` a no-op (``no-audit``),
and the service with ``HEADWATER_AUTH=required`` and a write token on every request
(``audit+token``). Passes alternate between them (fresh runs every pass: a redelivered event
changes nothing) and each reports the median events/s of its passes.

    .venv/bin/python -m benchmarks.audit [--nodes 5000] [--runs 200] [--passes 3] [--clients 8]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from app.auth import service as auth_service
from app.auth.schemas import TokenCreate
from benchmarks import load
from benchmarks.clients import run_clients
from benchmarks.generate import generate
from benchmarks.ingestion import ol_runs
from benchmarks.run import DEFAULT_SERVER
from benchmarks.servers import RESULTS, Server
from benchmarks.terminal import say

DATABASE = "headwater_bench_audit"


class TokenServer(Server):
    def __init__(self, *args: Any, token: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.token = token

    def client(self, timeout: float = 120.0) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, timeout=timeout, headers={"Authorization": f"Bearer {self.token}"}
        )


def issue_token(url: str) -> str:
    engine = create_engine(url)
    with Session(engine) as session, session.begin():
        body = TokenCreate(name="bench-writer", scopes=["write"], namespaces=["*bench-ol*"])
        _, secret = auth_service.create(session, body, actor="bench")
    engine.dispose()
    return secret


def audit_counts(url: str) -> tuple[int, int]:
    engine = create_engine(url)
    with engine.connect() as conn:
        total = conn.execute(text("SELECT count(*) FROM audit_entries")).scalar_one()
        unsealed = conn.execute(
            text("SELECT count(*) FROM audit_entries WHERE sequence IS NULL")
        ).scalar_one()
    engine.dispose()
    return int(total), int(unsealed)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=200, help="runs per pass (2 events each)")
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seed", type=int, default=20261126)
    parser.add_argument("--server", default=DEFAULT_SERVER)
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    graph = generate(args.nodes, seed=args.seed)
    say(f"{len(graph.nodes):,} nodes; fresh database {DATABASE}")
    url = load.fresh_database(args.server, DATABASE)
    load.bulk_load(url, graph)
    load.compute_compositions(url, graph.roots())
    load.vacuum_analyze(url)
    token = issue_token(url)

    servers: dict[str, Server] = {
        "audit": Server("benchmarks.server", url, "bench-audit", {}),
        "no-audit": Server(
            "benchmarks.server", url, "bench-no-audit", {"HEADWATER_BENCH_AUDIT": "off"}
        ),
        "audit+token": TokenServer(
            "benchmarks.server",
            url,
            "bench-audit-token",
            {"HEADWATER_AUTH": "required"},
            token=token,
        ),
    }
    rates: dict[str, list[float]] = {label: [] for label in servers}
    failures: dict[str, dict[int, int]] = {label: {} for label in servers}
    try:
        for server in servers.values():
            server.start()
        for number in range(args.passes):
            for label, server in servers.items():
                runs = ol_runs(graph, args.runs, rng)
                work: list[list[tuple[str, dict[str, Any]]]] = [[] for _ in range(args.clients)]
                for i, run in enumerate(runs):
                    work[i % args.clients].extend(("/api/v1/lineage", event) for event in run)
                events = sum(len(run) for run in runs)
                elapsed, statuses, errors = run_clients(
                    args.clients, work, server, f"{label}, pass {number + 1}", 1200
                )
                for code, n in statuses.items():
                    if code >= 300:
                        failures[label][code] = failures[label].get(code, 0) + n
                rates[label].append(events / elapsed)
                if errors:
                    say(f"{label}: {errors[:3]}")
        started = time.monotonic()
        while audit_counts(url)[1] and time.monotonic() - started < 60:
            time.sleep(0.1)
        seal_wait = time.monotonic() - started
    finally:
        for server in servers.values():
            server.stop()
    total, unsealed = audit_counts(url)
    medians = {label: statistics.median(r) for label, r in rates.items()}
    say(f"date {datetime.now(UTC).isoformat(timespec='seconds')}; logs in {RESULTS}")
    for label, r in rates.items():
        say(
            f"{label:12} median {medians[label]:7.1f} events/s"
            f"  passes {', '.join(f'{x:.1f}' for x in r)}  non-2xx {failures[label] or 'none'}"
        )
    say(f"audit / no-audit: {medians['audit'] / medians['no-audit']:.3f}")
    say(f"audit+token / no-audit: {medians['audit+token'] / medians['no-audit']:.3f}")
    say(
        f"audit entries {total:,} (unsealed {unsealed});"
        f" all sealed {seal_wait:.2f} s after the last pass"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
