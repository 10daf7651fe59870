"""The human sources a remediation names: the largest all-human dataset versions, newest first
among equals, read from an index that no composition write touches (on the database); and how
the service's reads of them leave out the training set's own."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.policies import repository
from app.policies import service as policy_service
from tests.artifacts.test_api import dataset

# larger than any other dataset version a test records, so that these come first
HUGE = 1e15


def named(session: Session, exclude: list[str] | None = None, limit: int = 10) -> list[str]:
    found = repository.human_sources(session, [uuid.UUID(i) for i in exclude or []], limit)
    return [source.name for source in found if source.size is not None and source.size >= HUGE]


def test_the_largest_all_human_versions_come_first_newest_first_among_equals(
    client: TestClient, session: Session
) -> None:
    dataset(client, "books", size=HUGE + 3, origin={"human": 1})
    dataset(client, "synthetic", size=HUGE + 9, origin={"synthetic": 1})
    dataset(client, "mostly-human", size=HUGE + 8, origin={"human": 0.99, "unknown": 0.01})
    dataset(client, "papers", size=HUGE + 3, origin={"human": 1})
    wiki = dataset(client, "wiki", size=HUGE + 5, origin={"human": 1})
    dataset(client, "empty", size=0, origin={"human": 1})

    assert named(session) == ["wiki", "papers", "books"]
    assert named(session, limit=2) == ["wiki", "papers"]
    assert named(session, exclude=[wiki["id"]]) == ["papers", "books"]


def test_a_correction_moves_a_version_in_or_out_of_the_candidates(
    client: TestClient, session: Session
) -> None:
    books = dataset(client, "books", size=HUGE + 2, origin={"human": 1})
    dataset(
        client, "derived", size=HUGE + 1, parents=[{"id": books["id"], "relation": "derived_from"}]
    )
    web = dataset(client, "web", size=HUGE + 3, origin={"human": 0.5, "unknown": 0.5})
    assert named(session) == ["books", "derived"]

    for corrected, origin in ((books, {"unknown": 1.0}), (web, {"human": 1.0})):
        response = client.put(f"/api/v1/datasets/{corrected['id']}/origin", json=origin)
        assert response.status_code == 200, response.text
    session.expire_all()
    assert named(session) == ["web"]


# --- the service's reads: one when few of the largest are left out ---------------------------


def largest_first(count: int) -> list[repository.HumanSource]:
    return [
        repository.HumanSource(uuid.uuid4(), "s3://corpora", f"source-{i}", "v1", 1000.0 - i)
        for i in range(count)
    ]


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> tuple[list[repository.HumanSource], list[int]]:
    """The recorded human sources, and the limit of each read of them."""
    recorded = largest_first(40)
    limits: list[int] = []

    def human_sources(
        session: Any, exclude: Sequence[uuid.UUID], limit: int
    ) -> list[repository.HumanSource]:
        limits.append(limit)
        return recorded[:limit]

    monkeypatch.setattr(repository, "human_sources", human_sources)
    return recorded, limits


def shared() -> policy_service.SharedReads:
    return policy_service.SharedReads(session=None, runs=lambda session, ids: {})  # type: ignore[arg-type]


def test_a_few_of_the_largest_left_out_take_one_read(
    reads: tuple[list[repository.HumanSource], list[int]],
) -> None:
    recorded, limits = reads
    left_out = [recorded[0].id, recorded[3].id, recorded[9].id]
    found = shared().human_sources(left_out, 10)
    assert found == [s for s in recorded if s.id not in left_out][:10]
    assert limits == [13]


def test_more_of_the_largest_left_out_than_the_first_read_covers_take_another(
    reads: tuple[list[repository.HumanSource], list[int]],
) -> None:
    recorded, limits = reads
    left_out = [s.id for s in recorded[:15]]
    found = shared().human_sources(left_out, 10)
    assert found == recorded[15:25]
    assert limits == [20, 25]


def test_none_left_out_reads_only_the_limit(
    reads: tuple[list[repository.HumanSource], list[int]],
) -> None:
    recorded, limits = reads
    assert shared().human_sources([], 10) == recorded[:10]
    assert limits == [10]
