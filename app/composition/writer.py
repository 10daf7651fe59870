"""Recomputed compositions written back to ``artifacts`` in batches, one batch in flight while
the caller composes the next."""

from __future__ import annotations

import itertools
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

# Rows one write sends at most.
WRITE_CHUNK = 5_000
# The stored forms (JSON and packed) of the rows one write sends at most, in bytes.
WRITE_BYTES = 1_000_000


@dataclass(frozen=True, slots=True)
class CompositionRow:
    """One recomputed composition in its stored form."""

    id: uuid.UUID
    composition: str  # JSON text
    composition_packed: bytes
    total_amount: float | None
    weights_assumed: bool
    human_fraction: float
    synthetic_fraction: float
    unknown_fraction: float
    stale: bool


class CompositionWriter:
    """Writes recomputed compositions back in batches as they are computed, so memory holds one
    batch; PostgreSQL compares each row with what is stored and writes (and reports) only the
    rows that changed.

    A batch is sent from a thread of its own while the caller computes the next: PostgreSQL
    writes one batch (on another core) while Python composes the next, instead of each waiting
    for the other. One batch at most is in flight, and nothing else may use the session until
    :meth:`close` (or leaving the ``with`` block) has waited for it; the last batch goes from the
    caller's thread. A batch closes at
    ``chunk`` rows or ``max_bytes`` of stored forms, whichever comes first: deep vectors run to
    kilobytes, and a batch is held three times over while it is sent."""

    _statement = text(
        """
        UPDATE artifacts AS a SET
            composition = v.composition,
            composition_packed = substring(
                CAST(:packed AS bytea) FROM v.packed_from FOR v.packed_length),
            total_amount = v.total_amount,
            weights_assumed = v.weights_assumed,
            human_fraction = v.human_fraction,
            synthetic_fraction = v.synthetic_fraction,
            unknown_fraction = v.unknown_fraction,
            composition_stale = v.stale,
            composition_updated_at = clock_timestamp()
        FROM ROWS FROM (
            unnest(CAST(:ids AS uuid[])),
            jsonb_array_elements(CAST(:compositions AS jsonb)),
            unnest(CAST(:packed_from AS int[])),
            unnest(CAST(:packed_lengths AS int[])),
            unnest(CAST(:totals AS double precision[])),
            unnest(CAST(:assumed AS boolean[])),
            unnest(CAST(:human AS double precision[])),
            unnest(CAST(:synthetic AS double precision[])),
            unnest(CAST(:unknown AS double precision[])),
            unnest(CAST(:stale AS boolean[]))
        ) AS v(
            id, composition, packed_from, packed_length, total_amount, weights_assumed,
            human_fraction, synthetic_fraction, unknown_fraction, stale)
        WHERE a.id = v.id AND (
            -- the cheapest first: a job's rows all read stale, so their stored JSON need not be
            -- read back and compared
            a.composition_stale IS DISTINCT FROM v.stale
            OR a.total_amount IS DISTINCT FROM v.total_amount
            OR a.weights_assumed IS DISTINCT FROM v.weights_assumed
            OR a.composition IS DISTINCT FROM v.composition)
        RETURNING a.id, a.composition_updated_at
        """
    )

    def __init__(
        self, session: Session, chunk: int = WRITE_CHUNK, max_bytes: int | None = None
    ) -> None:
        self.session = session
        self.chunk = chunk
        self.max_bytes = WRITE_BYTES if max_bytes is None else max_bytes
        self.pending: list[CompositionRow] = []
        self.pending_bytes = 0
        self.changed: dict[uuid.UUID, datetime] = {}
        self._sender: ThreadPoolExecutor | None = None  # started by the first batch sent
        self._sending: Future[None] | None = None

    def __enter__(self) -> CompositionWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        if kind is None:
            self.close()
            return
        # the session is about to roll back: the batch in flight must be done with it first (its
        # own error, if any, is beside the point now)
        self._sending = None
        self._stop_sender()

    def add(self, row: CompositionRow) -> None:
        self.pending.append(row)
        self.pending_bytes += len(row.composition) + len(row.composition_packed)
        if len(self.pending) >= self.chunk or self.pending_bytes >= self.max_bytes:
            parameters = self._taken()
            self.wait()
            if self._sender is None:
                self._sender = ThreadPoolExecutor(1, thread_name_prefix="composition-writer")
            self._sending = self._sender.submit(self._send, parameters)

    def close(self) -> None:
        """Write what is pending and wait until every batch is written; ``changed`` is then
        complete. The last batch is sent from the caller's thread: nothing is left to compute
        beside it, and a write of a few nodes then starts no thread at all."""
        try:
            self.wait()
            if self.pending:
                self._send(self._taken())
        finally:
            self._stop_sender()

    def _taken(self) -> dict[str, Any]:
        """The pending rows as the statement's parameters; nothing is pending after."""
        rows = self.pending
        self.pending = []
        self.pending_bytes = 0
        packed = [r.composition_packed for r in rows]
        return {
            "ids": [r.id for r in rows],
            # one JSON array rather than an array of JSON texts, which would be escaped
            "compositions": "[" + ",".join(r.composition for r in rows) + "]",
            # one byte string with each row's place in it: an array of byte strings
            # travels as text, hex-escaped element by element (fifteen times the work)
            "packed": b"".join(packed),
            "packed_from": list(itertools.accumulate((len(p) for p in packed[:-1]), initial=1)),
            "packed_lengths": [len(p) for p in packed],
            "totals": [r.total_amount for r in rows],
            "assumed": [r.weights_assumed for r in rows],
            "human": [r.human_fraction for r in rows],
            "synthetic": [r.synthetic_fraction for r in rows],
            "unknown": [r.unknown_fraction for r in rows],
            "stale": [r.stale for r in rows],
        }

    def _send(self, parameters: dict[str, Any]) -> None:
        result = self.session.execute(self._statement, parameters)
        self.changed.update((row[0], row[1]) for row in result)

    def wait(self) -> None:
        """Until the batch in flight (if any) is written: the session is the caller's again."""
        if self._sending is not None:
            sending, self._sending = self._sending, None
            sending.result()

    def _stop_sender(self) -> None:
        if self._sender is not None:
            self._sender.shutdown(wait=True)
            self._sender = None
