"""Benchmark 2's correction on several versions of the service, in alternating turns.

    python -m benchmarks.ab_correction --database NAME [--rounds N] LABEL=WORKTREE …

On a database that ``benchmarks.run`` set up, each turn migrates it to the worktree's newest
revision (this worktree's Alembic goes down, the service's own start goes up), rewrites
``artifacts`` (``VACUUM FULL``, so that every turn starts from pages laid out at its version's
fillfactor), starts that worktree's service with one worker and corrects the origin of the
root with the most descendants ``--corrections`` times in a row, each time to the other of two
origins, until its job is done and nothing reads stale. Per correction it prints the time from
the PUT until then, the WAL written for this database (read back with ``pg_walinspect``, which
it installs), how many of the updates of ``artifacts`` were HOT, and the server's peak RSS;
then the medians of each version.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

import psycopg
from sqlalchemy import create_engine

from app import migrate
from app.db import normalize_url
from benchmarks import ab, load
from benchmarks.memory import MemorySampler
from benchmarks.servers import Server
from benchmarks.stats import percentile

# the two origins a correction alternates between (benchmark 2 declares the first)
ORIGINS = ({"human": 0.9, "unknown": 0.1}, {"human": 0.8, "unknown": 0.2})
# the giant root: the benchmark graph's root with the most descendants, recorded under this name
ROOT_NAME = "common-crawl/en-2019"


def arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = ab.parser(__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--corrections", type=int, default=2, help="per turn, in a row")
    parser.add_argument("--deadline-s", type=float, default=900.0)
    return parser.parse_args(argv)


def head_of(tree: str) -> str:
    """The newest migration of the worktree ``tree``."""
    return subprocess.run(
        [sys.executable, "-c", "from app import migrate; print(migrate.head_revision())"],
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def counters(conn: psycopg.Connection) -> tuple[int, int]:
    """(updates, HOT updates) of ``artifacts`` so far."""
    conn.execute("SELECT pg_stat_clear_snapshot()")
    row = conn.execute(
        "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'artifacts'"
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


class WalReader:
    """The WAL written for this database's relations from now until :meth:`stop`, read back
    with ``pg_walinspect`` every ``interval`` seconds (the server's WAL also holds whatever
    other databases write meanwhile, and a segment read too late may have been recycled)."""

    def __init__(self, url: str, interval: float = 1.0) -> None:
        self.conn = psycopg.connect(load.libpq_url(url), autocommit=True)
        self.interval = interval
        self.bytes = 0
        self.error: Exception | None = None
        self._at = self._flushed()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wal-reader", daemon=True)
        self._thread.start()

    def _flushed(self) -> str:
        row = self.conn.execute("SELECT pg_current_wal_flush_lsn()::text").fetchone()
        assert row is not None
        return str(row[0])

    def _read(self) -> None:
        end = self._flushed()
        row = self.conn.execute(
            "SELECT coalesce(sum(record_length), 0) FROM pg_get_wal_records_info(%s, %s)"
            " WHERE block_ref LIKE '%%/' || (SELECT oid FROM pg_database"
            " WHERE datname = current_database()) || '/%%'",
            (self._at, end),
        ).fetchone()
        assert row is not None
        self.bytes += int(row[0])
        self._at = end

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self._read()
            except psycopg.Error as exc:
                self.error = exc
                return

    def stop(self) -> float:
        """The MiB read; NaN when a segment was gone before it was read."""
        self._stop.set()
        self._thread.join()
        if self.error is None:
            self._read()
        self.conn.close()
        return float("nan") if self.error is not None else self.bytes / 2**20


def correct(server: Server, url: str, deadline_s: float) -> dict[str, float]:
    """One correction of the giant root's origin, until its job is done and nothing is stale."""
    with psycopg.connect(load.libpq_url(url), autocommit=True) as conn:
        root = conn.execute(
            "SELECT id, origin_human FROM artifacts WHERE name = %s ORDER BY created_at LIMIT 1",
            (ROOT_NAME,),
        ).fetchone()
        assert root is not None
        # the origin it does not have (the same again would change nothing)
        origin = next(o for o in ORIGINS if o["human"] != root[1])
        put_at = conn.execute("SELECT clock_timestamp()").fetchone()
        assert put_at is not None
        updates, hot = counters(conn)
        wal = WalReader(url)
        with MemorySampler(server) as memory, server.client(timeout=deadline_s) as client:
            started = time.perf_counter()
            response = client.put(
                f"/api/v1/datasets/{root[0]}/origin",
                json={**origin, "reason": "benchmark: an origin corrected"},
            )
            response.raise_for_status()
            while time.perf_counter() - started < deadline_s:
                pending = conn.execute(
                    "SELECT count(*) FROM propagation_jobs"
                    " WHERE created_at >= %s AND status <> 'done'",
                    (put_at[0],),
                ).fetchone()
                assert pending is not None
                if (
                    pending[0] == 0
                    and not conn.execute(
                        "SELECT 1 FROM artifacts WHERE composition_stale LIMIT 1"
                    ).fetchone()
                ):
                    break
                time.sleep(0.2)
            wall = time.perf_counter() - started
        time.sleep(1.5)  # table statistics reach pg_stat_user_tables within a second
        written = wal.stop()
        updates_after, hot_after = counters(conn)
    return {
        "wall_s": wall,
        "wal_mib": written,
        "updates": updates_after - updates,
        "hot": (hot_after - hot) / max(1, updates_after - updates),
        "peak_rss_mib": memory.peak_rss_mib,
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = arguments(argv)
    url = ab.database_url(args)
    trees = ab.worktrees(args)
    heads = {label: head_of(tree) for label, tree in trees.items()}
    with psycopg.connect(load.libpq_url(url), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_walinspect")
    results: dict[str, list[dict[str, float]]] = {label: [] for label in trees}
    for round_ in range(args.rounds):
        for label in ab.alternating(list(trees), round_):
            at_revision(url, heads[label])
            server = ab.start("app", trees[label], url, f"ab-correction-{label}")
            try:
                with psycopg.connect(load.libpq_url(url), autocommit=True) as conn:
                    conn.execute("VACUUM FULL ANALYZE artifacts")
                for _ in range(args.corrections):
                    with psycopg.connect(load.libpq_url(url), autocommit=True) as conn:
                        conn.execute("VACUUM artifacts")
                    measured = correct(server, url, args.deadline_s)
                    results[label].append(measured)
                    print(
                        f"round {round_} {label}: "
                        + ", ".join(f"{k} {v:.3g}" for k, v in measured.items()),
                        flush=True,
                    )
            finally:
                server.stop()
    for label, rows in results.items():
        for position in range(args.corrections):
            own = rows[position :: args.corrections]
            print(
                f"{label}, correction {position + 1} of each turn (median of {len(own)}): "
                + ", ".join(f"{k} {percentile([r[k] for r in own], 50):.3g}" for k in own[0])
            )
    return 0


def at_revision(url: str, revision: str) -> None:
    """Migrate the database to ``revision``, up or down (this worktree's migrations are taken to
    be the newest)."""
    engine = create_engine(normalize_url(url))
    try:
        current = migrate.current_revision(engine)
    finally:
        engine.dispose()
    if current == revision:
        return
    if revision == migrate.head_revision():
        migrate.upgrade(url, revision)
    else:
        migrate.downgrade(url, revision)


if __name__ == "__main__":
    raise SystemExit(main())
