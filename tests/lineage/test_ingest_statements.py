"""How many SQL statements recording an OpenLineage event takes: each round trip is paid by
every event a pipeline sends, so the count is held here (not the time, which belongs to
``benchmarks``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from app import writes
from app.auth.core import NOBODY_IN_PARTICULAR as ANYONE
from tests.lineage.test_batch_ingest import dataset, origin, run


@contextmanager
def counted(session: Session) -> Iterator[list[str]]:
    statements: list[str] = []
    engine = session.get_bind()

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def shown(statements: list[str]) -> str:
    return "\n".join(" ".join(s.split())[:90] for s in statements)


def started_run(session: Session, *, amounts: bool) -> tuple[str, dict[str, Any]]:
    """A recorded source and a new run's START reading it into a new version (not yet sent)."""
    source = run([], [dataset("source", 100, output=True, facets=origin(1.0))])
    writes.ingest(session, source, actor=ANYONE)
    run_id = str(uuid.uuid4())
    start = run([dataset("source", 100, output=False)], [dataset("made", 50, output=True)])
    start |= {"eventType": "START", "run": {"runId": run_id}}
    if not amounts:
        for named in (*start["inputs"], *start["outputs"]):
            named.pop("inputFacets", None)
            named.pop("outputFacets", None)
    session.flush()
    return run_id, start


def test_a_run_writing_a_new_version_takes_few_statements(session: Session) -> None:
    _, start = started_run(session, amounts=True)

    with counted(session) as statements:
        result = writes.ingest(session, start, actor=ANYONE)

    assert result.status == "accepted"
    # the savepoint and its release; the run and the new version locked together; the event
    # stored; aliases, versions, the new one inserted; retractions, the parent locked for
    # reading, the edge inserted (no edge into a version this transaction just made to read);
    # the propagation's five; before: 18
    assert len(statements) <= 15, shown(statements)


def test_a_run_completing_with_amounts_reads_its_edges_once(session: Session) -> None:
    run_id, start = started_run(session, amounts=False)
    writes.ingest(session, start, actor=ANYONE)
    session.commit()  # the next event's transaction did not create the output
    complete = run([dataset("source", 80, output=False)], [dataset("made", 80, output=True)])
    complete["run"] = {"runId": run_id}

    with counted(session) as statements:
        result = writes.ingest(session, complete, actor=ANYONE)

    assert result.status == "accepted"
    edge_reads = [s for s in statements if " ".join(s.split()).startswith("SELECT edges.id")]
    assert len(edge_reads) == 1, shown(statements)
