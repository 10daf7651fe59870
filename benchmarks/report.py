"""What a run records and prints: the machine, every phase's typed result, and the table."""

from __future__ import annotations

import contextlib
import math
import os
import platform
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field
from rich.table import Table

from benchmarks.baseline import Baseline
from benchmarks.correction import Correction, JobBreakdown
from benchmarks.gate import Gate
from benchmarks.ingestion import Ingestion
from benchmarks.memory import DatabaseSize
from benchmarks.reads import Reads
from benchmarks.servers import ROOT, source_digest
from benchmarks.stalls import WideWrites
from benchmarks.stats import Result, ratio
from benchmarks.writes import Writes


class Run(Result):
    """Everything a run records in ``results/latest.json``, phase by phase as they finish."""

    date: str
    mode: str
    scale: dict[str, Any]
    workers: int
    machine: dict[str, Any]
    servers: list[dict[str, Any]]
    graph: dict[str, Any] | None = None
    setup: dict[str, float] | None = None
    database_size: DatabaseSize | None = None
    reads: Reads | None = None
    gate: Gate | None = None
    writes: Writes | None = None
    wide_writes: WideWrites | None = None
    openlineage: Ingestion | None = None
    correction: Correction | None = None
    networkx: Baseline | None = None
    networkx_pruned: Baseline | None = None
    database_size_after: DatabaseSize | None = None
    code_at_end: dict[str, Any] | None = None
    total_s: float | None = None
    summary: list[dict[str, str]] | None = None
    errors: dict[str, str] = Field(default_factory=dict)
    phase_seconds: dict[str, float] = Field(default_factory=dict)

    def dump(self) -> dict[str, Any]:
        recorded = self.model_dump(by_alias=True)
        return {k: v for k, v in recorded.items() if v is not None and v != {}}


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = status_mem_total()
    commit, dirty = "unknown", None
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = len(
            subprocess.run(
                ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True
            ).stdout.splitlines()
        )
    return {
        "source_digest": source_digest(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": memory,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "git_commit": commit,
        "git_dirty_files": dirty,
    }


def status_mem_total() -> float:
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    return math.nan


@dataclass
class Row:
    benchmark: str
    measured: str
    baseline: str
    ratio: str
    target: str
    verdict: str


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)

    def add(self, *cells: str) -> None:
        self.rows.append(Row(*cells))

    def table(self) -> Table:
        table = Table(title="Headwater benchmarks", show_lines=True)
        for column in ("benchmark", "measured", "baseline (same run)", "ratio", "target", ""):
            table.add_column(column)
        for row in self.rows:
            table.add_row(
                row.benchmark, row.measured, row.baseline, row.ratio, row.target, row.verdict
            )
        return table


def met(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "MISSED")


