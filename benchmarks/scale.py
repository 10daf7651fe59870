"""How much each benchmark does: the full run, and ``--quick``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    nodes: int
    reads: int  # composition reads (and as many /healthz), interleaved
    point_reads: int  # plain GET /datasets/{id} (no contributors), interleaved likewise
    gates: int  # gate requests of `gate_size` datasets (and as many /healthz)
    gate_size: int
    model_gates: int  # gate requests that also name a model (self-consuming checks)
    writes: int  # POST /datasets, split over `writers` clients
    writers: int
    ol_runs: int  # OpenLineage runs (START + COMPLETE each), over `ol_clients` clients
    ol_clients: int
    correction_deadline_s: float
    inline_limit: int | None  # HEADWATER_PROPAGATION_INLINE_LIMIT for the server (None: default)
    memory_cap_mib: float | None = None  # the correction's server is stopped past this RSS


FULL = Scale(
    nodes=100_000,
    reads=2000,
    point_reads=1000,
    gates=100,
    gate_size=1000,
    model_gates=10,
    writes=800,
    writers=4,
    ol_runs=800,
    ol_clients=16,
    correction_deadline_s=2400.0,
    inline_limit=None,
)


QUICK = Scale(
    nodes=10_000,
    reads=400,
    point_reads=200,
    gates=30,
    gate_size=1000,
    model_gates=5,
    writes=200,
    writers=4,
    ol_runs=160,
    ol_clients=16,
    correction_deadline_s=900.0,
    inline_limit=2000,
)
