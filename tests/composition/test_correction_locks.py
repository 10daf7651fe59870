"""An origin correction, a later edge and a retraction each lock their subgraph once, and
flipping the stale flag of a large correction touches no index."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from app import writes
from app.artifacts.schemas import DatasetCreate, OriginIn, ParentIn
from app.auth.core import NOBODY_IN_PARTICULAR as ANYONE
from app.config import get_settings
from app.lineage.models import Edge
from app.lineage.schemas import EdgeCreate, EdgeEnd


def chain(session: Session, length: int) -> list[uuid.UUID]:
    ids: list[uuid.UUID] = []
    for i in range(length):
        node, _ = writes.register_dataset(
            session,
            DatasetCreate(
                namespace="s3://locks",
                name=f"n{i}",
                version="1",
                size=10,
                origin=OriginIn(human=1) if not ids else None,
                parents=[ParentIn(id=ids[-1], relation="derived_from")] if ids else [],
            ),
            actor=ANYONE,
        )
        ids.append(node.id)
    return ids


def locking_statements(session: Session) -> tuple[list[str], Any]:
    seen: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "FOR NO KEY UPDATE" in statement:
            seen.append(statement)

    connection = session.connection()
    event.listen(connection, "before_cursor_execute", before)
    return seen, lambda: event.remove(connection, "before_cursor_execute", before)


@pytest.fixture(params=["inline", "deferred"])
def inline_limit(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if request.param == "deferred":
        monkeypatch.setenv("HEADWATER_PROPAGATION_INLINE_LIMIT", "2")
    get_settings.cache_clear()
    yield str(request.param)
    get_settings.cache_clear()


def test_a_correction_walks_and_locks_its_subgraph_once(
    session: Session, inline_limit: str
) -> None:
    ids = chain(session, 5)
    seen, stop = locking_statements(session)
    try:
        writes.correct_origin(session, ids[0], OriginIn(synthetic=1), "relabelled", actor=ANYONE)
    finally:
        stop()
    assert len(seen) == 1, seen
    stale, synthetic = session.execute(
        text("SELECT composition_stale, synthetic_fraction FROM artifacts WHERE id = :id"),
        {"id": ids[-1]},
    ).one()
    assert (stale, synthetic) == ((True, 0.0) if inline_limit == "deferred" else (False, 1.0))


def test_no_index_reads_the_stale_flag(session: Session) -> None:
    """An index on composition_stale (or with it in its predicate) makes every flip of the
    flag, tens of thousands for one large correction, a non-HOT update of every index."""
    definitions = session.execute(
        text("SELECT indexdef FROM pg_indexes WHERE tablename = 'artifacts'")
    ).scalars()
    assert [d for d in definitions if "composition_stale" in d] == []


def fractions(session: Session, node: uuid.UUID) -> tuple[bool, float, float]:
    stale, human, synthetic = session.execute(
        text(
            "SELECT composition_stale, human_fraction, synthetic_fraction"
            " FROM artifacts WHERE id = :id"
        ),
        {"id": node},
    ).one()
    return stale, human, synthetic


def once(session: Session, write: Any) -> None:
    seen, stop = locking_statements(session)
    try:
        write()
    finally:
        stop()
    assert len(seen) == 1, seen


def test_a_later_edge_locks_its_childs_subgraph_once(session: Session) -> None:
    ids = chain(session, 5)
    generated, _ = writes.register_dataset(
        session,
        DatasetCreate(
            namespace="s3://locks",
            name="generated",
            version="1",
            size=10,
            origin=OriginIn(synthetic=1),
        ),
        actor=ANYONE,
    )
    body = EdgeCreate(
        child=EdgeEnd(id=ids[1]), parent=EdgeEnd(id=generated.id), relation="derived_from"
    )
    once(session, lambda: writes.add_edge(session, body, actor=ANYONE))
    assert fractions(session, ids[-1]) == (False, 0.5, 0.5)


def test_a_retracted_edge_locks_its_childs_subgraph_once(session: Session) -> None:
    ids = chain(session, 5)
    edge = session.query(Edge).filter_by(child_id=ids[1], parent_id=ids[0]).one()
    once(session, lambda: writes.retract_edge(session, edge.id, "wrong", actor=ANYONE))
    stale, human, _ = fractions(session, ids[-1])
    assert (stale, human) == (False, 0.0)


def test_a_retracted_version_locks_its_subgraph_once(session: Session) -> None:
    ids = chain(session, 5)
    once(session, lambda: writes.retract_version(session, ids[1], "dataset", "bad", actor=ANYONE))
    stale, human, _ = fractions(session, ids[-1])
    assert (stale, human) == (False, 0.0)
