"""Benchmarks 2 and 4a: correcting the origin of the root with the most descendants, until
none reads stale, with the server's memory sampled throughout (and a small write sent 1 s in,
2b). The baseline is the from-scratch recomputation of :mod:`benchmarks.baseline`."""

from __future__ import annotations

import threading
import time
from datetime import datetime

import httpx
import psycopg
from pydantic import Field

from benchmarks import load
from benchmarks.generate import Graph, Node
from benchmarks.load import sql_one
from benchmarks.memory import MemorySampler
from benchmarks.scale import Scale
from benchmarks.servers import Server
from benchmarks.stalls import Probe, small_write
from benchmarks.stats import Result
from benchmarks.terminal import progress_bar, say


class JobBreakdown(Result):
    """Where the worker's time went, from the timestamps the service writes as it goes."""

    nodes_total: int | None = None
    nodes_done: int | None = None
    status: str | None = None
    queued_s: float | None = None
    run_s: float | None = None
    until_first_write_s: float | None = None
    compute_and_write_s: float | None = None
    rows_written: int | None = None
    training_runs_s: float | None = None
    training_run_verdicts: int | None = None
    commit_s: float | None = None


class Correction(Result):
    root: str
    polled_descendant: str
    server_rss_before_mib: float
    server_hwm_before_mib: float
    put_status: int
    put_s: float
    put_error: str | None = None
    completed: bool = False
    server_alive_at_end: bool | None = None
    stopped_at_memory_cap_mib: float | None = None
    poll_errors: list[str] = Field(default_factory=list)
    saw_stale: bool | None = None
    polls: int = 0
    stale_after: int | None = None
    wall_s: float | None = None
    deferred: bool | None = None
    job: JobBreakdown | None = None
    human_fraction_before: float | None = None
    human_fraction_after: float | None = None
    write_probe: Probe | None = None
    peak_rss_mib: float = 0.0
    server_hwm_after_mib: float | None = None
    server_rss_after_mib: float | None = None
    rss_timeline_mib: list[tuple[float, int]] = Field(default_factory=list)


def polled_descendant(graph: Graph, url: str) -> Node:
    """The deepest dataset below the giant root that holds some of its human mass (so that the
    correction visibly changes it); the deepest one at all if none does."""
    below = sorted(
        (n for n in graph.nodes if n.giant and n.kind == "dataset"),
        key=lambda n: n.depth,
        reverse=True,
    )[:2000]
    with psycopg.connect(load.libpq_url(url)) as conn:
        human = dict(
            conn.execute(
                "SELECT id, human_fraction FROM artifacts WHERE id = ANY(%s)",
                ([n.id for n in below],),
            ).fetchall()
        )
    return next((n for n in below if human.get(n.id, 0.0) > 0.01), below[0])


def job_breakdown(url: str, cause_prefix: str, since: datetime) -> JobBreakdown | None:
    """Where the worker's time went, from the timestamps the service writes as it goes:
    compositions carry composition_updated_at (clock_timestamp() at the bulk UPDATE) and
    verdict records judged_at (at their INSERT, one flush per training run)."""
    with psycopg.connect(load.libpq_url(url)) as conn:
        job = conn.execute(
            "SELECT id, nodes_total, nodes_done, status, created_at, started_at, finished_at"
            " FROM propagation_jobs WHERE created_at >= %s ORDER BY created_at DESC LIMIT 1",
            (since,),
        ).fetchone()
        if job is None:
            return None
        _, total, done, status, created, started, finished = job
        if started is None or finished is None:
            return JobBreakdown(nodes_total=total, nodes_done=done, status=status)
        writes = conn.execute(
            "SELECT min(composition_updated_at), max(composition_updated_at), count(*)"
            " FROM artifacts WHERE composition_updated_at BETWEEN %s AND %s",
            (started, finished),
        ).fetchone()
        verdicts = conn.execute(
            "SELECT min(judged_at), max(judged_at), count(*) FROM training_run_verdicts"
            " WHERE cause LIKE %s AND judged_at BETWEEN %s AND %s",
            (cause_prefix + "%", started, finished),
        ).fetchone()
    assert writes is not None and verdicts is not None

    def seconds(a: datetime | None, b: datetime | None) -> float | None:
        return None if a is None or b is None else (b - a).total_seconds()

    return JobBreakdown(
        nodes_total=total,
        nodes_done=done,
        status=status,
        queued_s=seconds(created, started),
        run_s=seconds(started, finished),
        # the engine writes chunks as it computes: the first chunk marks loading done
        until_first_write_s=seconds(started, writes[0]),
        compute_and_write_s=seconds(writes[0], writes[1]),
        rows_written=writes[2],
        training_runs_s=seconds(writes[1], verdicts[1] or writes[1]),
    )