def summarize(results: Run) -> Report:
    report = Report()
    reads = results.reads
    if reads:
        r, h = reads.reads, reads.healthz
        ok = reads.ratio_p50 <= 2 and reads.ratio_p99 <= 2
        report.add(
            "1. composition read\n" + reads.endpoint,
            f"p50 {r.p50_ms:.2f} ms\np99 {r.p99_ms:.2f} ms",
            f"/healthz p50 {h.p50_ms:.2f} ms\np99 {h.p99_ms:.2f} ms",
            f"{reads.ratio_p50:.2f}x / {reads.ratio_p99:.2f}x",
            "<= 2x",
            met(ok),
        )
        p = reads.point_lookup
        assert p is not None
        report.add(
            "1b. point lookup\nGET /api/v1/datasets/{id}",
            f"p50 {p.reads.p50_ms:.2f} ms\np99 {p.reads.p99_ms:.2f} ms",
            f"/healthz p50 {p.healthz.p50_ms:.2f} ms\np99 {p.healthz.p99_ms:.2f} ms",
            f"{p.ratio_p50:.2f}x / {p.ratio_p99:.2f}x",
            "(info)",
            met(p.ratio_p50 <= 2 and p.ratio_p99 <= 2),
        )
    correction = results.correction
    nx_result = results.networkx
    if correction:
        if correction.completed and nx_result:
            value = correction.wall_s or 0.0
            base = nx_result.recompute_s + nx_result.toposort_s
            job = correction.job or JobBreakdown()
            descendants = job.nodes_total or 0
            split = ""
            if job.compute_and_write_s is not None:
                compose_s = (job.until_first_write_s or 0) + job.compute_and_write_s
                split = (
                    f"\njob: compose+write {compose_s:.0f} s,"
                    f"\ntraining runs {job.training_runs_s or 0:.0f} s"
                )
            report.add(
                f"2. origin correction\n{descendants:,} descendants",
                f"{value:.1f} s until none stale\n(PUT {correction.put_s:.1f} s){split}",
                f"networkx + compose,\nwhole graph: {base:.1f} s",
                f"{ratio(value, base):.2f}x",
                "<= 3x",
                met(ratio(value, base) <= 3),
            )
        else:
            report.add(
                "2. origin correction",
                f"did not complete (PUT {correction.put_status},"
                f" {correction.wall_s or correction.put_s:.0f} s)"
                + (
                    f"\nserver stopped past {correction.stopped_at_memory_cap_mib:,.0f} MiB"
                    if correction.stopped_at_memory_cap_mib
                    else ""
                ),
                "",
                "",
                "<= 3x",
                "MISSED",
            )
        probe = correction.write_probe
        if probe is not None and probe.latency_s is not None:
            report.add(
                "2b. a write during\nthe correction",
                f"POST /datasets waited\n{probe.latency_s:.1f} s",
                "",
                "",
                "(info)",
                "",
            )
    wide = results.wide_writes
    if wide:
        for step, what in ((wide.training_set, "members training set"), (wide.event_100x100, "")):
            label = f"{wide.members:,}-{what}" if what else "100 x 100 OpenLineage event"
            report.add(
                f"2c. a write during a\n{label}",
                f"POST /datasets waited\n{step.probe.latency_s or 0:.2f} s",
                f"the wide request: {step.wide.latency_s or 0:.1f} s ({step.wide.status})",
                "",
                "<= 1 s",
                met(step.probe.latency_s is not None and step.probe.latency_s <= 1.0),
            )
    if correction:
        report.add(
            "4a. server peak RSS\nduring the correction",
            f"{correction.peak_rss_mib:.0f} MiB sampled\n"
            f"(VmHWM {correction.server_hwm_after_mib or 0:.0f} MiB)",
            f"before: {correction.server_rss_before_mib:.0f} MiB",
            "",
            "< 500 MB",
            met(correction.peak_rss_mib * 1.048576 < 500),
        )
    size = results.database_size
    if size:
        report.add(
            "4b. database bytes per node",
            f"{size.bytes_per_node:,.0f} B/node",
            f"{size.nodes:,} nodes, {size.edges:,} edges",
            "",
            "(info)",
            "",
        )
    writes = results.writes
    if writes:
        report.add(
            f"3. lineage writes\nPOST /datasets, {writes.clients} clients",
            f"{writes.http_items_per_s:,.0f} nodes+edges/s\n"
            f"({writes.http_requests_per_s:.0f} req/s)",
            f"COPY: {writes.copy_items_per_s:,.0f}/s",
            f"{writes.ratio_http_to_copy:.4f}x",
            ">= 0.01x",
            met(writes.ratio_http_to_copy >= 0.01),
        )
        report.add(
            f"3b. bulk path\nPOST /batch (500 datasets), {writes.clients} clients",
            f"{writes.batch_items_per_s:,.0f} nodes+edges/s",
            f"COPY: {writes.copy_items_per_s:,.0f}/s",
            f"{writes.ratio_batch_to_copy:.4f}x",
            ">= 0.05x",
            met(writes.ratio_batch_to_copy >= 0.05),
        )
    ol = results.openlineage
    if ol:
        report.add(
            f"5. OpenLineage ingestion\n{ol.clients} clients",
            f"{ol.events_per_s:,.1f} events/s",
            f"discard route: {ol.discard_events_per_s:,.0f}/s",
            f"{ol.ratio_to_ceiling:.3f}x",
            ">= 0.5x",
            met(ol.ratio_to_ceiling >= 0.5),
        )
        report.add(
            f"5b. OpenLineage batches\n{ol.batch_size} events a request",
            f"{ol.batch_events_per_s:,.1f} events/s",
            f"discard route: {ol.discard_events_per_s:,.0f}/s",
            f"{ol.batch_ratio_to_ceiling:.3f}x",
            "(info)",
            "",
        )
    gate = results.gate
    if gate:
        g, h = gate.gate, gate.healthz
        report.add(
            f"6. gate, {gate.training_set_size:,} datasets",
            f"p50 {g.p50_ms:.0f} ms\np99 {g.p99_ms:.0f} ms",
            f"/healthz p50 {h.p50_ms:.2f} ms",
            f"{gate.ratio_p50:.0f}x / {gate.ratio_p99:.0f}x",
            "p50 < 100 ms",
            met(g.p50_ms < 100),
        )
    return report
