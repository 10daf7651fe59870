"""Every valid event of the shared corpus of real OpenLineage events is accepted, and none,
valid or not, one at a time or in batches, gets a 5xx."""

from __future__ import annotations

from collections import Counter

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.graph_check import check_graph
from tests.lineage import corpus


def test_every_valid_corpus_event_is_accepted(client: TestClient, session: Session) -> None:
    answers: Counter[int] = Counter()
    refused: list[str] = []
    for path, body in corpus.events():
        response = client.post("/api/v1/lineage", json=body)
        answers[response.status_code] += 1
        assert response.status_code < 500, (path, response.text)
        if response.status_code not in (200, 201) and path not in corpus.MAY_BE_REJECTED:
            refused.append(f"{path}: {response.status_code} {response.text[:300]}")
    assert not refused, "\n".join(refused)
    assert sum(answers.values()) == 426
    assert answers[201] > 400, answers
    check_graph(session)


def test_the_corpus_in_batches_is_no_5xx_either(client: TestClient) -> None:
    bodies = [body for _, body in corpus.events()]
    for start in range(0, len(bodies), 100):
        response = client.post("/api/v1/lineage/batch", json=bodies[start : start + 100])
        assert response.status_code in (200, 207), response.text[:500]
