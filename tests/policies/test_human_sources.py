"""The human sources a remediation names: the largest, leaving out the training set's own."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import pytest

from app.policies import repository
from app.policies import service as policy_service


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
