"""What keeping original sources within reach costs.

    python -m benchmarks.sources [--runs N] [--files N] [--megabytes M] [--server URL]
                                 [--database NAME]

1. Re-judging: N training runs, each trained on one shared human source and a dataset of its
   own, re-judged by correcting the source's origin; timed before any source was checked
   (baseline: the sources_preserved rule has nothing to read) and after (it walks each
   training set's human mass to its sources). Best of three each.
2. ``headwater sources verify`` over files of random bytes on local disk, against
   ``sha256sum`` of the same files (baseline), with its peak RSS.

Drops and recreates its own database (default ``headwater_bench_sources``) on a loopback
PostgreSQL, and serves the app in-process and as ``headwater serve`` on a free port.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app import migrate
from app.main import create_app
from benchmarks.servers import Server

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
ROOT = Path(__file__).resolve().parent.parent


def fresh_database(server: str, name: str) -> str:
    admin = create_engine(make_url(server).set(drivername="postgresql+psycopg"))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = make_url(server).set(drivername="postgresql+psycopg", database=name)
    return url.render_as_string(hide_password=False)


def post(client: TestClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(path, json=body)
    if response.status_code not in (200, 201):
        raise RuntimeError(response.text)
    result: dict[str, Any] = response.json()
    return result


def rejudging(url: str, runs: int) -> tuple[float, float]:
    """Seconds to re-judge ``runs`` training runs after a correction: before any source is
    checked, and after."""
    with TestClient(create_app(url, run_worker=False)) as client:
        source = post(
            client,
            "/api/v1/datasets",
            {
                "namespace": "bench",
                "name": "source",
                "version": "1",
                "size": 1e6,
                "origin": {"human": 1.0},
                "uri": "file:///corpus",
                "checksum": "sha256:" + "0" * 64,
            },
        )
        previous = None
        for i in range(runs):
            parents: list[dict[str, Any]] = [
                {"id": source["id"], "relation": "derived_from", "amount": 1000}
            ]
            if previous is not None:
                parents.append({"id": previous, "relation": "generated_by"})
            own = post(
                client,
                "/api/v1/datasets",
                {
                    "namespace": "bench",
                    "name": f"mix-{i}",
                    "version": "1",
                    "size": 2000,
                    "origin": {"human": 0.5, "synthetic": 0.5},
                    "parents": parents,
                },
            )
            model = post(
                client,
                "/api/v1/models",
                {
                    "namespace": "bench",
                    "name": "lm",
                    "version": str(i),
                    "training_set": [{"id": source["id"]}, {"id": own["id"]}],
                },
            )
            previous = model["id"]

        def best_correction() -> float:
            times = []
            for human in (0.9, 1.0, 0.9, 1.0):
                start = time.perf_counter()
                response = client.put(
                    f"/api/v1/datasets/{source['id']}/origin",
                    json={"human": human, "synthetic": 1.0 - human},
                )
                if response.status_code != 200:
                    raise RuntimeError(response.text)
                times.append(time.perf_counter() - start)
            return min(times[1:])

        before = best_correction()
        post(
            client,
            "/api/v1/sources/checks",
            {"checks": [{"id": source["id"], "status": "verified"}]},
        )
        return before, best_correction()


def high_water_mark(pid: int) -> float:
    """A process's peak resident set size so far, in MiB (0 once it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def verifying(url: str, files: int, megabytes: int) -> tuple[float, float, float]:
    """Seconds for ``sha256sum`` and for ``headwater sources verify`` over the same files, and
    the command's peak RSS in MiB."""
    folder = Path(tempfile.mkdtemp(prefix="headwater-bench-sources-"))
    try:
        paths = []
        for i in range(files):
            path = folder / f"corpus-{i}.bin"
            path.write_bytes(os.urandom(megabytes << 20))
            paths.append(path)
        server = Server("app", url, "sources-verify", {}).start()
        try:
            with server.client() as client:
                for path in paths:
                    client.post(
                        "/api/v1/datasets",
                        json={
                            "namespace": "bench-files",
                            "name": path.name,
                            "version": "1",
                            "size": 1000,
                            "origin": {"human": 1.0},
                            "uri": path.as_uri(),
                            "checksum": "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest(),
                        },
                    ).raise_for_status()
            start = time.perf_counter()
            subprocess.run(["sha256sum", *map(str, paths)], check=True, capture_output=True)
            baseline = time.perf_counter() - start
            start = time.perf_counter()
            with (folder / "verify.out").open("wb") as out:
                command = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "app",
                        "sources",
                        "verify",
                        "--url",
                        server.url,
                        "--namespace",
                        "bench-files",
                        "--json",
                    ],
                    cwd=ROOT,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
                # VmHWM: the peak RSS since exec (rusage would count the forked parent's too)
                peak = 0.0
                while command.poll() is None:
                    peak = max(peak, high_water_mark(command.pid))
                    time.sleep(0.02)
            measured = time.perf_counter() - start
            if command.returncode != 0:
                raise RuntimeError((folder / "verify.out").read_text(errors="replace"))
        finally:
            server.stop()
        return baseline, measured, peak
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--megabytes", type=int, default=64)
    parser.add_argument(
        "--server", default=os.environ.get("HEADWATER_BENCH_SERVER", DEFAULT_SERVER)
    )
    parser.add_argument("--database", default="headwater_bench_sources")
    args = parser.parse_args(argv)
    url = fresh_database(args.server, args.database)
    migrate.upgrade(url)
    before, after = rejudging(url, args.runs)
    print(
        f"re-judging {args.runs} runs after a correction: {after:.2f} s with a checked source, "
        f"{before:.2f} s before any was checked: {after / before:.2f}x"
    )
    url = fresh_database(args.server, args.database)
    migrate.upgrade(url)
    baseline, measured, peak = verifying(url, args.files, args.megabytes)
    size = args.files * args.megabytes
    print(
        f"verify {args.files} files, {size} MiB: {measured:.2f} s ({size / measured:.0f} MiB/s), "
        f"peak RSS {peak:.0f} MiB; sha256sum: {baseline:.2f} s: {measured / baseline:.2f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