def bench_correction(server: Server, graph: Graph, scale: Scale, url: str) -> Correction:
    root = graph.giant_root
    deep = polled_descendant(graph, url)
    deadline_s = scale.correction_deadline_s
    with server.client(timeout=deadline_s) as client:
        before = client.get(f"/api/v1/datasets/{deep.id}").json()["composition"]
        rss_before, hwm_before = server.rss_kib()
        probe: list[Probe] = []

        def write_probe() -> None:
            """One small write while the correction runs: how long is it held up?"""
            time.sleep(1.0)
            probe.append(small_write(server, deadline_s))

        say(f"correcting the origin of the giant root ({graph.giant_descendants:,} descendants)")
        put_at = sql_one(url, "SELECT clock_timestamp()")
        with MemorySampler(server, cap_mib=scale.memory_cap_mib) as memory:
            started = time.perf_counter()
            response = client.put(
                f"/api/v1/datasets/{root}/origin",
                json={"human": 0.9, "unknown": 0.1, "reason": "benchmark: 10% turned out unknown"},
            )
            result = Correction(
                root=str(root),
                polled_descendant=str(deep.id),
                server_rss_before_mib=rss_before / 1024,
                server_hwm_before_mib=hwm_before / 1024,
                put_status=response.status_code,
                put_s=time.perf_counter() - started,
            )
            if response.status_code != 200:
                result.put_error = response.text[:1000]
                result.peak_rss_mib = memory.peak_rss_mib
                return result
            prober = threading.Thread(target=write_probe, name="write-probe", daemon=True)
            prober.start()
            saw_stale = False
            polls = 0
            poll_errors: list[str] = []
            done = False
            with progress_bar() as bar:
                task = bar.add_task("waiting for stale: false (polls)", total=None)
                while time.perf_counter() - started < deadline_s:
                    polls += 1
                    bar.advance(task)
                    try:
                        reply = client.get(f"/api/v1/datasets/{deep.id}")
                        composition = reply.json()["composition"]
                    except (httpx.HTTPError, ValueError, KeyError) as exc:
                        poll_errors.append(f"{time.perf_counter() - started:.1f}s: {exc!r}")
                        if server.process is None or server.process.poll() is not None:
                            break  # the server is gone: nothing will finish
                        time.sleep(1.0)
                        continue
                    if composition["stale"]:
                        saw_stale = True
                    else:
                        done = True
                        break
                    time.sleep(0.25)
            stale_left = sql_one(url, "SELECT count(*) FROM artifacts WHERE composition_stale")
            wall = time.perf_counter() - started
            prober.join(timeout=max(5.0, deadline_s - wall))
        alive = server.process is not None and server.process.poll() is None
        after = (
            client.get(f"/api/v1/datasets/{deep.id}").json()["composition"]
            if alive
            else {"human_fraction": None}
        )
    job = job_breakdown(url, "origin of", put_at)
    rss_after, hwm_after = server.rss_kib()
    return result.model_copy(
        update={
            "completed": done and stale_left == 0,
            "server_alive_at_end": alive,
            "stopped_at_memory_cap_mib": scale.memory_cap_mib if memory.capped else None,
            "poll_errors": poll_errors[:20],
            "saw_stale": saw_stale,
            "polls": polls,
            "stale_after": stale_left,
            "wall_s": wall,
            "deferred": job is not None,
            "job": job,
            "human_fraction_before": before["human_fraction"],
            "human_fraction_after": after["human_fraction"],
            "write_probe": probe[0] if probe else Probe(),
            "peak_rss_mib": memory.peak_rss_mib,
            "server_hwm_after_mib": hwm_after / 1024,
            "server_rss_after_mib": rss_after / 1024,
            "rss_timeline_mib": [
                (round(t, 1), round(rss / 1024))
                for t, rss in memory.samples[:: max(1, len(memory.samples) // 60)]
            ],
        }
    )
