"""Re-judging outside the write: a change that reaches more training runs than the inline limit
leaves them queued, their verdicts reading ``rejudging``, until a worker judges them in order."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.config import get_settings
from app.training import service as training_service
from tests import graph_check
from tests.training.test_corrections import Pipeline


@pytest.fixture
def inline_limit(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    yield monkeypatch
    get_settings.cache_clear()


def test_a_queued_run_reads_rejudging_until_a_worker_judges_it(
    client: TestClient, session: Session, inline_limit: pytest.MonkeyPatch
) -> None:
    pipeline = Pipeline(client)
    corpus = pipeline.dataset("corpus", size=1000, origin={"human": 1.0})
    first = pipeline.model("lm", corpus)
    # the second generation is trained on the first's output: its run is judged after the first's
    generated = client.post(
        "/api/v1/datasets",
        json={
            "namespace": pipeline.namespace,
            "name": "generated",
            "version": "1",
            "size": 500,
            "parents": [{"id": pipeline.run(first)["model"]["id"], "relation": "generated_by"}],
        },
    ).json()
    second = pipeline.model("lm", corpus, generated, version="2")
    before = {run_id: pipeline.run(run_id)["verdict"] for run_id in (first, second)}
    assert before[first] == "pass"
    assert pipeline.run(second)["rejudging"] is False

    inline_limit.setenv("HEADWATER_REJUDGE_INLINE_LIMIT", "0")
    get_settings.cache_clear()
    pipeline.correct(corpus, "it was generated", synthetic=1.0)

    for run_id in (first, second):
        waiting = pipeline.run(run_id)
        assert waiting["rejudging"] is True
        assert waiting["verdict"] == before[run_id]  # the verdict before the change, said so
    listed = client.get("/api/v1/training-runs").json()["items"]
    assert {item["rejudging"] for item in listed} == {True}

    assert training_service.rejudge_pending(session) == 2
    assert training_service.rejudge_pending(session) == 0
    for run_id in (first, second):
        judged = pipeline.run(run_id)
        assert judged["rejudging"] is False
        assert judged["verdict"] == "fail"
        assert judged["history"][-1]["cause"].startswith("origin of")
    assert graph_check.verdict_mismatches(session, [pipeline.namespace]) == []
